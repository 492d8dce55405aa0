// rblsmtpd.sources' live probes. The verdict of a zone comes from the first
// resolver djbdns would get an answer from: it moves on to the next server
// after a timeout, a SERVFAIL or a REFUSED, and at once on an ICMP
// port-unreachable. Only when no resolver answers does a failure decide, the
// first one that is not a port-unreachable if there is one.
#include "rblsmtpd_sources/live.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "dnsbl_self/classify.h"
#include "host/dns_probe.h"
#include "parsers/resolv_conf.h"

namespace qharden {
namespace {

constexpr std::string_view kListedPoint = "127.0.0.2";
constexpr std::string_view kUnlistedPoint = "127.0.0.1";

struct Asked {
  std::size_t result = 0;
  bool listed_point = false;
  DnsRecordType type = DnsRecordType::a;
};

std::string describe(const DnsQuery& query, const DnsResult& result) {
  return std::string(dns_record_type_name(query.type)) + " " + query.name + ": " +
         std::string(dns_outcome_name(result.outcome));
}

ZoneVerdict judge(const std::string& resolver, const std::vector<Asked>& asked,
                  const std::vector<DnsQuery>& queries, const std::vector<DnsResult>& results,
                  const Config::RblsmtpdSources& policy) {
  ZoneVerdict verdict;
  verdict.resolver = resolver;
  std::string failure;
  std::string failure_detail;
  bool listed_unlisted_point = false;
  bool missing_text = false;
  bool missing_address = false;
  std::string blocked_code;
  for (const Asked& each : asked) {
    const DnsResult& result = results[each.result];
    const DnsQuery& query = queries[each.result];
    verdict.latency_ms = std::max(verdict.latency_ms, result.latency_ms);
    if (each.type == DnsRecordType::a) {
      for (const std::string& address : result.answers) {
        if (is_resolver_blocked_code(address)) blocked_code = address;
      }
    } else if (each.type == DnsRecordType::txt) {
      // Spamhaus pairs 127.255.255.254 with TXT "Error: open resolver; ...".
      // rblsmtpd -r takes any TXT as the refusal text, for every client.
      for (const std::string& text : result.answers) {
        if (is_resolver_error_text(text)) {
          if (blocked_code.empty()) blocked_code = "TXT \"" + text + "\"";
          verdict.listed_by_text = true;
        }
      }
    }
    bool answered = result.outcome == DnsOutcome::answer;
    bool denied = result.outcome == DnsOutcome::nxdomain || result.outcome == DnsOutcome::nodata;
    if (!answered && !denied && failure.empty()) {
      failure = result.outcome == DnsOutcome::timeout       ? "timeout"
                : result.outcome == DnsOutcome::refused     ? "refused"
                : result.outcome == DnsOutcome::unreachable ? "refused"
                                                            : "servfail";
      failure_detail =
          describe(query, result) +
          (result.outcome == DnsOutcome::unreachable ? " (ICMP port unreachable)" : "") +
          (result.detail.empty() ? "" : " (" + result.detail + ")");
    }
    if (!each.listed_point && answered) {
      listed_unlisted_point = true;
      if (each.type == DnsRecordType::txt) verdict.listed_by_text = true;
      if (verdict.detail.empty())
        verdict.detail = describe(query, result) + " " + result.answers.front();
    }
    if (each.listed_point && !answered && denied) {
      (each.type == DnsRecordType::txt ? missing_text : missing_address) = true;
    }
  }
  if (!blocked_code.empty()) {
    verdict.verdict = "resolver-blocked";
    verdict.detail =
        (blocked_code.starts_with("TXT") ? blocked_code : "A " + blocked_code) + " at a test point";
  } else if (!failure.empty()) {
    verdict.verdict = failure;
    verdict.detail = failure_detail;
  } else if (listed_unlisted_point) {
    verdict.verdict = "lists-everything";
  } else if (missing_text && !missing_address) {
    // rblsmtpd -r reads TXT only: an A-only zone never blocks anyone.
    verdict.verdict = "no-txt";
    verdict.detail = std::string(kListedPoint) + " is listed by A but has no TXT record";
  } else if (missing_text || missing_address) {
    verdict.verdict = "test-point-missing";
    verdict.detail = std::string(kListedPoint) + " is not listed (" +
                     (missing_text && missing_address ? "no TXT and no A"
                      : missing_text                  ? "no TXT, which rblsmtpd reads"
                                                      : "no A") +
                     ")";
  } else if (verdict.latency_ms > static_cast<double>(policy.max_latency_ms)) {
    verdict.verdict = "slow";
    verdict.detail = "the slowest test-point query took " +
                     std::to_string(static_cast<long>(verdict.latency_ms)) +
                     " ms (max_latency_ms " + std::to_string(policy.max_latency_ms) + ")";
  } else {
    verdict.verdict = "ok";
  }
  return verdict;
}

}  // namespace

std::vector<std::string> rblsmtpd_resolvers(const ServiceCommand& command,
                                            const std::string& resolv_conf_text) {
  auto cache = command.details->environment.find("DNSCACHEIP");
  if (cache != command.details->environment.end()) {
    std::vector<std::string> from_environment = djbdns_nameservers_from_dnscacheip(cache->second);
    if (!from_environment.empty()) return from_environment;
  }
  return djbdns_nameservers(resolv_conf_text);
}

Expected<std::vector<ZoneVerdict>> probe_zones(const std::vector<ZoneCheck>& checks,
                                               const Config::RblsmtpdSources& policy) {
  std::vector<DnsServer> servers;
  std::map<std::string, std::size_t> server_index;
  std::vector<DnsQuery> queries;
  // asked[check][resolver] lists the queries of that pair.
  std::vector<std::vector<std::vector<Asked>>> asked(checks.size());
  for (std::size_t check_index = 0; check_index < checks.size(); ++check_index) {
    const ZoneCheck& check = checks[check_index];
    for (const std::string& resolver : check.resolvers) {
      auto [entry, added] = server_index.emplace(resolver, servers.size());
      if (added) {
        Expected<DnsServer> server = parse_dns_server(resolver);
        servers.push_back(server ? *server : DnsServer{resolver, 53, {}});
      }
      std::vector<Asked>& pair = asked[check_index].emplace_back();
      for (bool listed_point : {true, false}) {
        Expected<std::string> name =
            dnsbl_query_name(listed_point ? kListedPoint : kUnlistedPoint, check.zone);
        std::vector<DnsRecordType> types = {DnsRecordType::a};
        if (check.text_lookup) types.insert(types.begin(), DnsRecordType::txt);
        for (DnsRecordType type : types) {
          pair.push_back({queries.size(), listed_point, type});
          queries.push_back({entry->second, name ? *name : check.zone, type});
        }
      }
    }
  }
  DnsProbeOptions options;
  options.timeout = std::chrono::milliseconds(policy.timeout_ms);
  options.tries = static_cast<int>(policy.tries);
  Expected<std::vector<DnsResult>> results = probe_dns(servers, queries, options);
  if (!results) return fail_with(results.error().message);
  std::vector<ZoneVerdict> verdicts;
  for (std::size_t check_index = 0; check_index < checks.size(); ++check_index) {
    const ZoneCheck& check = checks[check_index];
    std::optional<ZoneVerdict> decided;
    std::optional<ZoneVerdict> first_failure;
    std::optional<ZoneVerdict> first_unreachable;
    nlohmann::json all = nlohmann::json::array();
    for (std::size_t resolver_index = 0; resolver_index < check.resolvers.size();
         ++resolver_index) {
      const std::vector<Asked>& pair = asked[check_index][resolver_index];
      bool unreachable = false;
      for (const Asked& each : pair) {
        const DnsResult& result = (*results)[each.result];
        unreachable = unreachable || result.outcome == DnsOutcome::unreachable;
        all.push_back({{"resolver", check.resolvers[resolver_index]},
                       {"name", queries[each.result].name},
                       {"type", dns_record_type_name(queries[each.result].type)},
                       {"outcome", dns_outcome_name(result.outcome)},
                       {"latency_ms", std::round(result.latency_ms * 10) / 10},
                       {"answers", result.answers}});
      }
      ZoneVerdict verdict = judge(check.resolvers[resolver_index], pair, queries, *results, policy);
      bool failed = verdict.verdict == "timeout" || verdict.verdict == "servfail" ||
                    verdict.verdict == "refused";
      if (!failed) {
        if (!decided) decided = std::move(verdict);
      } else if (unreachable) {
        if (!first_unreachable) first_unreachable = std::move(verdict);
      } else if (!first_failure) {
        first_failure = std::move(verdict);
      }
    }
    if (decided && (first_failure || first_unreachable)) {
      const ZoneVerdict& skipped = first_failure ? *first_failure : *first_unreachable;
      decided->detail += std::string(decided->detail.empty() ? "" : "; ") + "only after " +
                         skipped.verdict + " on " + skipped.resolver;
    }
    if (!decided) decided = first_failure ? first_failure : first_unreachable;
    if (!decided) decided = ZoneVerdict{"refused", "no resolver to ask", "", 0, false, {}};
    decided->queries = std::move(all);
    verdicts.push_back(std::move(*decided));
  }
  return verdicts;
}

}  // namespace qharden
