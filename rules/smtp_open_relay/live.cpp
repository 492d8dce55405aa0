#include "smtp_open_relay/live.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "host/socket_waiter.h"

namespace qharden {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaximumReplyBytes = 64 * 1024;

enum class Stage { connecting, greeting, ehlo, mail, rcpt, done };

struct Session {
  const RelayProbeTarget* target = nullptr;
  RelayProbeResult result;
  int descriptor = -1;
  Stage stage = Stage::connecting;
  std::string received;
  std::string pending;
};

std::string printable_line(std::string line) {
  if (line.size() > 200) line.resize(200);
  for (char& character : line) {
    unsigned char byte = static_cast<unsigned char>(character);
    if (byte < 0x20 || byte == 0x7f) character = '?';
  }
  return line;
}

double elapsed_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void finish(Session& session, RelayProbeOutcome outcome, Clock::time_point start,
            std::string error = {}) {
  session.result.outcome = outcome;
  session.result.milliseconds = elapsed_ms(start);
  if (!error.empty()) session.result.error = std::move(error);
  session.stage = Stage::done;
}

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::greeting:
      return "greeting";
    case Stage::ehlo:
      return "EHLO";
    case Stage::mail:
      return "MAIL";
    case Stage::rcpt:
      return "RCPT";
    default:
      return "connect";
  }
}

int code_of(const std::string& reply) {
  if (reply.size() < 3 || !std::all_of(reply.begin(), reply.begin() + 3, ::isdigit)) return 0;
  return std::stoi(reply.substr(0, 3));
}

void on_reply(Session& session, const std::string& reply, const std::string& rcpt_to,
              Clock::time_point start) {
  int code = code_of(reply);
  switch (session.stage) {
    case Stage::greeting:
      session.result.greeting = reply;
      break;
    case Stage::ehlo:
      session.result.ehlo_reply = reply;
      break;
    case Stage::mail:
      session.result.mail_reply = reply;
      break;
    case Stage::rcpt:
      session.result.rcpt_reply = reply;
      break;
    default:
      break;
  }
  session.result.stage = stage_name(session.stage);
  session.result.reply_code = code;
  if (code < 200 || code >= 600) {
    finish(session, RelayProbeOutcome::inconclusive, start, "not an SMTP reply: " + reply);
    return;
  }
  if (code >= 400) {
    session.pending = "QUIT\r\n";
    finish(session, RelayProbeOutcome::refused, start);
    return;
  }
  switch (session.stage) {
    case Stage::greeting:
      session.pending = "EHLO qharden.invalid\r\n";
      session.stage = Stage::ehlo;
      break;
    case Stage::ehlo:
      session.pending = "MAIL FROM:<>\r\n";
      session.stage = Stage::mail;
      break;
    case Stage::mail:
      session.pending = "RCPT TO:<" + rcpt_to + ">\r\n";
      session.stage = Stage::rcpt;
      break;
    case Stage::rcpt:
      // Accepted: leave without DATA, so nothing is queued.
      session.pending = "RSET\r\nQUIT\r\n";
      finish(session, RelayProbeOutcome::accepted, start);
      break;
    default:
      break;
  }
}

void flush(Session& session) {
  while (!session.pending.empty()) {
    ssize_t count = ::send(session.descriptor, session.pending.data(), session.pending.size(),
                           MSG_NOSIGNAL | MSG_DONTWAIT);
    if (count > 0) {
      session.pending.erase(0, static_cast<std::size_t>(count));
      continue;
    }
    if (count < 0 && errno == EINTR) continue;
    return;  // full or broken: the read side reports a broken connection
  }
}

void on_readable(Session& session, const std::string& rcpt_to, Clock::time_point start) {
  char buffer[4096];
  while (session.stage != Stage::done) {
    ssize_t count = ::recv(session.descriptor, buffer, sizeof buffer, MSG_DONTWAIT);
    if (count > 0) {
      session.received.append(buffer, static_cast<std::size_t>(count));
      std::size_t consumed = 0;
      std::string reply;
      while (session.stage != Stage::done &&
             !(reply = complete_reply(session.received, consumed)).empty()) {
        session.received.erase(0, consumed);
        on_reply(session, printable_line(reply), rcpt_to, start);
      }
      if (session.received.size() > kMaximumReplyBytes) {
        finish(session, RelayProbeOutcome::inconclusive, start, "no end of reply in 64 KiB");
      }
      continue;
    }
    if (count == 0) {
      finish(session, RelayProbeOutcome::inconclusive, start,
             std::string("the server closed the connection at ") + stage_name(session.stage));
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    finish(session, RelayProbeOutcome::inconclusive, start, std::strerror(errno));
    return;
  }
}

void start_session(Session& session, Clock::time_point start) {
  const RelayProbeTarget& target = *session.target;
  session.descriptor =
      ::socket(target.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (session.descriptor < 0) {
    finish(session, RelayProbeOutcome::inconclusive, start, std::strerror(errno));
    return;
  }
  if (target.source_length != 0 &&
      ::bind(session.descriptor, reinterpret_cast<const sockaddr*>(&target.source),
             target.source_length) != 0) {
    finish(session, RelayProbeOutcome::inconclusive, start,
           std::string("binding the source address: ") + std::strerror(errno));
    return;
  }
  if (::connect(session.descriptor, reinterpret_cast<const sockaddr*>(&target.address),
                target.address_length) == 0) {
    session.stage = Stage::greeting;
  } else if (errno != EINPROGRESS) {
    finish(session, RelayProbeOutcome::inconclusive, start,
           std::string("connect: ") + std::strerror(errno));
  }
}

}  // namespace

std::string complete_reply(const std::string& received, std::size_t& consumed) {
  std::size_t line_start = 0;
  while (true) {
    std::size_t end = received.find('\n', line_start);
    if (end == std::string::npos) return "";
    std::string line = received.substr(line_start, end - line_start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() < 4 || line[3] != '-') {
      consumed = end + 1;
      std::string first = received.substr(0, received.find('\n'));
      if (!first.empty() && first.back() == '\r') first.pop_back();
      return first.empty() ? " " : first;
    }
    line_start = end + 1;
  }
}

std::vector<RelayProbeResult> probe_relays(const std::vector<RelayProbeTarget>& targets,
                                           std::int64_t give_up_milliseconds,
                                           const std::string& rcpt_to) {
  Clock::time_point start = Clock::now();
  std::vector<Session> sessions(targets.size());
  for (std::size_t index = 0; index < targets.size(); ++index) {
    sessions[index].target = &targets[index];
    start_session(sessions[index], start);
  }
  while (true) {
    std::vector<pollfd> waiting;
    std::vector<Session*> owners;
    for (Session& session : sessions) {
      if (session.stage == Stage::done) continue;
      short events = POLLIN;
      if (session.stage == Stage::connecting || !session.pending.empty()) events |= POLLOUT;
      waiting.push_back(pollfd{session.descriptor, events, 0});
      owners.push_back(&session);
    }
    if (waiting.empty()) break;
    double elapsed = elapsed_ms(start);
    if (elapsed >= static_cast<double>(give_up_milliseconds)) {
      for (Session* session : owners) {
        finish(*session, RelayProbeOutcome::inconclusive, start,
               std::string("no reply in time at ") + stage_name(session->stage));
      }
      break;
    }
    int timeout = static_cast<int>(static_cast<double>(give_up_milliseconds) - elapsed) + 1;
    int ready = socket_waiter().wait(waiting.data(), waiting.size(), timeout);
    if (ready < 0 && errno == ECANCELED) {
      for (Session* session : owners) {
        finish(*session, RelayProbeOutcome::inconclusive, start, kWaitCancelledReason);
      }
      break;
    }
    if (ready < 0 && errno != EINTR) {
      for (Session* session : owners) {
        finish(*session, RelayProbeOutcome::inconclusive, start, std::strerror(errno));
      }
      break;
    }
    for (std::size_t index = 0; ready > 0 && index < waiting.size(); ++index) {
      Session& session = *owners[index];
      if (waiting[index].revents == 0) continue;
      if (session.stage == Stage::connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(session.descriptor, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          finish(session, RelayProbeOutcome::inconclusive, start,
                 std::string("connect: ") + std::strerror(error));
          continue;
        }
        session.stage = Stage::greeting;
      }
      if (!session.pending.empty()) flush(session);
      if (waiting[index].revents & (POLLIN | POLLHUP | POLLERR)) {
        on_readable(session, rcpt_to, start);
      }
      if (!session.pending.empty()) flush(session);
    }
  }
  for (Session& session : sessions) {
    if (session.descriptor >= 0) {
      if (!session.pending.empty()) flush(session);  // the polite RSET/QUIT, not awaited
      ::close(session.descriptor);
    }
  }
  std::vector<RelayProbeResult> results;
  for (Session& session : sessions) results.push_back(std::move(session.result));
  return results;
}

std::optional<std::string> why_not_a_relay_verdict(const RelayProbeResult& result) {
  if (result.greeting.rfind("220 rblsmtpd.local", 0) == 0) {
    return "rblsmtpd answered instead of qmail-smtpd (the probe's source, this host's own address, "
           "is listed on "
           "one of its zones, or RBLSMTPD is set), so no recipient was judged; probe from an "
           "address that is not listed";
  }
  if (result.stage != "RCPT") {
    return "refused at " + result.stage + ", before any recipient was judged";
  }
  if (result.reply_code < 500) {
    return "a temporary refusal (" + std::to_string(result.reply_code) +
           ") says nothing about relaying: the same RCPT may be accepted later";
  }
  return std::nullopt;
}

}  // namespace qharden
