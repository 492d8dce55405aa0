// Times SMTP greetings: connect to each listener and wait for a complete 220
// reply (a multi-line "220-" greeting ends at "220 "). Every probe runs at once
// under one wait (host/socket_waiter.h), so a host with several slow listeners
// waits once.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qharden {

struct GreetingTarget {
  std::string label;  // "127.0.0.1:25", for progress and messages
  sockaddr_storage address{};
  socklen_t address_length = 0;
  // Port 465 speaks TLS first: the probe sends a ClientHello and times the
  // server's first byte, which comes only after tcpserver's ident and DNS work.
  bool implicit_tls = false;
};

enum class GreetingOutcome {
  greeted,       // a complete 220 reply
  other_reply,   // a complete reply with another code (421, 554, ...)
  tls_answered,  // implicit TLS: the server's first bytes arrived
  closed,        // the server closed before a complete reply
  refused,       // connect failed
  gave_up,       // no complete reply within the limit
};

struct GreetingResult {
  GreetingOutcome outcome = GreetingOutcome::gave_up;
  double milliseconds = 0;  // until the reply (or the failure, or giving up)
  std::string reply;        // the first line of the reply, without CR LF, cut to 200 bytes
  std::string error;        // for refused and closed
};

// progress(label, seconds_waited) is called about once a second while a probe
// waits; results come back in the order of targets.
std::vector<GreetingResult> probe_greetings(
    const std::vector<GreetingTarget>& targets, std::int64_t give_up_milliseconds,
    const std::function<void(const std::string&, double)>& progress = {});

}  // namespace qharden
