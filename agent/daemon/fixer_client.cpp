#include "daemon/fixer_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "host/descriptor.h"
#include "host/socket_waiter.h"

extern char** environ;

namespace qharden::agent {
namespace {

Expected<int> connect_socket(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return fail_with(path + ": socket path too long");
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int descriptor = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (descriptor < 0) return fail_with(std::string("socket: ") + std::strerror(errno));
  if (::connect(descriptor, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    int number = errno;
    ::close(descriptor);
    std::string hint;
    if (number == ENOENT || number == ECONNREFUSED) {
      hint = " (is qharden-fixer.socket active? systemctl status qharden-fixer.socket)";
    } else if (number == EACCES) {
      hint = " (qhardend runs as a user the socket's group does not admit)";
    }
    return fail_with("fixer socket " + path + ": " + std::strerror(number) + hint);
  }
  return descriptor;
}

Expected<int> start_program(const FixerEndpoint& endpoint, pid_t& child) {
  int pair[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return fail_with(std::string("socketpair: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pair[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pair[1], STDOUT_FILENO);
  std::vector<std::string> words{endpoint.program};
  words.insert(words.end(), endpoint.arguments.begin(), endpoint.arguments.end());
  std::vector<char*> pointers;
  for (std::string& word : words) pointers.push_back(word.data());
  pointers.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error =
      ::posix_spawn(&pid, endpoint.program.c_str(), &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pair[1]);
  if (spawn_error != 0) {
    ::close(pair[0]);
    return fail_with(endpoint.program + ": " + std::strerror(spawn_error));
  }
  child = pid;
  return pair[0];
}

// Waits for `events` on descriptor through the installed waiter; an error
// names what was being waited for.
Outcome wait_for(int descriptor, short events, std::chrono::steady_clock::time_point deadline,
                 const char* doing) {
  for (;;) {
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0)
      return fail_with(std::string("no answer from the fixer while ") + doing);
    pollfd waiting{descriptor, events, 0};
    int ready = socket_waiter().wait(&waiting, 1, static_cast<int>(remaining.count()));
    if (ready > 0) return Done{};
    if (ready < 0 && errno == ECANCELED) return fail_with(kWaitCancelledReason);
    if (ready < 0 && errno != EINTR) {
      return fail_with(std::string("waiting for the fixer: ") + std::strerror(errno));
    }
  }
}

}  // namespace

// Beside qhardend in a build tree; PREFIX/libexec when installed under any
// prefix (qhardend is in PREFIX/sbin); else where this build would install it.
std::string default_fixer_program() {
  char own[4096] = {};
  ssize_t length = ::readlink("/proc/self/exe", own, sizeof own - 1);
  if (length > 0) {
    std::string path(own, static_cast<std::size_t>(length));
    std::string folder = path.substr(0, path.rfind('/') + 1);
    for (const std::string& candidate :
         {folder + "qharden-fixer", folder + "../" + QHARDEN_LIBEXEC_FOLDER + "/qharden-fixer"}) {
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return QHARDEN_FIXER_PROGRAM;
}

FixerClient::FixerClient(FixerEndpoint endpoint, std::string root,
                         std::optional<std::string> config_file)
    : endpoint_(std::move(endpoint)),
      root_(std::move(root)),
      config_file_(std::move(config_file)) {}

fixer::Request FixerClient::request(fixer::Operation operation, std::string caller) const {
  fixer::Request request;
  request.operation = operation;
  request.root = root_;
  request.config_file = config_file_;
  request.caller = std::move(caller);
  return request;
}

FixerSession::~FixerSession() {
  connection_.reset();
  finish(false);
}

int FixerSession::finish(bool kill_it) {
  if (child_ <= 0) return 0;
  if (kill_it) ::kill(child_, SIGKILL);
  int status = 0;
  for (int attempt = 0;; ++attempt) {
    pid_t done = ::waitpid(child_, &status, attempt < 200 ? WNOHANG : 0);
    if (done == child_ || (done < 0 && errno != EINTR)) break;
    if (attempt == 200) ::kill(child_, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  child_ = -1;
  return status;
}

Expected<std::unique_ptr<FixerSession>> FixerClient::start() const {
  auto session = std::make_unique<FixerSession>();
  Expected<int> opened = endpoint_.socket_path.empty() ? start_program(endpoint_, session->child_)
                                                       : connect_socket(endpoint_.socket_path);
  if (!opened) return Unexpected(opened.error());
  session->connection_.reset(*opened);
  ::fcntl(*opened, F_SETFL, ::fcntl(*opened, F_GETFL) | O_NONBLOCK);
  return session;
}

Expected<std::string> FixerClient::exchange(const fixer::Request& request,
                                            std::chrono::milliseconds timeout,
                                            std::unique_ptr<FixerSession> started) const {
  std::string message = fixer::encode_request(request);
  if (!started) {
    Expected<std::unique_ptr<FixerSession>> opened = start();
    if (!opened) return Unexpected(opened.error());
    started = std::move(*opened);
  }
  FixerSession& session = *started;
  Descriptor& connection = session.connection_;
  auto deadline = std::chrono::steady_clock::now() + timeout;

  std::size_t written = 0;
  while (written < message.size()) {
    ssize_t count =
        ::send(connection.get(), message.data() + written, message.size() - written, MSG_NOSIGNAL);
    if (count >= 0) {
      written += static_cast<std::size_t>(count);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      session.finish(true);
      return fail_with(std::string("sending to the fixer: ") + std::strerror(errno));
    }
    if (Outcome ready = wait_for(connection.get(), POLLOUT, deadline, "sending"); !ready) {
      session.finish(true);
      return Unexpected(ready.error());
    }
  }
  ::shutdown(connection.get(), SHUT_WR);

  std::string response;
  char buffer[65536];
  for (;;) {
    ssize_t count = ::read(connection.get(), buffer, sizeof buffer);
    if (count > 0) {
      response.append(buffer, static_cast<std::size_t>(count));
      if (response.size() > fixer::kMaximumMessageBytes) {
        session.finish(true);
        return fail_with("the fixer's answer is larger than " +
                         std::to_string(fixer::kMaximumMessageBytes) + " bytes");
      }
      continue;
    }
    if (count == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      session.finish(true);
      return fail_with(std::string("reading from the fixer: ") + std::strerror(errno));
    }
    if (Outcome ready = wait_for(connection.get(), POLLIN, deadline, "it worked"); !ready) {
      session.finish(true);
      return Unexpected(ready.error());
    }
  }
  connection.reset();
  int status = session.finish(false);
  if (response.empty()) {
    std::string how = WIFSIGNALED(status)
                          ? "was killed by signal " + std::to_string(WTERMSIG(status))
                          : "exited with " + std::to_string(WEXITSTATUS(status));
    return fail_with("the fixer gave no answer (" +
                     (endpoint_.socket_path.empty() ? endpoint_.program + " " + how
                                                    : "see journalctl -u 'qharden-fixer@*'") +
                     ")");
  }
  return response;
}

Expected<ApplyResult> FixerClient::apply(const std::vector<std::string>& rules, bool named,
                                         bool only_kept, std::string caller,
                                         std::unique_ptr<FixerSession> started) const {
  fixer::Request message = request(fixer::Operation::apply, std::move(caller));
  message.rules = rules;
  message.rules_named = named;
  message.only_kept = only_kept;
  Expected<std::string> response =
      exchange(message, fixer::kTimeLimit + fixer::kClientGrace, std::move(started));
  if (!response) return Unexpected(response.error());
  return fixer::decode_apply_result(*response);
}

Expected<RollbackResult> FixerClient::rollback(const std::string& change_id,
                                               std::string caller) const {
  fixer::Request message = request(fixer::Operation::rollback, std::move(caller));
  message.change_id = change_id;
  Expected<std::string> response = exchange(message, fixer::kTimeLimit + fixer::kClientGrace);
  if (!response) return Unexpected(response.error());
  return fixer::decode_rollback_result(*response);
}

}  // namespace qharden::agent
