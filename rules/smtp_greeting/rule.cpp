#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_smtp_greeting_rule() {
  RuleInfo info;
  info.id = "smtp.greeting";
  info.severity = Severity::critical;
  info.summary = "each local SMTP listener greets with 220 within max_ms, measured and predicted";
  info.explanation =
      "Connects to each local SMTP listener and times the 220. A probe from the host itself cannot\n"
      "see the ident delay (its port-113 connect lands on the host's own stack), so the finding\n"
      "also predicts the worst case for a remote client that drops port 113, and names the rules\n"
      "whose fixes remove each delay.";
  info.touches = "reads LISTEN sockets, /proc/PID/cmdline; connects to local SMTP ports";
  info.needs_live_state = true;
  return std::make_unique<PendingRule>(
      info, "not checked yet: the greeting probe lands with issue 6 (smtp.greeting)");
}

}  // namespace qharden
