// listener.burst-limits: a burst of connections must not switch SMTP off.
// xinetd turns a service off for `cps` wait seconds when more than `cps` rate
// connections a second arrive, openbsd-inetd stops a service for ten minutes
// after nowait.N forks in a minute, and xinetd's instances/per_source and
// tcpserver's -c refuse or defer connections beyond their counts.
#include <algorithm>
#include <memory>

#include "engine/context.h"
#include "engine/rule.h"
#include "inventory/problem_findings.h"
#include "inventory/service_ports.h"
#include "inventory/systemd_units.h"
#include "listener_burst_limits/limits.h"
#include "listener_burst_limits/plan.h"

namespace qharden {
namespace {

constexpr std::string_view kExplanation =
    "A super-server that sees a burst of connections can switch SMTP off by itself. xinetd "
    "counts connections a second per service: above the `cps` rate (built in: 50) it logs "
    "\"Deactivating service ... due to excessive incoming connections\" and closes the port "
    "for the `cps` wait (built in: 10 s); a rate of 0 turns the check off. `instances` and "
    "`per_source` (built in: UNLIMITED) refuse connections beyond that many servers at once, "
    "in all and per client address. Their values come from the service, else from "
    "`defaults` (xinetd fills them in after reading every file, so `defaults` reach every "
    "service), else from the built-in; each attribute takes its first valid `=` line. "
    "openbsd-inetd's wait/nowait[.N] field (built in: 256) caps forks a minute: the Nth "
    "connection within a minute makes it log \"server failing (looping), service terminated "
    "for 10 min\" and close the service's IPv4 socket for ten minutes (on ports from 1024 up "
    "it drops the connections beyond the cap instead, without a log line); a SIGHUP opens a "
    "stopped service again. tcpserver's -c (built in: 40) caps servers at once; beyond it "
    "connections "
    "wait in the kernel's queue. A systemd socket with Accept=yes refuses connections beyond "
    "MaxConnections= (built in: 64), and more than TriggerLimitBurst= activations (built in: "
    "200) within TriggerLimitIntervalSec= (built in: 2s) put the socket unit into a failed "
    "state: port 25 stays closed until it is restarted.\n"
    "The rule judges every enabled xinetd service, inetd.conf line and tcpserver run script "
    "that listens on rules.\"listener.burst-limits\".ports or runs qmail-smtpd, against the "
    "configured minimums (xinetd_cps_min, xinetd_instances_min, xinetd_per_source_min, "
    "inetd_per_minute_min, tcpserver_concurrency_min, systemd_max_connections_min, "
    "systemd_trigger_limit_burst_min) and the longest cps wait (xinetd_cps_wait_max). "
    "UNLIMITED passes. systemd sockets are those with Accept=yes in "
    "paths.systemd_unit_dirs, drop-ins applied, whose service runs qmail-smtpd or whose "
    "first ListenStream= port is one of the ports.\n"
    "The fix raises each failing value to its bound with the smallest edit: xinetd gets the "
    "value words of the service's own attribute replaced, or a `cps = R W`, `instances = N` "
    "or `per_source = N` line before the service's `}` (never in `defaults`, which other "
    "services share); inetd.conf gets its wait field rewritten to nowait.N. xinetd or inetd "
    "then rereads its configuration (SIGHUP). tcpserver's -c is not changed: the message "
    "names the run script and the value, and the service must be restarted. A systemd socket "
    "gets a drop-in of qharden's own, <first of paths.systemd_unit_dirs>/<socket>.d/"
    "zz-qharden-listener.burst-limits.conf, with the failing MaxConnections= and "
    "TriggerLimitBurst= raised (the unit file is never edited), and systemd then loads its "
    "units again (daemon-reload over D-Bus; never under --root, where the plan says so). A "
    "socket that has already failed on its trigger limit stays failed until it is restarted "
    "(`systemctl restart <socket>`). Rollback removes the drop-in, and its folder when qharden "
    "created it.";

constexpr std::string_view kTouches =
    "reads paths.xinetd_conf with its include/includedir files, paths.inetd_conf, the run "
    "scripts matched by paths.run_scripts, /etc/services and the Accept=yes *.socket units "
    "with their services in paths.systemd_unit_dirs (with drop-ins); writes the xinetd "
    "service file or inetd.conf that holds the failing service, or qharden's drop-in "
    "<socket>.d/zz-qharden-listener.burst-limits.conf in the first of paths.systemd_unit_dirs "
    "(then systemd's daemon-reload), never a unit file";

nlohmann::json limit_evidence(const JudgedLimit& limit) {
  nlohmann::json value = limit.value ? nlohmann::json(*limit.value) : nlohmann::json("unlimited");
  nlohmann::json evidence = {
      {"value", value}, {"from", limit.from}, {"written", limit.written}, {"ok", limit.ok}};
  if (limit.from != "built-in") {
    evidence["file"] = limit.file;
    evidence["line"] = limit.line;
  }
  evidence[limit.bound_is_maximum ? "maximum" : "minimum"] = limit.bound;
  return evidence;
}

std::string ordinal(std::int64_t number) {
  std::int64_t tens = number % 100;
  std::int64_t ones = number % 10;
  const char* suffix = (tens >= 11 && tens <= 13) ? "th"
                       : ones == 1                ? "st"
                       : ones == 2                ? "nd"
                       : ones == 3                ? "rd"
                                                  : "th";
  return std::to_string(number) + suffix;
}

std::string consequence(const JudgedLimit& limit, const ListenerLimits& limits) {
  std::string value = limit.value ? std::to_string(*limit.value) : "unlimited";
  if (limit.name == "cps" || limit.name == "cps_wait") {
    std::string rate;
    std::string wait;
    for (const JudgedLimit& each : limits.limits) {
      if (each.name == "cps") rate = each.value ? std::to_string(*each.value) : "unlimited";
      if (each.name == "cps_wait") wait = each.value ? std::to_string(*each.value) : "0";
    }
    return "more than " + rate + " connections a second switch the service off for " + wait + " s";
  }
  if (limit.name == "instances" || limit.name == "MaxConnections") {
    return "connections beyond " + value + " at once are refused";
  }
  if (limit.name == "TriggerLimitBurst") {
    return "more activations than that within the interval fail the socket unit, which then "
           "takes no connection until it is restarted";
  }
  if (limit.name == "per_source") {
    return "connections beyond " + value + " at once from one address are refused";
  }
  if (limit.name == "per_minute") {
    // openbsd-inetd counts forks before it checks: the Nth within a minute trips it.
    return "the " + ordinal(*limit.value) +
           " connection within a minute stops the service for ten minutes (on ports from "
           "1024 up inetd drops the connections beyond it instead)";
  }
  return "connections beyond " + value + " at once wait unanswered";
}

class ListenerBurstLimitsRule final : public StreamingRule {
 public:
  ListenerBurstLimitsRule() {
    info_.id = "listener.burst-limits";
    info_.severity = Severity::warning;
    info_.summary =
        "xinetd cps/instances/per_source, inetd nowait.N, tcpserver -c and systemd socket "
        "MaxConnections/TriggerLimitBurst of SMTP listeners meet configured minimums";
    info_.explanation = kExplanation;
    info_.touches = kTouches;
    info_.can_fix = true;
  }

  const RuleInfo& info() const override { return info_; }

  // One finding at a time: about 3 KiB of evidence each, so a 100,000-service
  // inventory would otherwise hold hundreds of MiB of them (issue 15).
  void check_each(AuditContext& context, const FindingSink& sink) const override {
    const ServiceInventory& inventory = context.inventory();
    if (!inventory.xinetd_present && !inventory.inetd_present &&
        inventory.run_scripts_seen.empty() && !inventory.systemd_accept_sockets) {
      sink(make_finding(info_, std::string(info_.id), Status::skip,
                        "no xinetd or inetd configuration, no run script and no "
                        "systemd socket with Accept=yes on this host"));
      return;
    }
    ServicePorts service_ports(context.host);
    stream_command_findings(
        info_, inventory, sink,
        [&](const ServiceCommand& command) {
          return check_command(context, command, service_ports);
        },
        "no xinetd service, inetd.conf line, tcpserver run script or systemd socket listens on "
        "the configured ports or runs qmail-smtpd");
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    return plan_burst_limit_fixes(context, info_, failing);
  }

 private:
  bool judged(const ServiceCommand& command, std::optional<int> port,
              const Config::ListenerBurstLimits& bounds) const {
    if (find_program_word(command.argv, "qmail-smtpd")) return true;
    return port && std::find(bounds.ports.begin(), bounds.ports.end(), *port) != bounds.ports.end();
  }

  std::optional<Finding> check_command(AuditContext& context, const ServiceCommand& command,
                                       const ServicePorts& service_ports) const {
    const Config::ListenerBurstLimits& bounds = context.config.listener_burst_limits;
    const ServiceInventory& inventory = context.inventory();
    ListenerLimits limits;
    std::optional<int> port = command.port;
    if (command.source == LaunchSource::run_script) {
      std::optional<std::size_t> tcpserver = find_program_word(command.argv, "tcpserver");
      if (!tcpserver) return std::nullopt;
      std::optional<std::string> port_word = tcpserver_port_word(command.argv, *tcpserver);
      if (port_word) port = service_ports.find(*port_word);
      if (!judged(command, port, bounds)) return std::nullopt;
      limits = judge_tcpserver_limits(command, *tcpserver, bounds, &context.host);
    } else {
      if (!judged(command, port, bounds)) return std::nullopt;
      switch (command.source) {
        case LaunchSource::xinetd:
          limits = judge_xinetd_limits(command, bounds);
          break;
        case LaunchSource::inetd:
          limits = judge_inetd_limits(command, bounds);
          break;
        case LaunchSource::systemd:
          limits = judge_systemd_limits(command, bounds);
          break;
        case LaunchSource::run_script:
          return std::nullopt;  // judged above
      }
    }
    Finding finding = make_finding(info_, command.subject, Status::pass, "");
    nlohmann::json limit_map = nlohmann::json::object();
    for (const JudgedLimit& limit : limits.limits) limit_map[limit.name] = limit_evidence(limit);
    finding.evidence = {
        {"kind", limits.kind},  {"file", command.file},
        {"line", command.line}, {"port", port ? nlohmann::json(*port) : nlohmann::json(nullptr)},
        {"limits", limit_map},  {"fixable", false}};
    if (!command.enabled) {
      finding.status = Status::skip;
      finding.message =
          "service is disabled (" + command.details->disabled_reason + "); not checked";
      return finding;
    }
    if (limits.error) {
      finding.status = Status::error;
      finding.message = "cannot read the burst limits: " + *limits.error;
      return finding;
    }
    if (limits.all_ok()) {
      finding.message =
          limits.kind + ": every burst limit meets its bound (" + summary_of(limits) + ")";
      return finding;
    }
    finding.status = Status::fail;
    std::vector<std::string> said;
    for (const JudgedLimit& limit : limits.limits) {
      if (limit.ok) continue;
      std::string effect = consequence(limit, limits);
      std::string part = describe_limit(limit);
      if (std::find(said.begin(), said.end(), effect) == said.end()) {
        said.push_back(effect);
        part += ": " + effect;
      }
      finding.message += (finding.message.empty() ? "" : "; ") + part;
    }
    finding.fixable = fix_note(context, command, inventory, limits, finding.message);
    finding.evidence["fixable"] = finding.fixable;
    return finding;
  }

  static std::string summary_of(const ListenerLimits& limits) {
    std::string summary;
    for (const JudgedLimit& limit : limits.limits) {
      summary += (summary.empty() ? "" : ", ") + limit.name + " " +
                 (limit.value ? std::to_string(*limit.value) : "unlimited");
    }
    return summary;
  }

  // Whether the plan can fix it; when not, says what to change by hand.
  bool fix_note(AuditContext& context, const ServiceCommand& command,
                const ServiceInventory& inventory, const ListenerLimits& limits,
                std::string& message) const {
    if (command.source == LaunchSource::run_script) {
      std::int64_t bound = limits.limits.empty() ? 0 : limits.limits.front().bound;
      message += ". Not fixed by qharden: set tcpserver's -c to at least " + std::to_string(bound) +
                 " in " + command.file + " and restart the service (svc -t or sv restart)";
      return false;
    }
    // The limits belong to the socket unit: the fix is a drop-in of its own
    // (inventory/systemd_drop_in.h), written only on request. Planned here
    // too, so that what the plan would refuse is said now.
    if (command.source == LaunchSource::systemd) {
      Expected<std::optional<PlannedChange>> drop_in = plan_socket_drop_in(context, info_, command);
      if (drop_in) return true;
      message += ". Not fixed by qharden: " + drop_in.error().message;
      return false;
    }
    if (command.source == LaunchSource::inetd && inventory.xinetd_serves_inetd_conf) {
      message +=
          ". Not fixed by qharden: xinetd (INETD_COMPAT) reads this file too and "
          "rejects nowait.N; edit the line by hand";
      return false;
    }
    return true;
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_listener_burst_limits_rule() {
  return std::make_unique<ListenerBurstLimitsRule>();
}

}  // namespace qharden
