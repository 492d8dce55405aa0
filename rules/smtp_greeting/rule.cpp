// smtp.greeting: time each local SMTP listener's 220, predict what a remote
// client whose firewall drops port 113 waits, and name the rules whose fixes
// remove each delay. It fixes nothing itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/context.h"
#include "engine/rule.h"
#include "smtp_greeting/chain.h"
#include "smtp_greeting/listeners.h"
#include "smtp_greeting/probe.h"

namespace qharden {
namespace {

using nlohmann::json;

std::string seconds_text(double milliseconds) {
  char text[32];
  if (milliseconds < 1000) {
    std::snprintf(text, sizeof text, "%.0f ms", milliseconds);
  } else {
    std::snprintf(text, sizeof text, "%.1f s", milliseconds / 1000);
  }
  return text;
}

GreetingTarget target_of(const SmtpListener& listener) {
  GreetingTarget target;
  target.label = listener.subject();
  target.implicit_tls = listener.port == 465;
  bool any = std::all_of(listener.address.begin(),
                         listener.address.begin() + (listener.family == AF_INET ? 4 : 16),
                         [](std::uint8_t byte) { return byte == 0; });
  if (listener.family == AF_INET) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(listener.port));
    if (any) {
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
      std::memcpy(&address.sin_addr, listener.address.data(), 4);
    }
    std::memcpy(&target.address, &address, sizeof address);
    target.address_length = sizeof address;
  } else {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<std::uint16_t>(listener.port));
    if (any) {
      address.sin6_addr = in6addr_loopback;
    } else {
      std::memcpy(&address.sin6_addr, listener.address.data(), 16);
      address.sin6_scope_id = listener.interface_index;
    }
    std::memcpy(&target.address, &address, sizeof address);
    target.address_length = sizeof address;
  }
  return target;
}

// Which families a remote client of this listener reaches it over: a wildcard
// IPv6 socket also takes IPv4 clients unless it is v6only, and its ident
// connects then leave over IPv4.
std::vector<std::string> client_families(const SmtpListener& listener) {
  if (listener.family == AF_INET) return {"ipv4"};
  bool v4_mapped = std::all_of(listener.address.begin(), listener.address.begin() + 10,
                               [](std::uint8_t byte) { return byte == 0; }) &&
                   listener.address[10] == 0xff && listener.address[11] == 0xff;
  if (v4_mapped) return {"ipv4"};
  bool any = std::all_of(listener.address.begin(), listener.address.end(),
                         [](std::uint8_t byte) { return byte == 0; });
  if (any && !listener.v6only) return {"ipv6", "ipv4"};
  return {"ipv6"};
}

struct IdentVerdicts {
  std::map<std::string, Status> by_family;
  std::map<std::string, std::string> messages;
};

IdentVerdicts ident_verdicts(AuditContext& context) {
  IdentVerdicts verdicts;
  for (const Finding& finding : context.findings_of("firewall.ident-reject")) {
    verdicts.by_family[finding.subject] = finding.status;
    verdicts.messages[finding.subject] = finding.message;
  }
  return verdicts;
}

// Failures of a rule that can slow a greeting. Info-level findings (the
// resolver's static worst-case figure) describe a risk, not a fault.
std::vector<const Finding*> slowing_failures(AuditContext& context, std::string_view rule_id) {
  std::vector<const Finding*> failures;
  for (const Finding& finding : context.findings_of(rule_id)) {
    if (finding.status == Status::fail && finding.severity != Severity::info) {
      failures.push_back(&finding);
    }
  }
  return failures;
}

void add_cause(json& causes, const std::string& rule) {
  for (const json& cause : causes) {
    if (cause == rule) return;
  }
  causes.push_back(rule);
}

std::string listener_label(const SmtpListener& listener) {
  std::string text = listener.subject();
  if (listener.command && !listener.command->argv.empty()) {
    std::string program = listener.command->argv.front();
    text += " (" + program.substr(program.rfind('/') + 1);
    if (listener.pid) text += ", pid " + std::to_string(*listener.pid);
    text += ", " + listener.command_source + ")";
  }
  return text;
}

class SmtpGreetingRule final : public Rule {
 public:
  SmtpGreetingRule() {
    info_.id = "smtp.greeting";
    info_.severity = Severity::critical;
    info_.summary =
        "each local SMTP listener greets with 220 within max_ms, measured and predicted";
    info_.explanation =
        "Finds the SMTP listeners (LISTEN sockets of this network namespace on the configured\n"
        "ports, and the xinetd/inetd services and run scripts for those ports), reads what each\n"
        "runs per connection (the inventory for xinetd and inetd, /proc/PID/cmdline otherwise, so\n"
        "a tcpserver started by hand is judged as it runs), connects, and times the 220.\n"
        "Port 465 speaks TLS first: the probe sends a ClientHello and times the server's first\n"
        "answer, which comes after tcpserver's ident and DNS work; the 220 inside TLS is not "
        "read.\n"
        "A probe from the host cannot see the ident delay: its port-113 connect lands on the "
        "host's\n"
        "own stack. So the finding also predicts the worst case for a remote client whose "
        "firewall\n"
        "silently drops port 113: the measured time plus each ident wait that is on (tcp-env 30 "
        "s,\n"
        "tcpserver -t, 26 s by default, xinetd's USERID 30 s) unless firewall.ident-reject "
        "passes.\n"
        "It fails when either figure exceeds max_ms and names the rules whose fixes remove the\n"
        "delay: firewall.ident-reject, tcp-env.flags, tcpserver.flags, resolv.nameservers,\n"
        "rblsmtpd.sources. A probe gives up after give_up_ms; on a terminal it shows progress.";
    info_.touches =
        "reads LISTEN sockets, /proc/PID/cmdline and environ; connects to local SMTP ports";
    info_.needs_live_state = true;
    info_.reads_findings_of = {"firewall.ident-reject", "resolv.nameservers", "rblsmtpd.sources"};
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    const auto& settings = context.config.smtp_greeting;
    if (context.offline) {
      return {make_finding(info_, std::string(info_.id), Status::skip,
                           "--offline: the SMTP greetings are live state and are not probed")};
    }
    std::vector<int> ports(settings.ports.begin(), settings.ports.end());
    Expected<std::vector<SmtpListener>> listeners = find_smtp_listeners(context, ports);
    if (!listeners) {
      return {make_finding(info_, std::string(info_.id), Status::error, listeners.error().message)};
    }
    if (listeners->empty()) {
      std::string list;
      for (int port : ports) list += (list.empty() ? "" : ", ") + std::to_string(port);
      return {
          make_finding(info_, std::string(info_.id), Status::skip,
                       "nothing listens on ports " + list +
                           " in this network namespace, and no service for them is configured")};
    }
    std::vector<GreetingTarget> targets;
    std::vector<std::size_t> probed;
    for (std::size_t index = 0; index < listeners->size(); ++index) {
      if (!(*listeners)[index].listening) continue;
      targets.push_back(target_of((*listeners)[index]));
      probed.push_back(index);
    }
    std::vector<GreetingResult> results = run_probes(targets, settings.give_up_ms);
    std::vector<Finding> findings;
    std::size_t next_result = 0;
    for (const SmtpListener& listener : *listeners) {
      if (!listener.listening) {
        findings.push_back(
            make_finding(info_, listener.subject(), Status::skip,
                         listener.command_source + " configures an SMTP service on port " +
                             std::to_string(listener.port) +
                             ", but nothing listens on it in this network namespace"));
        continue;
      }
      findings.push_back(judge(context, listener, results[next_result++]));
    }
    return findings;
  }

 private:
  static std::vector<GreetingResult> run_probes(const std::vector<GreetingTarget>& targets,
                                                std::int64_t give_up_ms) {
    if (targets.empty()) return {};
    bool terminal = ::isatty(STDERR_FILENO) == 1;
    auto progress = [&](const std::string& label, double seconds) {
      std::fprintf(stderr, "\rsmtp.greeting: waiting for %s, %.0f s (gives up after %.0f s)\033[K",
                   label.c_str(), seconds, static_cast<double>(give_up_ms) / 1000);
      std::fflush(stderr);
    };
    std::vector<GreetingResult> results = terminal ? probe_greetings(targets, give_up_ms, progress)
                                                   : probe_greetings(targets, give_up_ms);
    if (terminal) std::fprintf(stderr, "\r\033[K");
    return results;
  }

  Finding judge(AuditContext& context, const SmtpListener& listener,
                const GreetingResult& result) const {
    const auto& settings = context.config.smtp_greeting;
    std::string subject = listener.subject();
    json evidence = json::object();
    evidence["pid"] = listener.pid ? json(*listener.pid) : json(nullptr);
    evidence["command_source"] = listener.command_source;
    evidence["command"] = listener.command ? json(listener.command->argv) : json(nullptr);
    evidence["reply"] = result.reply;
    evidence["give_up_ms"] = settings.give_up_ms;
    evidence["max_ms"] = settings.max_ms;
    std::string label = listener_label(listener);

    if (result.outcome == GreetingOutcome::refused) {
      Finding finding = make_finding(info_, subject, Status::error,
                                     label + ": connecting failed: " + result.error);
      finding.evidence = evidence;
      return finding;
    }
    double measured = result.milliseconds;
    ChainFacts facts = listener.command ? analyse_chain(*listener.command) : ChainFacts{};
    IdentVerdicts verdicts = ident_verdicts(context);
    json causes = json::array();
    std::vector<std::string> reasons;

    // Ident: each wait counts unless locally generated port-113 connects are
    // REJECTed for every family a remote client arrives over.
    int ident_wait_seconds = 0;
    if (!facts.ident_waits.empty()) {
      std::string unrejected;
      for (const std::string& family : client_families(listener)) {
        auto verdict = verdicts.by_family.find(family);
        if (verdict == verdicts.by_family.end() || verdict->second != Status::pass) {
          unrejected +=
              (unrejected.empty() ? "" : " and ") + std::string(family == "ipv4" ? "IPv4" : "IPv6");
        }
      }
      if (!unrejected.empty()) {
        ident_wait_seconds = total_ident_wait_seconds(facts);
        std::string waits;
        for (const IdentWait& wait : facts.ident_waits) {
          waits += (waits.empty() ? "" : ", ") + wait.program + "'s ident lookup (" + wait.how +
                   ", up to " + std::to_string(wait.timeout_seconds) + " s)";
          add_cause(causes, wait.fixed_by);
        }
        add_cause(causes, "firewall.ident-reject");
        reasons.push_back(
            waits + ", and " + unrejected +
            " TCP to port 113 is not REJECTed here (fixed by firewall.ident-reject, or " + "by " +
            facts.ident_waits.front().fixed_by + " and a restart of the service)");
      }
    }
    double predicted = measured + 1000.0 * ident_wait_seconds;
    std::string ident_note;
    if (!facts.ident_waits.empty() && ident_wait_seconds == 0) {
      // Harmless now, but worth knowing: the REJECT is all that stands
      // between this listener and the ident wait.
      ident_note = "; " + facts.ident_waits.front().program +
                   " still does ident, which the local REJECT of port 113 ends at once";
    }

    if (!facts.dns_lookups.empty()) {
      std::vector<const Finding*> resolver = slowing_failures(context, "resolv.nameservers");
      if (!resolver.empty()) {
        add_cause(causes, "resolv.nameservers");
        std::string servers;
        for (const Finding* finding : resolver)
          servers += (servers.empty() ? "" : ", ") + finding->subject;
        std::string lookups;
        for (const std::string& lookup : facts.dns_lookups)
          lookups += (lookups.empty() ? "" : "; ") + lookup;
        reasons.push_back(
            lookups + ", and the resolver fails (" + servers +
            "): each lookup waits for a dead or slow nameserver (fixed by resolv.nameservers)");
      }
    }
    if (!facts.dnsbl_zones.empty()) {
      std::string zones;
      for (const Finding* finding : slowing_failures(context, "rblsmtpd.sources")) {
        for (const std::string& zone : facts.dnsbl_zones) {
          if (finding->subject == zone) zones += (zones.empty() ? "" : ", ") + zone;
        }
      }
      if (!zones.empty()) {
        add_cause(causes, "rblsmtpd.sources");
        reasons.push_back(
            "rblsmtpd queries failing DNSBL zones (" + zones +
            "), each waiting for its lookup timeout (fixed by rblsmtpd.sources --rule)");
      }
    }

    evidence["measured_ms"] = std::round(measured);
    evidence["predicted_remote_ms"] = std::round(predicted);
    evidence["causes"] = causes;
    evidence["ident_wait_s"] = ident_wait_seconds;
    evidence["dns_lookups"] = facts.dns_lookups;
    evidence["outcome"] = outcome_name(result.outcome);

    std::string what = describe_outcome(result, measured, settings.give_up_ms);
    bool slow = measured > static_cast<double>(settings.max_ms) ||
                predicted > static_cast<double>(settings.max_ms);
    bool broken = result.outcome == GreetingOutcome::other_reply ||
                  result.outcome == GreetingOutcome::closed ||
                  result.outcome == GreetingOutcome::gave_up;
    Status status = (slow || broken) ? Status::fail : Status::pass;
    std::string message = label + ": " + what + ident_note;
    if (ident_wait_seconds > 0) {
      message += "; a remote client whose firewall drops port 113 would wait about " +
                 seconds_text(predicted);
    }
    if (status == Status::pass && !reasons.empty()) {
      // Within bounds now (answers cached, or the dead server refuses at
      // once), but a remote client can still hit the same trouble.
      evidence["risks"] = causes;
      evidence["causes"] = json::array();
      message += ". Not slow now, but at risk: ";
    } else if (!reasons.empty()) {
      message += ". Causes: ";
    } else if (slow) {
      message +=
          ". No cause qharden checks explains it: look at the service itself "
          "(load, a slow program in the chain, the queue)";
    }
    for (std::size_t index = 0; index < reasons.size(); ++index) {
      message += (index == 0 ? "" : "; ") + reasons[index];
    }
    if (!listener.note.empty()) message += " (" + listener.note + ")";
    message += status == Status::pass ? "; within max_ms " + std::to_string(settings.max_ms) + " ms"
                                      : " (max_ms " + std::to_string(settings.max_ms) + ")";
    Finding finding = make_finding(info_, subject, status, message);
    finding.evidence = evidence;
    return finding;
  }

  static std::string outcome_name(GreetingOutcome outcome) {
    switch (outcome) {
      case GreetingOutcome::greeted:
        return "greeted";
      case GreetingOutcome::other_reply:
        return "other_reply";
      case GreetingOutcome::tls_answered:
        return "tls_answered";
      case GreetingOutcome::closed:
        return "closed";
      case GreetingOutcome::refused:
        return "refused";
      case GreetingOutcome::gave_up:
        return "gave_up";
    }
    return "unknown";
  }

  static std::string describe_outcome(const GreetingResult& result, double measured,
                                      std::int64_t give_up_ms) {
    switch (result.outcome) {
      case GreetingOutcome::greeted:
        return "220 after " + seconds_text(measured) + " here";
      case GreetingOutcome::tls_answered:
        return "TLS answered after " + seconds_text(measured) +
               " here (the 220 inside TLS is not read)";
      case GreetingOutcome::other_reply:
        return "answered `" + result.reply + "` instead of 220, after " + seconds_text(measured) +
               (result.error.empty() ? "" : " (" + result.error + ")");
      case GreetingOutcome::closed:
        return "closed the connection after " + seconds_text(measured) + " without a 220" +
               (result.reply.empty() ? "" : " (got `" + result.reply + "`)");
      case GreetingOutcome::gave_up:
        return "no 220 within " + seconds_text(static_cast<double>(give_up_ms)) +
               " (give_up_ms); gave up" +
               (result.reply.empty() ? "" : " (partial reply `" + result.reply + "`)");
      case GreetingOutcome::refused:
        return "connecting failed: " + result.error;
    }
    return "";
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_smtp_greeting_rule() {
  return std::make_unique<SmtpGreetingRule>();
}

}  // namespace qharden
