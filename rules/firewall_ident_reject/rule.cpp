#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_firewall_ident_reject_rule() {
  RuleInfo info;
  info.id = "firewall.ident-reject";
  info.severity = Severity::warning;
  info.summary = "outgoing TCP to port 113 (ident) is REJECTed, so an ident connect fails at once";
  info.explanation =
      "When a client's firewall silently drops port 113, every ident connect (tcp-env without -R,\n"
      "tcpserver without -R, xinetd's USERID) waits 26-30 s before the 220 greeting. A local\n"
      "REJECT in OUTPUT makes the connect fail at once; DROP does not help, because the connect\n"
      "still waits for its own timeout. The fix inserts one rule the tool owns: iptables with\n"
      "`-m comment --comment qharden:ident-reject`, an nft table of its own, or firewalld.";
  info.touches = "reads netfilter (iptables, ip6tables, nft, firewalld); writes one owned rule";
  info.can_fix = true;
  info.needs_live_state = true;
  return std::make_unique<PendingRule>(
      info, "not checked yet: the netfilter reader lands with issue 5 (firewall.ident-reject)");
}

}  // namespace qharden
