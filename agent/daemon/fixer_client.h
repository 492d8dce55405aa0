// qhardend's side of the fixer (agent/fixer/): one request per fixer run,
// either through the socket systemd listens on for qharden-fixer@.service
// (the agent's unit runs unprivileged), or by starting qharden-fixer itself
// on a socketpair (tests, and qhardend started by hand). The wait goes through
// socket_waiter(), so the agent's loop serves the bus and the watchdog
// meanwhile, and SIGTERM ends it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/expected.h"
#include "engine/fix.h"
#include "fixer/protocol.h"
#include "host/descriptor.h"

namespace qharden::agent {

struct FixerEndpoint {
  std::string socket_path;             // set: connect there
  std::string program;                 // else: start this qharden-fixer
  std::vector<std::string> arguments;  // with these (its --root and --config)
};

// qharden-fixer beside this program (a build tree), else where it is installed.
std::string default_fixer_program();

// One fixer run: a connection systemd is starting a fixer on, or a fixer this
// process started. It may be opened before its request is known, so that the
// fixer's start-up (about 60 ms under systemd's sandbox) runs while the agent
// still checks whether a kept fix drifted. Dropped unused, the fixer sees the
// connection close with no request and exits; a started one is waited for.
class FixerSession {
 public:
  FixerSession() = default;
  FixerSession(const FixerSession&) = delete;
  FixerSession& operator=(const FixerSession&) = delete;
  ~FixerSession();

 private:
  friend class FixerClient;
  // The exit status, after SIGKILL when asked or when it lingers.
  int finish(bool kill_it);
  Descriptor connection_;
  pid_t child_ = -1;
};

class FixerClient {
 public:
  FixerClient(FixerEndpoint endpoint, std::string root, std::optional<std::string> config_file);

  // Root and config filled in; the caller sets the rest.
  fixer::Request request(fixer::Operation operation, std::string caller) const;

  // Connects to the fixer socket, or starts qharden-fixer.
  Expected<std::unique_ptr<FixerSession>> start() const;

  // The fixer's response text, or why there is none; on a session started
  // earlier when one is given, else on a new one.
  Expected<std::string> exchange(const fixer::Request& request, std::chrono::milliseconds timeout,
                                 std::unique_ptr<FixerSession> started = nullptr) const;

  Expected<ApplyResult> apply(const std::vector<std::string>& rules, bool named, bool only_kept,
                              std::string caller,
                              std::unique_ptr<FixerSession> started = nullptr) const;
  Expected<RollbackResult> rollback(const std::string& change_id, std::string caller) const;

  const FixerEndpoint& endpoint() const { return endpoint_; }

 private:
  FixerEndpoint endpoint_;
  std::string root_;
  std::optional<std::string> config_file_;
};

}  // namespace qharden::agent
