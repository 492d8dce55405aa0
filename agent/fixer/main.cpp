// qharden-fixer: the privileged half of qhardend. It reads one request from
// standard input (a socket: the connection systemd accepted on
// qharden-fixer.socket, or the socketpair qhardend made when it started this
// program itself), does that one thing, writes the response to standard
// output and exits. Every call is logged on stderr (the journal under
// systemd); applies and rollbacks are also in the change journal.
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "fixer/confine.h"
#include "fixer/protocol.h"
#include "fixer/serve.h"

namespace {

using qharden::fixer::kMaximumMessageBytes;

void log_line(const std::string& text) {
  std::fprintf(stderr, "qharden-fixer[%d]: %s\n", static_cast<int>(::getpid()), text.c_str());
}

// The peer's uid, when the request comes over a socket.
std::optional<uid_t> peer_uid(int descriptor) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return std::nullopt;
  }
  return credentials.uid;
}

// Until end of input; a peer that sends nothing for this long is gone.
constexpr int kReadQuietMilliseconds = 30000;

qharden::Expected<std::string> read_request(int descriptor) {
  std::string text;
  char buffer[65536];
  for (;;) {
    pollfd waiting{descriptor, POLLIN, 0};
    int ready = ::poll(&waiting, 1, kReadQuietMilliseconds);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return qharden::fail_with("no complete request within 30 s");
    ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (count < 0) return qharden::fail_with(std::string("read: ") + std::strerror(errno));
    if (count == 0) return text;
    text.append(buffer, static_cast<std::size_t>(count));
    if (text.size() > kMaximumMessageBytes) return qharden::fail_with("request too large");
  }
}

void drain(int descriptor) {
  char buffer[65536];
  std::size_t total = 0;
  pollfd waiting{descriptor, POLLIN, 0};
  while (total < (1U << 20) && ::poll(&waiting, 1, 2000) > 0) {
    ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count <= 0) break;
    total += static_cast<std::size_t>(count);
  }
}

bool write_all(int descriptor, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t count = ::write(descriptor, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return false;
    written += static_cast<std::size_t>(count);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  qharden::fixer::FixerSettings settings;
  std::vector<std::string> allowed_users;
  CLI::App app{
      "qharden-fixer: applies, rolls back and re-applies qharden's fixes for qhardend, one "
      "request per run (on standard input and output)",
      "qharden-fixer"};
  app.set_version_flag("--version", std::string("qharden-fixer ") + QHARDEN_VERSION);
  app.add_option("--root", settings.root, "Fix the tree under DIR as if it were /")
      ->type_name("DIR");
  app.add_option("--config", settings.config_file,
                 "Override the built-in defaults with FILE (default /etc/qharden/qharden.toml)")
      ->type_name("FILE");
  app.add_option("--allow-user", allowed_users,
                 "Also serve this user (qhardend's); root and the fixer's own user always are")
      ->type_name("NAME");
  std::string serves = "all";
  app.add_option("--serve", serves,
                 "fixes (apply, rollback), reads (netfilter, other users' /proc) or all; keeps "
                 "only the capabilities of that part")
      ->check(CLI::IsMember({"fixes", "reads", "all"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 3;
  }

  auto started = std::chrono::steady_clock::now();
  settings.serves = serves == "fixes"   ? qharden::fixer::Serves::fixes
                    : serves == "reads" ? qharden::fixer::Serves::reads
                                        : qharden::fixer::Serves::all;
  // The protocol's descriptors are set aside and 0/1 pointed elsewhere, so a
  // stray write by anything the fixer runs cannot corrupt the response.
  int request_descriptor = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  int response_descriptor = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (request_descriptor < 0 || response_descriptor < 0) {
    log_line(std::string("no request channel: ") + std::strerror(errno));
    return 1;
  }
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  int null_input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_input >= 0) {
    ::dup2(null_input, STDIN_FILENO);
    ::close(null_input);
  }

  if (qharden::Outcome confined =
          qharden::fixer::confine_fixer(qharden::fixer::kTimeLimit, settings.serves);
      !confined) {
    log_line(confined.error().message);
    write_all(response_descriptor, qharden::fixer::encode_error(confined.error().message));
    return 1;
  }

  std::optional<uid_t> peer = peer_uid(request_descriptor);
  if (peer && *peer != 0 && *peer != ::geteuid()) {
    bool allowed = false;
    for (const std::string& name : allowed_users) {
      const passwd* entry = ::getpwnam(name.c_str());
      if (entry != nullptr && entry->pw_uid == *peer) allowed = true;
    }
    if (!allowed) {
      std::string refusal = "uid " + std::to_string(*peer) + " may not use the fixer";
      log_line("refused: " + refusal);
      write_all(response_descriptor, qharden::fixer::encode_error(refusal));
      // Closing with the request unread would reset the connection before the
      // peer reads why; what it sent is read and dropped, within bounds.
      ::shutdown(response_descriptor, SHUT_WR);
      drain(request_descriptor);
      return 1;
    }
  }

  try {
    qharden::Expected<std::string> request = read_request(request_descriptor);
    // The agent starts a fixer ahead of a drift it may not confirm
    // (daemon/fixer_client.h): closed without a request, there is nothing to do
    // and nothing to log.
    if (request && request->empty()) return 0;
    qharden::fixer::Served served;
    if (!request) {
      served = {qharden::fixer::encode_error(request.error().message),
                "refused: " + request.error().message};
    } else {
      served = qharden::fixer::serve_request(*request, settings);
    }
    bool sent = write_all(response_descriptor, served.response);
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    log_line(served.summary + " (uid " + (peer ? std::to_string(*peer) : std::string("?")) + ", " +
             std::to_string(elapsed.count()) + " ms" +
             (sent ? "" : ", the agent was gone before the answer") + ")");
    return sent ? 0 : 1;
  } catch (const std::exception& exception) {
    log_line(std::string("internal error: ") + exception.what());
    write_all(response_descriptor, qharden::fixer::encode_error(exception.what()));
    return 1;
  }
}
