// smtp.open-relay: does qmail-smtpd relay for strangers? Offline from the
// control folder and every RELAYCLIENT grant; live with an RCPT TO to an
// outside domain from a local address that no rule grants relaying.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "engine/context.h"
#include "engine/rule.h"
#include "host/privileged_reads.h"
#include "smtp_greeting/listeners.h"
#include "smtp_open_relay/controls.h"
#include "smtp_open_relay/grants.h"
#include "smtp_open_relay/live.h"
#include "smtp_open_relay/plan.h"

namespace qharden {
namespace {

using nlohmann::json;

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : separator) + item;
  return joined;
}

bool runs_qmail_smtpd(const ServiceCommand& command) {
  return command.enabled && find_program_word(command.argv, "qmail-smtpd").has_value();
}

std::vector<std::string> local_ipv4_addresses() {
  std::vector<std::string> addresses;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return addresses;
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* address = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    ::inet_ntop(AF_INET, &address->sin_addr, text, sizeof text);
    bool loopback = std::strncmp(text, "127.", 4) == 0;
    // Loopback last: it is granted almost everywhere (127.:allow,RELAYCLIENT="").
    if (loopback) {
      addresses.push_back(text);
    } else {
      addresses.insert(addresses.begin(), text);
    }
  }
  ::freeifaddrs(list);
  return addresses;
}

sockaddr_storage ipv4_socket_address(const std::string& text, int port) {
  sockaddr_storage storage{};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, text.c_str(), &address.sin_addr);
  std::memcpy(&storage, &address, sizeof address);
  return storage;
}

class SmtpOpenRelayRule final : public Rule {
 public:
  SmtpOpenRelayRule() {
    info_.id = "smtp.open-relay";
    info_.severity = Severity::critical;
    info_.summary = "qmail-smtpd relays only for the clients it should (rcpthosts, RELAYCLIENT)";
    info_.explanation =
        "qmail-smtpd relays for any client whose environment holds RELAYCLIENT (even empty), "
        "and otherwise accepts only recipient domains listed in control/rcpthosts (or "
        "morercpthosts.cdb). A missing rcpthosts accepts every domain: an open relay. Offline "
        "the rule reads the control folder (paths.qmail_control): rcpthosts missing (fail), "
        "empty while local domains exist or unreadable (warning: every domain refused, or 421), "
        "the morercpthosts states qmail-showctl names, and percenthack domains that rcpthosts "
        "accepts (user%victim@domain is relayed, which no RCPT probe can see). For every "
        "qmail-smtpd service it collects the RELAYCLIENT grants: tcpserver's -x rules cdb "
        "(records read as tcpserver looks them up) and its text source (file:line; a cdb that "
        "differs from its source is not live), xinetd env and passenv, run-script exports and "
        "envdirs. A grant that covers every client fails: the default rule "
        "(:allow,RELAYCLIENT=\"\"), \"=\" (every client with a PTR), a host-name rule on a "
        "tcpserver without -p (anyone who controls their own reverse DNS), or RELAYCLIENT in "
        "the environment. Grants to addresses and prefixes are listed; a public prefix wider "
        "than public_prefix_max_bits warns. Rules tcpserver never looks up (CIDR such as "
        "10.0.0.0/8, which tcprules 0.88 does not understand) are reported as dead. Live, "
        "for each listener on the configured ports, it connects from a local address that no "
        "rule grants (skipped, saying so, when every local address is granted) and sends "
        "EHLO, MAIL FROM:<>, RCPT TO:<rcpt_to>, then RSET and QUIT, never DATA: 250/251 fails, "
        "a 5xx at RCPT passes and is quoted; a 4xx, a refusal before RCPT, or rblsmtpd "
        "answering for a listed source address is an error (no relay verdict). Fix, only when "
        "named with --rule: create a missing "
        "rcpthosts from me, locals and virtualdomains.";
    info_.touches =
        "reads paths.qmail_control (rcpthosts, morercpthosts(.cdb), percenthack, me, locals, "
        "virtualdomains, envnoathost), the inventory, tcpserver rules cdbs and their sources; "
        "connects to local SMTP ports; writes rcpthosts on apply";
    info_.can_fix = true;
    info_.fixes_only_when_named = true;
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    std::vector<Finding> findings;
    RelayControls controls = read_relay_controls(context.host, context.config.paths.qmail_control);
    std::vector<const ServiceCommand*> services;
    for (const ServiceCommand& command : context.inventory().commands) {
      if (runs_qmail_smtpd(command)) services.push_back(&command);
    }
    if (!controls.folder_exists) {
      findings.push_back(make_finding(
          info_, controls.folder, Status::skip,
          services.empty()
              ? "no qmail here: " + controls.folder +
                    " does not exist and no service runs qmail-smtpd"
              : controls.folder + " does not exist, so rcpthosts cannot be judged (set "
                                  "paths.qmail_control to qmail's control folder)"));
    } else {
      findings.push_back(rcpthosts_finding(info_, controls));
      if (controls.percenthack.state != ControlState::missing) {
        findings.push_back(percenthack_finding(info_, controls));
      }
    }
    for (const ServiceCommand* command : services)
      findings.push_back(service_finding(context, *command));
    for (Finding& finding : live_findings(context, controls))
      findings.push_back(std::move(finding));
    return findings;
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    RelayControls controls = read_relay_controls(context.host, context.config.paths.qmail_control);
    for (const Finding& finding : failing) {
      if (finding.subject == controls.folder + "/rcpthosts") {
        return plan_rcpthosts(context.host, controls, std::string(info_.id));
      }
    }
    return std::vector<PlannedChange>{};
  }

 private:
  GrantLimits limits(const AuditContext& context) const {
    return GrantLimits{static_cast<int>(context.config.smtp_open_relay.public_prefix_max_bits)};
  }

  Finding service_finding(AuditContext& context, const ServiceCommand& command) const {
    ServiceGrants grants = collect_grants(context.host, command, limits(context));
    Finding finding = make_finding(info_, command.subject, Status::pass, "");
    finding.evidence = grants.evidence;
    if (!grants.open_reasons.empty()) {
      finding.status = Status::fail;
      finding.message = "open relay: " + join(grants.open_reasons, "; ");
      if (!grants.warnings.empty()) finding.message += "; also: " + join(grants.warnings, "; ");
    } else if (!grants.warnings.empty()) {
      finding.status = Status::fail;
      finding.severity = Severity::warning;
      finding.message = join(grants.warnings, "; ");
    } else {
      finding.message = grants.grants.empty()
                            ? "no RELAYCLIENT grant: every client is held to rcpthosts"
                            : std::to_string(grants.grants.size()) +
                                  " RELAYCLIENT grant(s), each to specific addresses";
    }
    if (grants.evidence.value("relaylock", false)) {
      finding.message +=
          " (relaylock in the chain: Plesk decides POP-before-SMTP relaying; the "
          "live probe is authoritative)";
    }
    return finding;
  }

  std::vector<Finding> live_findings(AuditContext& context, const RelayControls& controls) const {
    const auto& settings = context.config.smtp_open_relay;
    std::string subject(info_.id);
    if (context.offline) {
      return {
          make_finding(info_, subject, Status::skip, "--offline: the live RCPT probe is not sent")};
    }
    std::vector<int> ports;
    for (std::int64_t port : settings.ports) {
      if (port != 465) ports.push_back(static_cast<int>(port));
    }
    Expected<std::vector<SmtpListener>> listeners = find_smtp_listeners(context, ports);
    if (!listeners) return {make_finding(info_, subject, Status::error, listeners.error().message)};
    std::vector<Finding> findings;
    std::vector<RelayProbeTarget> targets;
    std::vector<json> target_evidence;
    std::vector<std::string> local = local_ipv4_addresses();
    for (const SmtpListener& listener : *listeners) {
      if (!listener.listening) continue;
      std::string listener_address = listener.address_text();
      if (listener.family != AF_INET) {
        // xinetd's usual `*:25` is an IPv6 wildcard that takes IPv4 clients
        // too (v4-mapped): probed over IPv4 unless an IPv4 socket on the port
        // answers them, or tcpserver's IPv4-only rules would be misjudged.
        std::optional<std::string> why_not = ipv6_listener_not_probed(*listeners, listener);
        if (why_not) {
          findings.push_back(make_finding(info_, listener.subject(), Status::skip, *why_not));
          continue;
        }
      }
      bool any = listener_address == "0.0.0.0" || listener_address == "::";
      ServiceGrants grants;
      if (listener.command) {
        grants = collect_grants(context.host, *listener.command, limits(context));
      }
      if (listener.command && !find_program_word(listener.command->argv, "qmail-smtpd")) {
        // Another MTA, or a stand-in: this rule judges qmail-smtpd, and a
        // session with a server that does not speak SMTP would only wait.
        findings.push_back(
            make_finding(info_, listener.subject(), Status::skip,
                         listener.command_source + " does not run qmail-smtpd; not probed"));
        continue;
      }
      if (std::optional<Finding> passed = xinetd_passes_relayclient(listener)) {
        findings.push_back(std::move(*passed));
        continue;
      }
      std::vector<std::string> refused_sources;
      std::string chosen;
      for (const std::string& address : local) {
        std::optional<std::string> rule = tcpserver_rule_for(grants.cdb_rules, address);
        if (grants.environment_grants_everyone || (rule && data_grants_relay(*rule))) {
          refused_sources.push_back(address + " (granted)");
        } else if (rule && data_denies(*rule)) {
          refused_sources.push_back(address + " (denied by the rules)");
        } else {
          chosen = address;
          break;
        }
      }
      if (chosen.empty()) {
        Finding skip = make_finding(
            info_, listener.subject(), Status::skip,
            "every local address is granted RELAYCLIENT or denied, so no probe can show how a "
            "stranger is treated: " +
                join(refused_sources, ", "));
        findings.push_back(skip);
        continue;
      }
      RelayProbeTarget target;
      target.label = listener.subject();
      target.source = ipv4_socket_address(chosen, 0);
      target.source_length = sizeof(sockaddr_in);
      target.address = ipv4_socket_address(any ? chosen : listener_address, listener.port);
      target.address_length = sizeof(sockaddr_in);
      targets.push_back(target);
      target_evidence.push_back({{"source_address", chosen},
                                 {"command_source", listener.command_source},
                                 {"not_used", refused_sources}});
    }
    std::vector<RelayProbeResult> results =
        probe_relays(targets, settings.give_up_ms, settings.rcpt_to);
    for (std::size_t index = 0; index < results.size(); ++index) {
      findings.push_back(
          judge(targets[index], results[index], target_evidence[index], settings.rcpt_to));
    }
    (void)controls;
    if (findings.empty()) {
      findings.push_back(make_finding(info_, subject, Status::skip,
                                      "no SMTP listener on the configured ports in this network "
                                      "namespace"));
    }
    return findings;
  }

  static std::optional<std::string> ipv6_listener_not_probed(
      const std::vector<SmtpListener>& listeners, const SmtpListener& listener) {
    if (listener.address_text() != "::") {
      return "IPv6 listener on a specific address: the probe speaks IPv4 only, not probed";
    }
    if (listener.v6only) {
      return "IPv6-only wildcard listener (IPV6_V6ONLY): no IPv4 client reaches it, and the probe "
             "speaks IPv4 only; not probed";
    }
    if (listener.command && find_program_word(listener.command->argv, "tcpserver")) {
      return "IPv6 listener: ucspi-tcp 0.88 rules are IPv4, not probed";
    }
    for (const SmtpListener& other : listeners) {
      if (other.family == AF_INET && other.port == listener.port && other.listening) {
        return "IPv6 listener beside " + other.subject() +
               ", which answers IPv4 clients and is probed";
      }
    }
    return std::nullopt;
  }

  // passenv = RELAYCLIENT is a grant only when xinetd itself holds the
  // variable, which only its live environment shows.
  std::optional<Finding> xinetd_passes_relayclient(const SmtpListener& listener) const {
    if (!listener.pid || !listener.command) return std::nullopt;
    const std::vector<std::string>& names = listener.command->details->passenv;
    if (std::find(names.begin(), names.end(), "RELAYCLIENT") == names.end()) return std::nullopt;
    Expected<ProcessDetails> details = privileged_reader().read_process(*listener.pid);
    if (!details) return std::nullopt;
    auto relay = details->environment.find("RELAYCLIENT");
    if (relay == details->environment.end()) return std::nullopt;
    Finding finding = make_finding(
        info_, listener.subject(), Status::fail,
        "open relay: xinetd (pid " + std::to_string(*listener.pid) +
            ") holds RELAYCLIENT in its own environment and passes it to every connection "
            "(passenv in " +
            listener.command_source + ")");
    finding.evidence = {{"pid", *listener.pid},
                        {"command_source", listener.command_source},
                        {"xinetd_relayclient", relay->second}};
    return finding;
  }

  Finding judge(const RelayProbeTarget& target, const RelayProbeResult& result, json evidence,
                const std::string& rcpt_to) const {
    evidence["greeting"] = result.greeting;
    evidence["ehlo_reply"] = result.ehlo_reply;
    evidence["mail_reply"] = result.mail_reply;
    evidence["rcpt_reply"] = result.rcpt_reply;
    evidence["rcpt_code"] = result.stage == "RCPT" ? json(result.reply_code) : json(nullptr);
    evidence["rcpt_to"] = rcpt_to;
    evidence["ms"] = result.milliseconds;
    std::string from = " from " + evidence["source_address"].get<std::string>();
    Finding finding = make_finding(info_, target.label, Status::pass, "");
    switch (result.outcome) {
      case RelayProbeOutcome::accepted:
        finding.status = Status::fail;
        finding.message = "open relay: RCPT TO:<" + rcpt_to + ">" + from + " got \"" +
                          result.rcpt_reply + "\" (no DATA was sent)";
        break;
      case RelayProbeOutcome::refused: {
        std::string refused = result.stage + from + " was refused: \"" +
                              (result.stage == "RCPT"   ? result.rcpt_reply
                               : result.stage == "MAIL" ? result.mail_reply
                               : result.stage == "EHLO" ? result.ehlo_reply
                                                        : result.greeting) +
                              "\"";
        if (std::optional<std::string> why = why_not_a_relay_verdict(result)) {
          finding.status = Status::error;
          finding.message = "no relay verdict: " + refused + "; " + *why;
        } else {
          finding.message = refused;
        }
        break;
      }
      case RelayProbeOutcome::inconclusive:
        finding.status = Status::error;
        finding.message = "inconclusive" + from + ": " + result.error;
        break;
    }
    finding.evidence = std::move(evidence);
    return finding;
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_smtp_open_relay_rule() {
  return std::make_unique<SmtpOpenRelayRule>();
}

}  // namespace qharden
