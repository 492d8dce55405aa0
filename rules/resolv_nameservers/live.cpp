#include "resolv_nameservers/live.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "host/dns_probe.h"

namespace qharden {
namespace {

constexpr int kLookupsPerConnection = 2;  // tcp-env: PTR of the local and the remote address
// Recursive queries skip djbdns's 1 s round (see resolv_conf.h).
constexpr int kDjbdnsFirstRoundSeconds = 3;

std::string error_class(DnsOutcome outcome) {
  switch (outcome) {
    case DnsOutcome::answer:
    case DnsOutcome::nxdomain:
    case DnsOutcome::nodata:
      return "";
    case DnsOutcome::timeout:
      return "timeout";
    case DnsOutcome::refused:
      return "refused";
    case DnsOutcome::unreachable:
      return "unreachable";
    case DnsOutcome::servfail:
    case DnsOutcome::other:
      return "servfail";
  }
  return "servfail";
}

nlohmann::json describe(const DnsQuery& query, const DnsResult& result) {
  return {{"name", query.name},
          {"type", dns_record_type_name(query.type)},
          {"outcome", dns_outcome_name(result.outcome)},
          {"latency_ms", std::round(result.latency_ms * 10) / 10},
          {"answers", result.answers}};
}

// What a silent server at this place costs one SMTP connection, per model.
std::string stall_note(const UsedNameserver& server, const ResolvConf& conf, int glibc_count) {
  std::string note;
  if (server.glibc_position >= 0) {
    int position = server.glibc_position;
    int wait = position == 0
                   ? conf.timeout_seconds
                   : std::max(1, (conf.timeout_seconds << position) / std::max(1, glibc_count));
    int per_lookup = wait * conf.attempts;
    note += "; glibc (tcp-env) waits " + std::to_string(per_lookup) +
            " s on it per lookup (timeout:" + std::to_string(conf.timeout_seconds) +
            " attempts:" + std::to_string(conf.attempts) + "), " +
            std::to_string(per_lookup * kLookupsPerConnection) +
            " s per connection for its 2 PTR lookups";
  }
  bool djbdns = false;
  for (const std::string& user : server.used_by)
    djbdns = djbdns || user.find("glibc") == std::string::npos;
  if (djbdns) {
    note += "; djbdns (tcpserver, rblsmtpd) waits " + std::to_string(kDjbdnsFirstRoundSeconds) +
            " s on it per lookup before asking the next server, and 3+11+45 = 59 s when no "
            "server answers";
  }
  return note;
}

}  // namespace

std::vector<Finding> probe_nameservers(const RuleInfo& info,
                                       const std::vector<UsedNameserver>& used,
                                       const ResolvConf& conf, const Config& config) {
  const Config::ResolvNameservers& policy = config.resolv_nameservers;
  std::vector<Finding> findings;
  std::vector<DnsServer> servers;
  std::vector<DnsQuery> queries;
  Expected<std::string> reverse = reverse_lookup_name(policy.reverse_probe);
  for (std::size_t index = 0; index < used.size(); ++index) {
    Expected<DnsServer> server = parse_dns_server(used[index].address);
    servers.push_back(server ? *server : DnsServer{used[index].address, 53, {}});
    queries.push_back({index, policy.forward_probe, DnsRecordType::a});
    queries.push_back({index, reverse ? *reverse : policy.reverse_probe, DnsRecordType::ptr});
  }
  DnsProbeOptions options;
  options.timeout = std::chrono::milliseconds(policy.timeout_ms);
  options.tries = static_cast<int>(policy.tries);
  Expected<std::vector<DnsResult>> results = probe_dns(servers, queries, options);
  if (!results) {
    findings.push_back(
        make_finding(info, std::string(info.id), Status::error, results.error().message));
    return findings;
  }
  int glibc_count = 0;
  for (const UsedNameserver& server : used) glibc_count += server.glibc_position >= 0;
  std::vector<bool> dead(used.size(), false);
  std::size_t healthy = 0;
  for (std::size_t index = 0; index < used.size(); ++index) {
    const DnsResult& forward = (*results)[2 * index];
    const DnsResult& backward = (*results)[2 * index + 1];
    dead[index] = !error_class(forward.outcome).empty() || !error_class(backward.outcome).empty();
    healthy += !dead[index];
  }
  for (std::size_t index = 0; index < used.size(); ++index) {
    const UsedNameserver& server = used[index];
    const DnsResult& forward = (*results)[2 * index];
    const DnsResult& backward = (*results)[2 * index + 1];
    double latency = std::max(forward.latency_ms, backward.latency_ms);
    std::string error = error_class(forward.outcome);
    const DnsResult* failed = &forward;
    if (error.empty()) {
      error = error_class(backward.outcome);
      failed = &backward;
    }
    Finding finding = make_finding(info, server.address, Status::pass, "");
    finding.evidence = {{"latency_ms", std::round(latency * 10) / 10},
                        {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)},
                        {"used_by", server.used_by},
                        {"forward", describe(queries[2 * index], forward)},
                        {"reverse", describe(queries[2 * index + 1], backward)}};
    std::string probes = "forward probe " + policy.forward_probe + " " +
                         std::string(dns_outcome_name(forward.outcome)) + ", reverse probe " +
                         policy.reverse_probe + " " +
                         std::string(dns_outcome_name(backward.outcome));
    if (failed->outcome == DnsOutcome::other) {
      finding.status = Status::error;
      finding.evidence["error"] = nullptr;
      finding.message = server.address + ": cannot be probed: " + failed->detail;
    } else if (!error.empty()) {
      bool first = server.glibc_position == 0 || index == 0;
      finding.status = Status::fail;
      finding.severity = first || healthy == 0 ? Severity::critical : Severity::warning;
      finding.fixable = server.in_resolv_conf;
      finding.message =
          server.address + " is dead (" + error + ": " + probes + ", " +
          std::to_string(static_cast<long>(latency)) + " ms)" +
          (first ? "; it is the first nameserver, so every connection pays for it" : "") +
          (healthy == 0 ? "; no nameserver answers at all" : "") +
          (failed->outcome == DnsOutcome::timeout
               ? stall_note(server, conf, glibc_count)
               : "; both resolvers move on to the next server at once");
    } else if (latency > static_cast<double>(policy.max_latency_ms)) {
      finding.status = Status::fail;
      finding.severity = Severity::warning;
      finding.message =
          server.address + " answers, but slowly: " + std::to_string(static_cast<long>(latency)) +
          " ms (max_latency_ms " + std::to_string(policy.max_latency_ms) + "); " + probes;
    } else {
      finding.message = server.address + " answers in " +
                        std::to_string(static_cast<long>(latency)) + " ms (" + probes + ")";
    }
    findings.push_back(std::move(finding));
  }
  return findings;
}

Expected<std::string> rewrite_resolv_conf(
    const std::string& text, const std::vector<std::pair<std::string, std::string>>& dead,
    const std::string& policy_options) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  std::vector<std::string> healthy_lines;
  std::vector<std::string> disabled_lines;
  std::vector<std::string> kept;
  std::optional<std::size_t> nameservers_at;
  for (const std::string& line : lines) {
    std::istringstream words(line);
    std::string keyword;
    std::string value;
    words >> keyword >> value;
    bool nameserver = line.rfind("nameserver", 0) == 0 && line.size() > 10 &&
                      (line[10] == ' ' || line[10] == '\t');
    if (nameserver) {
      if (!nameservers_at) nameservers_at = kept.size();
      // The findings name the address as the parser writes it ("::1" for a
      // line saying 0:0:0:0:0:0:0:1), so the line is read the same way.
      ResolvConf read = parse_resolv_conf(line);
      std::string address = read.nameservers.empty() ? value : read.nameservers.front().address;
      auto reason = std::find_if(dead.begin(), dead.end(),
                                 [&](const auto& entry) { return entry.first == address; });
      if (reason == dead.end()) {
        healthy_lines.push_back(line);
      } else {
        disabled_lines.push_back("# qharden: " + reason->second + ": " + line);
      }
      continue;
    }
    if (line.rfind("options", 0) == 0 && line.size() > 7 && (line[7] == ' ' || line[7] == '\t')) {
      std::string rebuilt = "options";
      std::string option;
      std::istringstream options(line.substr(7));
      while (options >> option) {
        if (option.rfind("timeout:", 0) != 0 && option.rfind("attempts:", 0) != 0)
          rebuilt += " " + option;
      }
      if (rebuilt != "options") kept.push_back(rebuilt);
      continue;
    }
    kept.push_back(line);
  }
  if (healthy_lines.empty()) {
    return fail_with(
        "no nameserver in it answers; qharden will not comment out every one (glibc would then ask "
        "127.0.0.1); fix or replace the servers first");
  }
  std::vector<std::string> block = healthy_lines;
  block.insert(block.end(), disabled_lines.begin(), disabled_lines.end());
  kept.insert(kept.begin() + static_cast<long>(nameservers_at.value_or(kept.size())), block.begin(),
              block.end());
  // fix_options set empty: the servers are reordered, and no bare "options".
  if (!policy_options.empty()) kept.push_back("options " + policy_options);
  std::string result;
  for (const std::string& line : kept) result += line + "\n";
  return result;
}

}  // namespace qharden
