// DNS answers made up per query for rule tests: the real prober is replaced
// for the lifetime of a CannedDns, so no query leaves the process. Records
// every query as "SERVER NAME" and counts the prober's rounds (one round is
// one set of queries sent at once).
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "host/dns_probe.h"

namespace qharden::testing {

inline DnsResult canned(DnsOutcome outcome, std::vector<std::string> answers = {}) {
  return DnsResult{outcome, 3, std::move(answers), ""};
}

class CannedDns {
 public:
  explicit CannedDns(std::function<DnsResult(const DnsQuery&)> answer) {
    replace_dns_probe_for_tests(
        [this, answer](const std::vector<DnsServer>& servers, const std::vector<DnsQuery>& queries,
                       const DnsProbeOptions&) -> Expected<std::vector<DnsResult>> {
          ++rounds;
          std::vector<DnsResult> results;
          for (const DnsQuery& query : queries) {
            asked.push_back(servers[query.server].describe() + " " + query.name);
            results.push_back(answer(query));
          }
          return results;
        });
  }
  ~CannedDns() { replace_dns_probe_for_tests(nullptr); }
  CannedDns(const CannedDns&) = delete;
  CannedDns& operator=(const CannedDns&) = delete;
  bool was_asked(const std::string& text) const {
    return std::find(asked.begin(), asked.end(), text) != asked.end();
  }
  std::vector<std::string> asked;
  int rounds = 0;
};

}  // namespace qharden::testing
