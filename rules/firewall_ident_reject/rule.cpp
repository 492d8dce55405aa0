#include <memory>

#include <optional>

#include "engine/context.h"
#include "engine/rule.h"
#include "firewall_ident_reject/ident_fix.h"
#include "firewall_ident_reject/reachability.h"
#include "host/netfilter.h"

namespace qharden {
namespace {

using nlohmann::json;

const char* kWhy =
    "when a client's firewall silently drops port 113, each ident connect (tcp-env or tcpserver "
    "without -R, xinetd's USERID) waits up to 30 s before the 220 greeting";

json evidence_of(const NetfilterSnapshot& snapshot, const IdentVerdict& verdict) {
  json evidence = json::object();
  evidence["backends"] = snapshot.backends;
  evidence["verdict"] = std::string(to_string(verdict.fate));
  evidence["rule"] = verdict.rule.empty() ? json(nullptr) : json(verdict.rule);
  evidence["chain"] = verdict.where.empty() ? json(nullptr) : json(verdict.where);
  evidence["reject_with"] = verdict.reject_with.empty() ? json(nullptr) : json(verdict.reject_with);
  evidence["owned"] = verdict.owned;
  evidence["shadowed_by"] = verdict.shadows;
  evidence["partial_rejects"] = verdict.partial_rejects;
  evidence["notes"] = snapshot.notes;
  return evidence;
}

std::string shadow_text(const IdentVerdict& verdict) {
  std::string text;
  for (std::size_t index = 0; index < verdict.shadows.size() && index < 3; ++index) {
    text += (text.empty() ? "" : "; ") + verdict.shadows[index];
  }
  if (verdict.shadows.size() > 3)
    text += "; and " + std::to_string(verdict.shadows.size() - 3) + " more";
  return text;
}

Finding family_finding(const RuleInfo& info, IpFamily family, bool firewalld_running) {
  std::string subject(to_string(family));
  Expected<NetfilterSnapshot> snapshot = read_netfilter(family, firewalld_running);
  if (!snapshot) return make_finding(info, subject, Status::error, snapshot.error().message);
  IdentVerdict verdict = evaluate_ident(snapshot->tables);
  std::string label = family == IpFamily::ipv4 ? "IPv4" : "IPv6";
  std::string message;
  Status status = Status::fail;
  switch (verdict.fate) {
    case IdentFate::rejected: {
      status = Status::pass;
      message = "locally generated " + label + " TCP to port 113 is REJECTed" +
                (verdict.reject_with.empty() ? "" : " (" + verdict.reject_with + ")") + " by `" +
                verdict.rule + "` in " + verdict.where +
                ", and nothing earlier accepts or drops it: an ident connect fails at once";
      if (verdict.reject_with != "tcp-reset") {
        message +=
            ". tcp-reset is recommended: it looks exactly like a closed port to the client's "
            "stack, and some ICMP errors are rate-limited";
      }
      break;
    }
    case IdentFate::dropped:
      message =
          label + " TCP to port 113 is DROPped by " +
          (verdict.rule.rfind("the chain's", 0) == 0 ? verdict.rule : "`" + verdict.rule + "`") +
          " in " + verdict.where +
          " before any REJECT: DROP does not help, the ident connect still waits for its own "
          "timeout (up to 30 s per SMTP connection); only REJECT makes it fail at once";
      break;
    case IdentFate::shadowed:
      message = label + " has a REJECT for TCP port 113 (`" + verdict.rule + "` in " +
                verdict.where +
                "), but not every ident connect reaches it: " + shadow_text(verdict) + "; " + kWhy;
      break;
    case IdentFate::uncertain:
      message = label + " TCP to port 113 meets `" + verdict.rule + "` in " + verdict.where +
                " first, which qharden cannot judge, so it is not known to be REJECTed; " + kWhy;
      break;
    case IdentFate::not_rejected:
      message = "nothing REJECTs locally generated " + label + " TCP to port 113 in OUTPUT" +
                (verdict.partial_rejects.empty() ? "" : " for every client (only some are)") +
                (verdict.shadows.empty() ? "" : " (" + shadow_text(verdict) + ")") + ": " + kWhy;
      break;
  }
  Finding finding = make_finding(info, subject, status, message);
  finding.fixable = status == Status::fail;
  finding.evidence = evidence_of(*snapshot, verdict);
  return finding;
}

// IPv6 is checked where the namespace has it enabled.
std::optional<std::string> ipv6_skip_reason(AuditContext& context) {
  Expected<std::string> disabled =
      context.host.read_runtime_sysctl("net/ipv6/conf/all/disable_ipv6");
  if (!disabled) return "IPv6 is not available here (" + disabled.error().message + ")";
  if (disabled->find('1') != std::string::npos) {
    return "IPv6 is disabled (net.ipv6.conf.all.disable_ipv6 = 1), so no IPv6 ident connect is "
           "made";
  }
  return std::nullopt;
}

class FirewallIdentRejectRule final : public Rule {
 public:
  explicit FirewallIdentRejectRule(RuleInfo info) : info_(info) {}
  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    std::vector<Finding> findings;
    if (context.offline) {
      for (const char* subject : {"ipv4", "ipv6"}) {
        findings.push_back(make_finding(info_, subject, Status::skip,
                                        "--offline: netfilter is live state and is not read"));
      }
      return findings;
    }
    bool firewalld_running = firewalld_is_running();
    findings.push_back(family_finding(info_, IpFamily::ipv4, firewalld_running));
    if (std::optional<std::string> reason = ipv6_skip_reason(context)) {
      findings.push_back(make_finding(info_, "ipv6", Status::skip, *reason));
    } else {
      findings.push_back(family_finding(info_, IpFamily::ipv6, firewalld_running));
    }
    return findings;
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    std::vector<PlannedChange> changes;
    if (context.offline) return changes;
    bool nft_planned = false;
    bool firewalld_running = firewalld_is_running();
    for (const Finding& finding : failing) {
      IpFamily family = finding.subject == "ipv6" ? IpFamily::ipv6 : IpFamily::ipv4;
      Expected<NetfilterSnapshot> snapshot = read_netfilter(family, firewalld_running);
      if (!snapshot) return Unexpected(snapshot.error());
      Expected<IdentFix> fix = choose_ident_fix(*snapshot);
      if (!fix) return Unexpected(fix.error());
      // One nft table covers both families.
      if (fix->backend == "nft" && nft_planned) continue;
      nft_planned = nft_planned || fix->backend == "nft";
      for (const CommandRun& command : fix->commands) {
        changes.push_back({std::string(info_.id), finding.subject, fix->summary, command});
      }
    }
    return changes;
  }

 private:
  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_firewall_ident_reject_rule() {
  RuleInfo info;
  info.id = "firewall.ident-reject";
  info.severity = Severity::warning;
  info.summary = "outgoing TCP to port 113 (ident) is REJECTed, so an ident connect fails at once";
  info.explanation =
      "When a client's firewall silently drops port 113, every ident connect (tcp-env without -R,\n"
      "tcpserver without -R, xinetd's USERID) waits 26-30 s before the 220 greeting. A local\n"
      "REJECT in OUTPUT makes the connect fail at once; DROP does not help, because the connect\n"
      "still waits for its own timeout. Passes when every locally generated TCP SYN to port 113\n"
      "meets a REJECT first: output base chains run in priority order (iptables tables at their\n"
      "fixed priorities, nft chains at theirs); an ACCEPT ends only its own base chain, a DROP\n"
      "ends the packet. The fix inserts one rule the tool owns: iptables with\n"
      "`-m comment --comment qharden:ident-reject` at the top of OUTPUT, an nft table `inet\n"
      "qharden` with an output chain before every other one, or a firewalld direct rule.";
  info.touches =
      "reads netfilter (iptables-save, ip6tables-save and their -legacy/-nft forms, nft -j list "
      "ruleset, firewall-cmd --state) and net/ipv6/conf/all/disable_ipv6; writes one owned rule";
  info.can_fix = true;
  info.needs_live_state = true;
  return std::make_unique<FirewallIdentRejectRule>(info);
}

}  // namespace qharden
