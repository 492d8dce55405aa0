#include "host/dns_first_answer.h"

namespace qharden {

bool is_dns_answer(DnsOutcome outcome) {
  return outcome == DnsOutcome::answer || outcome == DnsOutcome::nxdomain ||
         outcome == DnsOutcome::nodata;
}

Expected<std::vector<FirstAnswer>> ask_first_answer(const std::vector<std::string>& resolvers,
                                                    const std::vector<DnsQuestion>& questions,
                                                    const DnsProbeOptions& options) {
  std::vector<DnsServer> servers;
  for (const std::string& resolver : resolvers) {
    Expected<DnsServer> server = parse_dns_server(resolver);
    servers.push_back(server ? *server : DnsServer{resolver, 53, {}});
  }
  std::vector<DnsQuery> queries;
  for (const DnsQuestion& question : questions) {
    for (std::size_t server = 0; server < servers.size(); ++server)
      queries.push_back({server, question.name, question.type});
  }
  std::vector<FirstAnswer> answers(questions.size());
  if (servers.empty()) {
    for (FirstAnswer& answer : answers) {
      answer.result.outcome = DnsOutcome::other;
      answer.result.detail = "no resolver to ask";
    }
    return answers;
  }
  Expected<std::vector<DnsResult>> results = probe_dns(servers, queries, options);
  if (!results) return fail_with(results.error().message);
  for (std::size_t question = 0; question < questions.size(); ++question) {
    std::size_t first = question * servers.size();
    std::size_t chosen = first;
    for (std::size_t index = first; index < first + servers.size(); ++index) {
      if (is_dns_answer((*results)[index].outcome)) {
        chosen = index;
        break;
      }
    }
    answers[question].result = (*results)[chosen];
    answers[question].resolver = servers[chosen - first].describe();
  }
  return answers;
}

}  // namespace qharden
