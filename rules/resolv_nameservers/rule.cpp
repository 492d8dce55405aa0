// resolv.nameservers, the static part: what resolv.conf makes the two resolvers
// on a qmail host do when nameservers stay silent. The live forward/reverse
// probes of each used nameserver come later (c-ares); until then each used
// server gets an honest `skip`.
#include <memory>

#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"
#include "parsers/resolv_conf.h"
#include "resolv_nameservers/live.h"
#include "resolv_nameservers/managed.h"

namespace qharden {
namespace {

constexpr int kTcpEnvLookupsPerConnection = 2;  // PTR of the local and the remote address

void add_used(std::vector<UsedNameserver>& used, const std::string& address,
              const std::string& user, int glibc_position = -1, bool in_resolv_conf = false) {
  for (UsedNameserver& each : used) {
    if (each.address == address) {
      each.used_by.push_back(user);
      if (glibc_position >= 0) each.glibc_position = glibc_position;
      each.in_resolv_conf = each.in_resolv_conf || in_resolv_conf;
      return;
    }
  }
  used.push_back({address, {user}, glibc_position, in_resolv_conf});
}

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

class ResolvNameserversRule final : public Rule {
 public:
  ResolvNameserversRule() {
    info_.id = "resolv.nameservers";
    info_.severity = Severity::critical;
    info_.summary =
        "the nameservers in resolv.conf answer, and a silent one cannot stall the greeting long";
    info_.explanation =
        "tcp-env looks up the PTR of both ends of every SMTP connection through glibc, and "
        "tcpserver and rblsmtpd use djbdns's library; a silent nameserver stalls the 220 "
        "greeting. glibc uses the first 3 nameservers with options timeout/attempts: the "
        "worst case of one lookup is attempts * sum(max(1, i == 0 ? timeout : (timeout << i) "
        "/ N)) seconds (28 s by default with 3 servers). djbdns reads every IPv4 nameserver "
        "line (or DNSCACHEIP), ignores options and waits 3+11+45 s per silent server (its "
        "recursive queries skip the 1 s round). The "
        "rule reports both figures, more than 3 nameservers, unparsable lines and a "
        "resolv.conf owned by another program (systemd-resolved, resolvconf, NetworkManager, "
        "dhclient, a bind mount). Each used server gets a forward and a reverse probe (c-ares, all "
        "at once); the fix puts healthy servers first, comments out dead ones and sets the policy "
        "options, and refuses a managed file.";
    info_.touches =
        "reads paths.resolv_conf (and its symlink), run-script environments for "
        "DNSCACHEIP; queries every used nameserver; writes paths.resolv_conf on apply";
    info_.can_fix = true;
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    const std::string& path = context.config.paths.resolv_conf;
    std::vector<Finding> findings;
    std::vector<UsedNameserver> used;
    ResolvConf conf;
    Expected<FileStatus> file_status = context.host.status(path, true);
    if (!file_status) {
      findings.push_back(make_finding(info_, path, Status::error, file_status.error().message));
      return findings;
    }
    if (file_status->kind == FileKind::missing) {
      Finding finding = make_finding(info_, path, Status::skip,
                                     path +
                                         " does not exist: glibc and djbdns's library both "
                                         "query 127.0.0.1");
      if (std::optional<ResolvManager> manager = find_resolv_manager(context.host, path, nullptr)) {
        finding.message += "; it is " + manager->how + ", managed by " + manager->program;
      }
      findings.push_back(std::move(finding));
      add_used(used, "127.0.0.1", "glibc (tcp-env)", 0);
      add_used(used, "127.0.0.1", "djbdns (tcpserver, rblsmtpd)");
    } else {
      Expected<std::string> text = context.host.read_file(path);
      if (!text) {
        findings.push_back(make_finding(info_, path, Status::error, text.error().message));
        return findings;
      }
      conf = parse_resolv_conf(*text);
      check_file(context, path, conf, *text, findings);
      bool listed = !conf.nameservers.empty();
      int position = 0;
      for (const std::string& address : glibc_nameservers(conf)) {
        add_used(used, address, "glibc (tcp-env)", position++, listed);
      }
      for (const std::string& address : djbdns_nameservers(*text)) {
        add_used(used, address, "djbdns (tcpserver, rblsmtpd)", -1, listed);
      }
      bool managed = find_resolv_manager(context.host, path, &conf).has_value();
      for (Finding& finding : findings) {
        if (finding.evidence.value("check", "") == "worst-case-stall") {
          finding.fixable = finding.status == Status::fail && !managed;
        }
      }
    }
    for (const ServiceCommand& command : context.inventory().commands) {
      auto value = command.details->environment.find("DNSCACHEIP");
      if (!command.enabled || value == command.details->environment.end()) continue;
      for (const std::string& address : djbdns_nameservers_from_dnscacheip(value->second)) {
        add_used(used, address, "DNSCACHEIP of " + command.subject);
      }
    }
    if (!context.offline) {
      std::vector<Finding> probed = probe_nameservers(info_, used, conf, context.config);
      findings.insert(findings.end(), probed.begin(), probed.end());
      return findings;
    }
    for (const UsedNameserver& nameserver : used) {
      Finding finding =
          make_finding(info_, nameserver.address, Status::skip, "--offline: no DNS queries");
      finding.evidence = {
          {"latency_ms", nullptr}, {"error", nullptr}, {"used_by", nameserver.used_by}};
      findings.push_back(std::move(finding));
    }
    return findings;
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    const std::string& path = context.config.paths.resolv_conf;
    Expected<std::string> text = context.host.read_file(path);
    if (!text) return fail_with(text.error().message);
    ResolvConf conf = parse_resolv_conf(*text);
    if (std::optional<ResolvManager> manager = find_resolv_manager(context.host, path, &conf)) {
      return fail_with(path + " is managed by " + manager->program + " (" + manager->how +
                       "), which would undo the change; change " + manager->change_instead +
                       " instead");
    }
    std::vector<std::pair<std::string, std::string>> dead;
    for (const Finding& finding : failing) {
      const nlohmann::json& error =
          finding.evidence.contains("error") ? finding.evidence["error"] : nlohmann::json();
      if (error.is_string())
        dead.emplace_back(finding.subject, error.get<std::string>() + " on the probes");
    }
    Expected<std::string> after =
        rewrite_resolv_conf(*text, dead, context.config.resolv_nameservers.fix_options);
    if (!after) return fail_with(path + ": " + after.error().message);
    std::vector<PlannedChange> changes;
    if (*after == *text) return changes;
    std::string summary = "healthy nameservers first";
    for (const auto& [address, reason] : dead)
      summary += ", comment out " + address + " (" + reason + ")";
    summary += ", options " + context.config.resolv_nameservers.fix_options;
    changes.push_back(
        {std::string(info_.id), path, summary, FileReplacement{path, *text, *after, false}});
    return changes;
  }

 private:
  void check_file(AuditContext& context, const std::string& path, const ResolvConf& conf,
                  const std::string& text, std::vector<Finding>& findings) const {
    if (!conf.problems.empty()) {
      const ResolvProblem& first = conf.problems.front();
      std::string message = path + ":" + std::to_string(first.line) + ": " + first.message;
      if (conf.problems.size() > 1) {
        message += " (and " + std::to_string(conf.problems.size() - 1) + " more)";
      }
      Finding finding = make_finding(info_, path, Status::error, message);
      nlohmann::json lines = nlohmann::json::array();
      for (const ResolvProblem& problem : conf.problems) {
        lines.push_back({{"line", problem.line}, {"message", problem.message}});
      }
      finding.evidence = {{"check", "unparsable"}, {"problems", lines}};
      findings.push_back(std::move(finding));
    }
    if (std::optional<ResolvManager> manager = find_resolv_manager(context.host, path, &conf)) {
      Finding finding =
          make_finding(info_, path, Status::pass,
                       path + " is managed by " + manager->program + " (" + manager->how +
                           "), which rewrites it, so qharden's fix will not edit it; to change the "
                           "nameservers, change " +
                           manager->change_instead);
      finding.severity = Severity::info;
      finding.evidence = {{"check", "managed"},
                          {"managed_by", manager->program},
                          {"how", manager->how},
                          {"change_instead", manager->change_instead}};
      findings.push_back(std::move(finding));
    }
    if (conf.nameservers.empty()) {
      Finding finding = make_finding(info_, path, Status::pass,
                                     "no usable nameserver line: glibc and djbdns's library "
                                     "both query 127.0.0.1, so a local resolver must answer there");
      finding.severity = Severity::info;
      finding.evidence = {{"check", "no-nameserver"}};
      findings.push_back(std::move(finding));
    }
    if (conf.nameservers.size() > kGlibcMaximumNameservers) {
      std::vector<std::string> all;
      std::vector<std::string> beyond;
      for (const ResolvNameserver& nameserver : conf.nameservers) {
        all.push_back(nameserver.address);
        if (all.size() > kGlibcMaximumNameservers) beyond.push_back(nameserver.address);
      }
      Finding finding = make_finding(
          info_, path, Status::fail,
          std::to_string(all.size()) + " nameservers: glibc (tcp-env) uses only the first " +
              std::to_string(kGlibcMaximumNameservers) + " and never asks " + join(beyond) +
              ", while djbdns (tcpserver, rblsmtpd) tries every IPv4 one in turn");
      finding.severity = Severity::warning;
      finding.evidence = {
          {"check", "too-many-nameservers"}, {"nameservers", all}, {"ignored_by_glibc", beyond}};
      findings.push_back(std::move(finding));
    }
    findings.push_back(stall_finding(context, path, conf, text));
  }

  // Reported as information: the worst case only happens when every server is
  // silent, which the live probes judge. It fails (severity info, so the exit
  // code stays) only when the options allow a longer glibc stall than the
  // policy's fix_options would with the same servers.
  Finding stall_finding(AuditContext& context, const std::string& path, const ResolvConf& conf,
                        const std::string& text) const {
    int glibc_count = static_cast<int>(glibc_nameservers(conf).size());
    int djbdns_count = static_cast<int>(djbdns_nameservers(text).size());
    int glibc_seconds = glibc_worst_case_seconds(conf.timeout_seconds, conf.attempts, glibc_count);
    int djbdns_seconds = djbdns_worst_case_seconds(djbdns_count);
    const std::string& policy_options = context.config.resolv_nameservers.fix_options;
    ResolvConf policy = parse_resolv_conf("options " + policy_options + "\n");
    int policy_seconds =
        glibc_worst_case_seconds(policy.timeout_seconds, policy.attempts, glibc_count);
    Finding finding = make_finding(info_, path, Status::pass, "");
    finding.severity = Severity::info;
    finding.evidence = {
        {"check", "worst-case-stall"},
        {"glibc_worst_case_s", glibc_seconds},
        {"glibc_lookups_per_connection", kTcpEnvLookupsPerConnection},
        {"glibc_worst_case_per_connection_s", glibc_seconds * kTcpEnvLookupsPerConnection},
        {"djbdns_worst_case_s", djbdns_seconds},
        {"nameservers", glibc_count},
        {"djbdns_nameservers", djbdns_count},
        {"timeout_s", conf.timeout_seconds},
        {"attempts", conf.attempts},
        {"policy_options", policy_options},
        {"policy_glibc_worst_case_s", policy_seconds}};
    std::string servers = std::to_string(glibc_count) + (glibc_count == 1 ? " server" : " servers");
    std::string options = "timeout:" + std::to_string(conf.timeout_seconds) +
                          " attempts:" + std::to_string(conf.attempts);
    std::string djbdns =
        "; one djbdns lookup (tcpserver, rblsmtpd) can stall " + std::to_string(djbdns_seconds) +
        " s (3+11+45 s per silent server, " + std::to_string(djbdns_count) +
        (djbdns_count == 1 ? " IPv4 server" : " IPv4 servers") + "; options do not apply)";
    if (conf.attempts <= 0) {
      finding.status = Status::fail;
      finding.severity = Severity::warning;
      finding.message = "options attempts:" + std::to_string(conf.attempts) +
                        ": glibc sends no query at all, so every lookup tcp-env makes fails "
                        "at once" +
                        djbdns;
      return finding;
    }
    finding.message = "if every nameserver stays silent, one glibc lookup stalls " +
                      std::to_string(glibc_seconds) + " s with " + options + " and " + servers +
                      " (tcp-env makes 2 per connection: " +
                      std::to_string(glibc_seconds * kTcpEnvLookupsPerConnection) + " s)" + djbdns;
    if (glibc_seconds > policy_seconds) {
      finding.status = Status::fail;
      finding.message += "; the policy options \"" + policy_options +
                         "\" would bound the glibc "
                         "lookup at " +
                         std::to_string(policy_seconds) + " s";
    }
    return finding;
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_resolv_nameservers_rule() {
  return std::make_unique<ResolvNameserversRule>();
}

}  // namespace qharden
