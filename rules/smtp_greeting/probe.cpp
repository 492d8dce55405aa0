#include "smtp_greeting/probe.h"

#include "host/socket_waiter.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace qharden {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaximumReplyBytes = 64 * 1024;

// A TLS 1.2 ClientHello that any TLS server answers, with a ServerHello or an
// alert. Only the timing of that first answer matters, so the random is fixed.
std::string client_hello() {
  std::string body;
  body += std::string("\x03\x03", 2);                                   // client_version TLS 1.2
  body += std::string(32, '\x5a');                                      // random
  body += std::string("\x00", 1);                                       // no session id
  body += std::string("\x00\x08\xc0\x2f\xc0\x30\x00\x9c\x00\x2f", 10);  // cipher suites
  body += std::string("\x01\x00", 2);                                   // compression: null
  std::string extensions;
  extensions += std::string("\x00\x0a\x00\x06\x00\x04\x00\x1d\x00\x17", 10);  // x25519, P-256
  extensions += std::string("\x00\x0b\x00\x02\x01\x00", 6);                   // uncompressed points
  extensions += std::string("\x00\x0d\x00\x06\x00\x04\x04\x01\x08\x04", 10);  // rsa sha256, pss
  body += static_cast<char>(extensions.size() >> 8);
  body += static_cast<char>(extensions.size() & 0xff);
  body += extensions;
  std::string handshake = std::string("\x01", 1);
  handshake += static_cast<char>(0);
  handshake += static_cast<char>(body.size() >> 8);
  handshake += static_cast<char>(body.size() & 0xff);
  handshake += body;
  std::string record = std::string("\x16\x03\x01", 3);
  record += static_cast<char>(handshake.size() >> 8);
  record += static_cast<char>(handshake.size() & 0xff);
  return record + handshake;
}

struct Probe {
  const GreetingTarget* target = nullptr;
  GreetingResult result;
  int descriptor = -1;
  bool connected = false;
  bool done = false;
  std::string received;
  std::string pending_send;  // the ClientHello, then QUIT
};

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void finish(Probe& probe, GreetingOutcome outcome, Clock::time_point start,
            std::string error = {}) {
  probe.result.outcome = outcome;
  probe.result.milliseconds = milliseconds_since(start);
  probe.result.error = std::move(error);
  probe.done = true;
}

// A reply is complete at a line "NNN " (or a bare "NNN"); "NNN-" lines continue it.
bool reply_complete(const std::string& received) {
  std::size_t line_start = 0;
  while (true) {
    std::size_t end = received.find('\n', line_start);
    if (end == std::string::npos) return false;
    std::string_view line(received.data() + line_start, end - line_start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 4 || line[3] != '-') return true;
    line_start = end + 1;
  }
}

std::string first_line(const std::string& received) {
  std::string line = received.substr(0, received.find('\n'));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > 200) line.resize(200);
  for (char& character : line) {
    if (static_cast<unsigned char>(character) < 0x20 || character == 0x7f) character = '?';
  }
  return line;
}

void on_readable(Probe& probe, Clock::time_point start) {
  char buffer[4096];
  while (true) {
    ssize_t count = ::recv(probe.descriptor, buffer, sizeof buffer, 0);
    if (count > 0) {
      probe.received.append(buffer, static_cast<std::size_t>(count));
      if (probe.target->implicit_tls) {
        finish(probe, GreetingOutcome::tls_answered, start);
        return;
      }
      if (reply_complete(probe.received)) {
        probe.result.reply = first_line(probe.received);
        bool greeted = probe.result.reply.rfind("220", 0) == 0;
        finish(probe, greeted ? GreetingOutcome::greeted : GreetingOutcome::other_reply, start);
        // Polite, and it spares the server a "lost connection" log line; the
        // answer is not awaited.
        (void)::send(probe.descriptor, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
        return;
      }
      if (probe.received.size() > kMaximumReplyBytes) {
        probe.result.reply = first_line(probe.received);
        finish(probe, GreetingOutcome::other_reply, start, "no end of reply in 64 KiB");
        return;
      }
      continue;
    }
    if (count == 0) {
      probe.result.reply = first_line(probe.received);
      finish(probe, GreetingOutcome::closed, start, "the server closed the connection");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    finish(probe, GreetingOutcome::closed, start, std::strerror(errno));
    return;
  }
}

void on_connected(Probe& probe, Clock::time_point start) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(probe.descriptor, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    finish(probe, GreetingOutcome::refused, start, std::strerror(error));
    return;
  }
  probe.connected = true;
}

void flush_send(Probe& probe, Clock::time_point start) {
  while (!probe.pending_send.empty()) {
    ssize_t count = ::send(probe.descriptor, probe.pending_send.data(), probe.pending_send.size(),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (count > 0) {
      probe.pending_send.erase(0, static_cast<std::size_t>(count));
      continue;
    }
    if (count < 0 && errno == EINTR) continue;
    if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    finish(probe, GreetingOutcome::closed, start, std::strerror(errno));
    return;
  }
}

void start_probe(Probe& probe, Clock::time_point start) {
  const GreetingTarget& target = *probe.target;
  probe.descriptor =
      ::socket(target.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe.descriptor < 0) {
    finish(probe, GreetingOutcome::refused, start, std::strerror(errno));
    return;
  }
  if (target.implicit_tls) probe.pending_send = client_hello();
  int status = ::connect(probe.descriptor, reinterpret_cast<const sockaddr*>(&target.address),
                         target.address_length);
  if (status == 0) {
    probe.connected = true;
  } else if (errno != EINPROGRESS) {
    finish(probe, GreetingOutcome::refused, start, std::strerror(errno));
  }
}

}  // namespace

std::vector<GreetingResult> probe_greetings(
    const std::vector<GreetingTarget>& targets, std::int64_t give_up_milliseconds,
    const std::function<void(const std::string&, double)>& progress) {
  Clock::time_point start = Clock::now();
  std::vector<Probe> probes(targets.size());
  for (std::size_t index = 0; index < targets.size(); ++index) {
    probes[index].target = &targets[index];
    start_probe(probes[index], start);
  }
  double next_progress_ms = 1000;
  while (true) {
    std::vector<pollfd> waiting;
    std::vector<Probe*> owners;
    for (Probe& probe : probes) {
      if (probe.done) continue;
      short events = POLLIN;
      if (!probe.connected || !probe.pending_send.empty()) events |= POLLOUT;
      waiting.push_back(pollfd{probe.descriptor, events, 0});
      owners.push_back(&probe);
    }
    if (waiting.empty()) break;
    double elapsed = milliseconds_since(start);
    if (elapsed >= static_cast<double>(give_up_milliseconds)) {
      for (Probe* probe : owners) {
        probe->result.reply = first_line(probe->received);
        finish(*probe, GreetingOutcome::gave_up, start);
      }
      break;
    }
    if (progress && elapsed >= next_progress_ms) {
      progress(owners.front()->target->label, elapsed / 1000);
      next_progress_ms = elapsed + 1000;
    }
    double until_give_up = static_cast<double>(give_up_milliseconds) - elapsed;
    double until_progress = progress ? std::max(0.0, next_progress_ms - elapsed) : until_give_up;
    int timeout = static_cast<int>(std::min(until_give_up, until_progress)) + 1;
    int ready = socket_waiter().wait(waiting.data(), waiting.size(), timeout);
    if (ready < 0 && errno == ECANCELED) {
      for (Probe* probe : owners) {
        finish(*probe, GreetingOutcome::gave_up, start, kWaitCancelledReason);
      }
      break;
    }
    if (ready < 0 && errno != EINTR) {
      for (Probe* probe : owners)
        finish(*probe, GreetingOutcome::refused, start, std::strerror(errno));
      break;
    }
    for (std::size_t index = 0; ready > 0 && index < waiting.size(); ++index) {
      Probe& probe = *owners[index];
      short revents = waiting[index].revents;
      if (revents == 0) continue;
      if (!probe.connected) {
        on_connected(probe, start);
        if (probe.done) continue;
      }
      if (!probe.pending_send.empty()) flush_send(probe, start);
      if (!probe.done && (revents & (POLLIN | POLLHUP | POLLERR))) on_readable(probe, start);
    }
  }
  std::vector<GreetingResult> results;
  for (Probe& probe : probes) {
    if (probe.descriptor >= 0) ::close(probe.descriptor);
    results.push_back(std::move(probe.result));
  }
  return results;
}

}  // namespace qharden
