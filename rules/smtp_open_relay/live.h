// The live relay probe: from a chosen local source address, one SMTP session
// per listener, all at once under one wait (host/socket_waiter.h):
//   wait for 220, EHLO, MAIL FROM:<>, RCPT TO:<outside address>, then RSET and
//   QUIT without waiting. DATA is never sent, so nothing is ever relayed.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qharden {

struct RelayProbeTarget {
  std::string label;  // "192.0.2.1:25"
  sockaddr_storage source{};
  socklen_t source_length = 0;
  sockaddr_storage address{};
  socklen_t address_length = 0;
};

enum class RelayProbeOutcome {
  accepted,      // RCPT got 2xx: the server relays for this client
  refused,       // a 4xx/5xx reply, at RCPT or before it
  inconclusive,  // connect failed, the server closed, or no reply in time
};

struct RelayProbeResult {
  RelayProbeOutcome outcome = RelayProbeOutcome::inconclusive;
  std::string stage;  // "greeting", "EHLO", "MAIL", "RCPT": where the deciding reply came
  std::string greeting;
  std::string ehlo_reply;
  std::string mail_reply;
  std::string rcpt_reply;
  int reply_code = 0;  // of the deciding reply
  double milliseconds = 0;
  std::string error;
};

std::vector<RelayProbeResult> probe_relays(const std::vector<RelayProbeTarget>& targets,
                                           std::int64_t give_up_milliseconds,
                                           const std::string& rcpt_to);

// Why a refusal says nothing about relaying, or nullopt when it does: only a
// permanent (5xx) refusal of RCPT by the SMTP daemon itself is qmail-smtpd's
// "553 sorry, that domain isn't in my list of allowed rcpthosts". A 4xx is
// "try later"; a refusal before RCPT never reached the recipient check; and
// rblsmtpd, which greets with "220 rblsmtpd.local" when it blocks a listed
// client (or RBLSMTPD is set), answers every command itself.
std::optional<std::string> why_not_a_relay_verdict(const RelayProbeResult& result);

// The first line of each complete SMTP reply at the start of received, or ""
// while the reply is incomplete ("250-" lines continue it).
std::string complete_reply(const std::string& received, std::size_t& consumed);

}  // namespace qharden
