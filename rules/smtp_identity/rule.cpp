// smtp.identity: each sending address has a PTR that forward-confirms
// (FCrDNS), and control/me, helohost and smtpgreeting name a confirmed host.
// Receivers such as Gmail refuse mail from an address without FCrDNS; the
// seed's check calls a failure here "SMTP Reverse DNS Mismatch".
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "config/config.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/dns_first_answer.h"
#include "host/host.h"
#include "host/sending_addresses.h"
#include "parsers/qmail_control.h"
#include "parsers/resolv_conf.h"

namespace qharden {
namespace {

std::string host_name(std::string_view name) {
  std::string text = lower_case_ascii(name);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// Addresses compared as the kernel writes them: "2001:DB8::1" and
// "2001:db8:0::1" are one address.
std::string canonical_address(const std::string& address) {
  unsigned char buffer[16];
  char text[64] = {};
  if (::inet_pton(AF_INET, address.c_str(), buffer) == 1) {
    ::inet_ntop(AF_INET, buffer, text, sizeof(text));
    return text;
  }
  if (::inet_pton(AF_INET6, address.c_str(), buffer) == 1) {
    ::inet_ntop(AF_INET6, buffer, text, sizeof(text));
    return text;
  }
  return address;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// One name qmail uses, and where it came from.
struct QmailName {
  std::string file;   // "me", "helohost", "smtpgreeting"
  std::string name;   // lower case, "" when there is none
  std::string from;   // "file" or "me" (the default)
  std::string error;  // the file is unreadable
};

struct ControlNames {
  std::vector<QmailName> names;
  std::string me;
  bool me_missing = false;
  std::string me_error;
};

ControlNames read_control_names(const Host& host, const std::string& folder) {
  ControlNames result;
  ControlFile me = read_control_file(host, folder + "/me");
  if (me.state == ControlState::present && !me.lines.empty()) {
    result.me = host_name(me.lines.front());
  } else if (me.state == ControlState::unreadable) {
    result.me_error = me.error;
  } else {
    result.me_missing = true;
  }
  result.names.push_back({"me", result.me, "file", result.me_error});
  for (const char* file : {"helohost", "smtpgreeting"}) {
    ControlFile control = read_control_file(host, folder + "/" + file);
    QmailName name{file, result.me, "me", ""};
    if (control.state == ControlState::unreadable) {
      name.error = control.error;
      name.name.clear();
    } else if (control.state == ControlState::present && !control.lines.empty()) {
      std::string first = control.lines.front();
      // "The first word of smtpgreeting should be the current host's name."
      std::size_t end = first.find_first_of(" \t");
      name.name = host_name(first.substr(0, end));
      name.from = "file";
    }
    result.names.push_back(std::move(name));
  }
  return result;
}

class SmtpIdentityRule final : public Rule {
 public:
  SmtpIdentityRule() {
    info_.id = "smtp.identity";
    info_.severity = Severity::warning;
    info_.summary =
        "each sending address has forward-confirmed reverse DNS that me, helohost "
        "and smtpgreeting name";
    info_.explanation =
        "Receivers check who is sending: Gmail requires every sending address to have a PTR "
        "record whose name has an A (or AAAA) record pointing back at the address (FCrDNS), "
        "and rejects mail with 550-5.7.25 otherwise; many others score it. The rule takes the "
        "sending addresses from [rules.\"smtp.identity\"] addresses, or else the source address "
        "the kernel picks for a route to each route_probe address (a UDP connect, no packet "
        "sent). For each it asks the PTR, then A/AAAA of every PTR name, through resolv.conf's "
        "first three nameservers, all at once. It fails when there is no PTR, when no PTR name "
        "points back, or when control/me, control/helohost (qmail-remote's HELO, default me) "
        "or the first word of control/smtpgreeting (qmail-smtpd's 220, default me) is not one "
        "of the confirmed names: the seed's \"SMTP Reverse DNS Mismatch\". A timeout or "
        "SERVFAIL is an error, never a failure. qmail-remote uses one helohost for every "
        "address, so on a host with several sending addresses only one can match. No fix: the "
        "message names the records and files to change.";
    info_.touches =
        "reads control/me, control/helohost, control/smtpgreeting under paths.qmail_control "
        "and resolv.conf; asks the kernel for a route (no packet); queries PTR, A and AAAA";
    info_.needs_live_state = true;
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    std::vector<Finding> findings;
    const Config::SmtpIdentity& policy = context.config.smtp_identity;
    if (context.offline) {
      findings.push_back(make_finding(info_, std::string(info_.id), Status::skip,
                                      "--offline: no DNS queries and no route lookup"));
      return findings;
    }
    SendingAddresses sending = discover_sending_addresses(policy.addresses, policy.route_probe);
    if (sending.addresses.empty()) {
      Finding finding = make_finding(
          info_, std::string(info_.id), Status::error,
          "no sending address found (" + join(sending.notes) +
              "); set [rules.\"smtp.identity\"] addresses to the addresses mail leaves from");
      finding.evidence = {{"notes", sending.notes}};
      findings.push_back(std::move(finding));
      return findings;
    }
    std::vector<std::string> resolvers = host_resolvers(context);
    ControlNames names = read_control_names(context.host, context.config.paths.qmail_control);

    DnsProbeOptions options;
    options.timeout = std::chrono::milliseconds(policy.timeout_ms);
    options.tries = static_cast<int>(policy.tries);
    std::vector<DnsQuestion> reverse;
    for (const SendingAddress& address : sending.addresses) {
      Expected<std::string> name = reverse_lookup_name(address.address);
      reverse.push_back({name ? *name : address.address, DnsRecordType::ptr});
    }
    Expected<std::vector<FirstAnswer>> pointers = ask_first_answer(resolvers, reverse, options);
    if (!pointers) {
      findings.push_back(
          make_finding(info_, std::string(info_.id), Status::error, pointers.error().message));
      return findings;
    }
    // Second round: the forward records of every PTR name, all at once.
    std::vector<DnsQuestion> forward;
    std::map<std::pair<std::string, bool>, std::size_t> forward_index;
    for (std::size_t index = 0; index < sending.addresses.size(); ++index) {
      const FirstAnswer& pointer = (*pointers)[index];
      if (pointer.result.outcome != DnsOutcome::answer) continue;
      bool ipv6 = sending.addresses[index].ipv6;
      for (const std::string& name : pointer.result.answers) {
        auto key = std::make_pair(host_name(name), ipv6);
        if (forward_index.emplace(key, forward.size()).second)
          forward.push_back({key.first, ipv6 ? DnsRecordType::aaaa : DnsRecordType::a});
      }
    }
    std::vector<FirstAnswer> forward_answers;
    if (!forward.empty()) {
      Expected<std::vector<FirstAnswer>> asked = ask_first_answer(resolvers, forward, options);
      if (!asked) {
        findings.push_back(
            make_finding(info_, std::string(info_.id), Status::error, asked.error().message));
        return findings;
      }
      forward_answers = std::move(*asked);
    }
    for (std::size_t index = 0; index < sending.addresses.size(); ++index) {
      findings.push_back(judge(sending.addresses[index], (*pointers)[index], forward, forward_index,
                               forward_answers, names));
    }
    return findings;
  }

 private:
  static std::vector<std::string> host_resolvers(const AuditContext& context) {
    std::string text;
    if (context.host.exists(context.config.paths.resolv_conf)) {
      Expected<std::string> read = context.host.read_file(context.config.paths.resolv_conf);
      if (read) text = *read;
    }
    return glibc_nameservers(parse_resolv_conf(text));
  }

  Finding judge(const SendingAddress& address, const FirstAnswer& pointer,
                const std::vector<DnsQuestion>& forward,
                const std::map<std::pair<std::string, bool>, std::size_t>& forward_index,
                const std::vector<FirstAnswer>& forward_answers, const ControlNames& names) const {
    Finding finding = make_finding(info_, address.address, Status::pass, "");
    std::string wanted = canonical_address(address.address);
    nlohmann::json forward_evidence = nlohmann::json::object();
    std::vector<std::string> confirmed;
    std::vector<std::string> failed_lookups;
    std::vector<std::string> ptr_names;
    for (const std::string& name : pointer.result.answers) ptr_names.push_back(host_name(name));
    if (pointer.result.outcome == DnsOutcome::answer) {
      for (const std::string& name : ptr_names) {
        auto found = forward_index.find({name, address.ipv6});
        if (found == forward_index.end()) continue;
        const FirstAnswer& answer = forward_answers[found->second];
        forward_evidence[name] = answer.result.answers;
        if (!is_dns_answer(answer.result.outcome)) {
          failed_lookups.push_back(std::string(dns_record_type_name(forward[found->second].type)) +
                                   " " + name + ": " +
                                   std::string(dns_outcome_name(answer.result.outcome)));
          forward_evidence[name] = std::string(dns_outcome_name(answer.result.outcome));
          continue;
        }
        for (const std::string& each : answer.result.answers) {
          if (canonical_address(each) == wanted) {
            confirmed.push_back(name);
            break;
          }
        }
      }
    }
    finding.evidence = {{"address", address.address},
                        {"family", address.ipv6 ? "ipv6" : "ipv4"},
                        {"from", address.from},
                        {"ptr", ptr_names},
                        {"ptr_outcome", dns_outcome_name(pointer.result.outcome)},
                        {"confirmed", confirmed},
                        {"forward", forward_evidence},
                        {"resolver", pointer.resolver}};
    if (!address.route_probe.empty()) finding.evidence["route_probe"] = address.route_probe;
    nlohmann::json control = nlohmann::json::object();
    for (const QmailName& name : names.names)
      control[name.file] = {{"name", name.name}, {"from", name.from}};
    finding.evidence["control"] = control;
    std::string records = address.ipv6 ? "AAAA" : "A";

    if (pointer.result.outcome != DnsOutcome::answer) {
      if (!is_dns_answer(pointer.result.outcome)) {
        finding.status = Status::error;
        finding.message =
            "the PTR lookup of " + address.address + " got " +
            std::string(dns_outcome_name(pointer.result.outcome)) +
            (pointer.resolver.empty() ? "" : " from " + pointer.resolver) +
            (pointer.result.detail.empty() ? "" : " (" + pointer.result.detail + ")") +
            ": cannot tell whether it has reverse DNS";
        return finding;
      }
      finding.status = Status::fail;
      finding.message = address.address + " has no PTR record (" +
                        std::string(dns_outcome_name(pointer.result.outcome)) +
                        "): receivers such as Gmail refuse its mail (550-5.7.25). Ask whoever "
                        "holds the address block to set its PTR to the host's name, with an " +
                        records + " record of that name pointing back";
      return finding;
    }
    if (confirmed.empty()) {
      if (!failed_lookups.empty()) {
        finding.status = Status::error;
        finding.message = "the PTR of " + address.address + " names " + join(ptr_names) +
                          ", but the forward lookup failed (" + join(failed_lookups) +
                          "): cannot tell whether it points back";
        return finding;
      }
      finding.status = Status::fail;
      finding.message = address.address + " has PTR " + join(ptr_names) + ", but no " + records +
                        " record of that name points back to it (" + forward_evidence.dump() +
                        "): reverse DNS is not forward-confirmed, and receivers such as Gmail "
                        "refuse its mail. Add " +
                        records + " " + address.address + " to " + ptr_names.front() +
                        ", or change the PTR";
      return finding;
    }
    std::vector<std::string> mismatched;
    std::vector<std::string> problems;
    if (names.me_missing) {
      mismatched.push_back("me");
      problems.push_back("control/me is missing (qmail-smtpd and qmail-remote then refuse to run)");
    }
    for (const QmailName& name : names.names) {
      if (name.file == "me" && names.me_missing) continue;
      if (!name.error.empty()) {
        mismatched.push_back(name.file);
        problems.push_back("control/" + name.file + " is unreadable (" + name.error + ")");
        continue;
      }
      if (name.name.empty()) continue;  // helohost/smtpgreeting default to a missing me
      if (std::find(confirmed.begin(), confirmed.end(), name.name) == confirmed.end()) {
        mismatched.push_back(name.file);
        problems.push_back("control/" + name.file + (name.from == "me" ? " (not set, so me)" : "") +
                           " says " + name.name);
      }
    }
    finding.evidence["mismatched"] = mismatched;
    if (!mismatched.empty()) {
      finding.status = Status::fail;
      finding.message = address.address + " forward-confirms as " + join(confirmed) + ", but " +
                        join(problems) +
                        ": the name the host gives in HELO or in its greeting does not match its "
                        "reverse DNS (\"SMTP Reverse DNS Mismatch\"). Write " +
                        confirmed.front() + " there, or change the PTR";
      return finding;
    }
    finding.message = address.address + " has PTR " + join(ptr_names) + ", confirmed by its " +
                      records + " record, and me, helohost and smtpgreeting name " +
                      confirmed.front();
    return finding;
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_smtp_identity_rule() {
  return std::make_unique<SmtpIdentityRule>();
}

}  // namespace qharden
