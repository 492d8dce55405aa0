// dnsbl.self: no sending address is listed on the configured DNSBL zones.
// Every query (each zone's RFC 5782 test points and every address in every
// zone, through every resolver) is in flight at once, so an audit costs about
// one DNS timeout however many zones are dead; the test points are judged
// first (classify.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "config/config.h"
#include "dnsbl_self/classify.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/dns_first_answer.h"
#include "host/host.h"
#include "host/sending_addresses.h"
#include "parsers/resolv_conf.h"

namespace qharden {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

class DnsblSelfRule final : public Rule {
 public:
  DnsblSelfRule() {
    info_.id = "dnsbl.self";
    info_.severity = Severity::critical;
    info_.summary = "no sending address is listed on the configured DNSBL zones";
    info_.explanation =
        "A host listed on a DNSBL has its mail refused by every receiver that uses it. The rule "
        "checks each sending address (rules.\"dnsbl.self\" addresses, else smtp.identity's: the "
        "kernel's source address of a route to route_probe) against each zone (zones, else the "
        "defaults of the built-in dnsbl-zones.toml: psbl.surriel.com, bl.mailspike.net and "
        "bl.spamcop.net, whose published terms allow a commercial host's audit volume; "
        "Spamhaus only when configured, since its free use is non-commercial). Every query "
        "goes out at once through the resolvers (resolvers, else resolv.conf's first three). "
        "Each zone's RFC 5782 test points are judged first: 2.0.0.127 must be listed and "
        "1.0.0.127 must not, else the zone is unusable from here (error). A 127.255.255.x "
        "answer means the zone refuses this resolver (public or open resolver, too many "
        "queries): an error, never a listing and never a pass. A 127.0.0.x answer for an "
        "address fails, naming the zone and the meaning of its code; NXDOMAIN passes; a "
        "timeout or SERVFAIL is an error. No fix: the message says what the listing means, "
        "and delisting is done at the list.";
    info_.touches =
        "reads resolv.conf and the built-in dnsbl-zones.toml; asks the kernel for a route (no "
        "packet); queries A records of the zones";
    info_.needs_live_state = true;
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    std::vector<Finding> findings;
    const Config::DnsblSelf& policy = context.config.dnsbl_self;
    auto whole = [&](Status status, std::string message) {
      findings.push_back(make_finding(info_, std::string(info_.id), status, std::move(message)));
      return findings;
    };
    if (context.offline) return whole(Status::skip, "--offline: no DNS queries");
    Expected<std::vector<DnsblZoneData>> data =
        load_dnsbl_zone_data(builtin_dnsbl_zones_text(), "built-in dnsbl-zones.toml");
    if (!data) return whole(Status::error, data.error().message);
    std::vector<std::string> zones = policy.zones;
    if (zones.empty()) {
      for (const DnsblZoneData& zone : *data)
        if (zone.is_default) zones.push_back(zone.zone);
    }
    if (zones.empty()) return whole(Status::skip, "no DNSBL zone configured");
    SendingAddresses sending = discover_sending_addresses(
        policy.addresses.empty() ? context.config.smtp_identity.addresses : policy.addresses,
        context.config.smtp_identity.route_probe);
    if (sending.addresses.empty()) {
      return whole(Status::error, "no sending address found (" + join(sending.notes) +
                                      "); set [rules.\"dnsbl.self\"] addresses");
    }
    std::vector<std::string> resolvers = policy.resolvers;
    if (resolvers.empty()) resolvers = host_resolvers(context);

    // One round: per zone its two test points, then each address it covers.
    struct Plan {
      std::string zone;
      const DnsblZoneData* data = nullptr;
      std::size_t first = 0;                 // index of its 2.0.0.127 question
      std::vector<std::size_t> addresses;    // into sending.addresses
      std::vector<std::string> not_queried;  // IPv6 addresses on an IPv4-only zone
    };
    std::vector<Plan> plans;
    std::vector<DnsQuestion> questions;
    for (const std::string& zone : zones) {
      Plan plan{zone, find_dnsbl_zone_data(*data, zone), questions.size(), {}, {}};
      for (const char* point : {"127.0.0.2", "127.0.0.1"}) {
        Expected<std::string> name = dnsbl_name_for_address(point, zone);
        questions.push_back({name ? *name : zone, DnsRecordType::a});
      }
      for (std::size_t index = 0; index < sending.addresses.size(); ++index) {
        const SendingAddress& address = sending.addresses[index];
        if (address.ipv6 && (plan.data == nullptr || !plan.data->ipv6)) {
          plan.not_queried.push_back(address.address);
          continue;
        }
        Expected<std::string> name = dnsbl_name_for_address(address.address, zone);
        plan.addresses.push_back(index);
        questions.push_back({name ? *name : zone, DnsRecordType::a});
      }
      plans.push_back(std::move(plan));
    }
    DnsProbeOptions options;
    options.timeout = std::chrono::milliseconds(policy.timeout_ms);
    options.tries = static_cast<int>(policy.tries);
    Expected<std::vector<FirstAnswer>> answers = ask_first_answer(resolvers, questions, options);
    if (!answers) return whole(Status::error, answers.error().message);

    for (const Plan& plan : plans) {
      TestPointResults points{(*answers)[plan.first].result, (*answers)[plan.first + 1].result};
      std::vector<std::pair<std::string, DnsResult>> results;
      for (std::size_t offset = 0; offset < plan.addresses.size(); ++offset) {
        results.emplace_back(sending.addresses[plan.addresses[offset]].address,
                             (*answers)[plan.first + 2 + offset].result);
      }
      ZoneJudgement judgement = judge_zone(plan.zone, plan.data, points, results);
      // A zone that refuses public resolvers may answer them anything (Spamhaus:
      // 127.255.255.254; through Google, NXDOMAIN for every name): whatever came
      // back through one says nothing about the addresses, so never a pass.
      const std::string& deciding = (*answers)[plan.first].resolver;
      const std::vector<std::string>& public_resolvers =
          context.config.rblsmtpd_sources.public_resolvers;
      if (plan.data != nullptr && plan.data->blocks_public_resolvers &&
          std::find(public_resolvers.begin(), public_resolvers.end(), deciding) !=
              public_resolvers.end() &&
          judgement.verdict != "resolver-blocked") {
        judgement.status = Status::error;
        judgement.detail = "it was asked through the public resolver " + deciding +
                           ", and it refuses public resolvers (the answer was " +
                           judgement.verdict + ", which means nothing from there)";
        judgement.verdict = "resolver-blocked";
      }
      Finding finding = make_finding(info_, plan.zone, judgement.status, "");
      if (judgement.status == Status::fail && plan.data != nullptr)
        finding.severity = plan.data->severity;
      nlohmann::json addresses = nlohmann::json::array();
      for (const AddressVerdict& each : judgement.addresses) {
        addresses.push_back({{"address", each.address},
                             {"verdict", each.verdict},
                             {"answers", each.answers},
                             {"meanings", each.meanings}});
      }
      auto point_evidence = [](const DnsResult& result) {
        return nlohmann::json{{"outcome", dns_outcome_name(result.outcome)},
                              {"answers", result.answers},
                              {"latency_ms", std::round(result.latency_ms * 10) / 10}};
      };
      finding.evidence = {{"zone", plan.zone},
                          {"verdict", judgement.verdict},
                          {"resolver", (*answers)[plan.first].resolver},
                          {"test_points",
                           {{"2.0.0.127", point_evidence(points.listed)},
                            {"1.0.0.127", point_evidence(points.unlisted)}}},
                          {"addresses", addresses},
                          {"terms", plan.data != nullptr ? plan.data->terms : std::string()},
                          {"known_zone", plan.data != nullptr}};
      if (!plan.not_queried.empty()) finding.evidence["ipv6_not_queried"] = plan.not_queried;
      std::string note = plan.not_queried.empty()
                             ? ""
                             : " (" + join(plan.not_queried) +
                                   " not asked: the zone is not known to answer for IPv6)";
      if (judgement.status == Status::pass) {
        finding.message = judgement.detail + note;
      } else if (judgement.status == Status::fail) {
        finding.message = judgement.detail +
                          ": receivers that use this list refuse or junk the host's mail. "
                          "Find and stop the cause, then ask the list for removal" +
                          note;
      } else {
        finding.message = plan.zone + " could not be checked from here: " + judgement.detail +
                          (judgement.verdict == "resolver-blocked"
                               ? ". Query it through a resolver of your own (set "
                                 "[rules.\"dnsbl.self\"] resolvers)"
                               : "") +
                          note;
      }
      findings.push_back(std::move(finding));
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

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_dnsbl_self_rule() {
  return std::make_unique<DnsblSelfRule>();
}

}  // namespace qharden
