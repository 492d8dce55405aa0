#include "smtp_open_relay/grants.h"

#include <map>

#include "host/host.h"
#include "parsers/cdb.h"
#include "parsers/getopt.h"
#include "parsers/tcprules.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {
namespace {

using nlohmann::json;

constexpr std::size_t kMaximumListed = 200;  // grants and dead rules kept in evidence

struct TcpserverSettings {
  std::optional<std::string> rules_cdb;  // -x
  bool missing_cdb_allowed = false;      // -X
  bool paranoid = false;                 // -p (the last of -p/-P wins)
  bool no_host_names = false;            // -H
  bool no_ident = false;                 // -R
};

TcpserverSettings read_tcpserver(const std::vector<std::string>& argv, std::size_t program) {
  TcpserverSettings settings;
  std::vector<std::string> words(argv.begin() + static_cast<long>(program) + 1, argv.end());
  GetoptResult parsed = parse_options(words, kTcpserverIpv6Optstring);
  for (const ParsedOption& option : parsed.options) {
    switch (option.letter) {
      case 'x':
        settings.rules_cdb = option.argument;
        break;
      case 'X':
        settings.missing_cdb_allowed = true;
        break;
      case 'p':
        settings.paranoid = true;
        break;
      case 'P':
        settings.paranoid = false;
        break;
      case 'H':
        settings.no_host_names = true;
        break;
      case 'h':
        settings.no_host_names = false;
        break;
      case 'R':
        settings.no_ident = true;
        break;
      case 'r':
        settings.no_ident = false;
        break;
      default:
        break;
    }
  }
  return settings;
}

// "1.2.3.4" (32 bits) or a prefix "1.2.3." (24), "1.2." (16), "1." (8), written
// the way tcpserver formats an address: decimal octets without leading zeros.
bool read_ipv4_key(const std::string& key, std::uint32_t& network, int& bits) {
  network = 0;
  int octets = 0;
  std::size_t position = 0;
  while (position < key.size()) {
    std::size_t end = key.find('.', position);
    std::string octet =
        key.substr(position, end == std::string::npos ? std::string::npos : end - position);
    if (octet.empty() || octet.size() > 3 ||
        octet.find_first_not_of("0123456789") != std::string::npos ||
        (octet.size() > 1 && octet.front() == '0') || std::stoi(octet) > 255 || octets == 4) {
      return false;
    }
    network |= static_cast<std::uint32_t>(std::stoi(octet)) << (24 - 8 * octets);
    ++octets;
    if (end == std::string::npos) {
      if (octets != 4) return false;  // "10.0.0" is never looked up: prefixes end with '.'
      bits = 32;
      return true;
    }
    position = end + 1;
    if (position == key.size()) {
      if (octets == 4) return false;
      bits = 8 * octets;
      return true;
    }
  }
  return false;
}

bool inside(std::uint32_t network, int bits, std::uint32_t block, int block_bits) {
  if (bits < block_bits) return false;
  std::uint32_t mask = block_bits == 0 ? 0 : ~0U << (32 - block_bits);
  return (network & mask) == block;
}

GrantReach reach_of(std::uint32_t network, int bits) {
  if (inside(network, bits, 0x7f000000U, 8)) return GrantReach::loopback;
  if (inside(network, bits, 0x0a000000U, 8) || inside(network, bits, 0xac100000U, 12) ||
      inside(network, bits, 0xc0a80000U, 16) || inside(network, bits, 0x64400000U, 10) ||
      inside(network, bits, 0xa9fe0000U, 16)) {
    return GrantReach::private_network;
  }
  return GrantReach::public_network;
}

// Why tcpserver never matches this key, or "" when it can.
std::string why_dead(const std::string& key, const TcpserverSettings& settings) {
  if (key.empty()) return "";
  std::string rest = key;
  std::size_t at = key.rfind('@');
  if (at != std::string::npos) {
    if (settings.no_ident)
      return "tcpserver runs with -R, so no ident answer (TCPREMOTEINFO) exists";
    rest = key.substr(at + 1);
  }
  if (!rest.empty() && rest.front() == '=') {
    if (settings.no_host_names) return "tcpserver runs with -H, so no host name is looked up";
    return "";
  }
  std::uint32_t network = 0;
  int bits = 0;
  if (read_ipv4_key(rest, network, bits)) return "";
  if (rest.find('/') != std::string::npos) {
    return "CIDR: tcprules 0.88 has no CIDR, the key is looked up literally and never matches";
  }
  if (!rest.empty() && rest.find_first_not_of("0123456789.") == std::string::npos) {
    return "not an address tcpserver looks up (a prefix must end with '.', octets without "
           "leading zeros)";
  }
  return "tcpserver never looks up this key";
}

std::string first_relayclient(const std::vector<std::pair<std::string, std::string>>& variables,
                              bool& found) {
  std::string value;
  found = false;
  for (const auto& [name, setting] : variables) {
    if (name == "RELAYCLIENT") {
      value = setting;  // tcpserver sets them in order, so the last one wins
      found = true;
    }
  }
  return value;
}

class GrantCollector {
 public:
  GrantCollector(const Host& host, const ServiceCommand& command, const GrantLimits& limits)
      : host_(host), command_(command), limits_(limits) {}

  ServiceGrants collect() {
    read_environment();
    std::optional<std::size_t> tcpserver = find_program_word(command_.argv, "tcpserver");
    if (tcpserver) read_rules(read_tcpserver(command_.argv, *tcpserver));
    result_.evidence["relaylock"] = find_program_word(command_.argv, "relaylock").has_value();
    if (result_.evidence["relaylock"].get<bool>()) {
      result_.evidence["relaylock_note"] =
          "Plesk's relaylock decides relaying after POP3 logins from data that cannot be read "
          "offline; the live probe is authoritative";
    }
    json grants = json::array();
    for (const RelayGrant& grant : result_.grants) {
      if (grants.size() >= kMaximumListed) break;
      json entry = {{"source", grant.source},
                    {"address", grant.address},
                    {"covers", to_string(grant.reach)},
                    {"value", grant.value},
                    {"opens_relay", grant.opens_relay}};
      entry["prefix_bits"] = grant.prefix_bits >= 0 ? json(grant.prefix_bits) : json(nullptr);
      grants.push_back(entry);
    }
    result_.evidence["grants"] = grants;
    if (result_.grants.size() > kMaximumListed) {
      result_.evidence["grants_not_listed"] = result_.grants.size() - kMaximumListed;
    }
    json dead = json::array();
    for (const DeadRule& rule : result_.dead_rules) {
      if (dead.size() >= kMaximumListed) break;
      dead.push_back({{"source", rule.source}, {"address", rule.address}, {"why", rule.why}});
    }
    result_.evidence["dead_rules"] = dead;
    return std::move(result_);
  }

 private:
  void read_environment() {
    auto relay = command_.details->environment.find("RELAYCLIENT");
    if (relay != command_.details->environment.end()) {
      std::string where;
      switch (command_.source) {
        case LaunchSource::xinetd:
          where = command_.file + ":" + std::to_string(command_.line) + " env";
          break;
        case LaunchSource::systemd:
          // Environment= or EnvironmentFile= of the service unit or a drop-in.
          where = command_.subject + " Environment=";
          break;
        case LaunchSource::inetd:
        case LaunchSource::run_script:
          where = command_.file + " (export or envdir)";
          break;
      }
      RelayGrant grant{where, "", GrantReach::everyone, -1, relay->second, true, false};
      result_.grants.push_back(grant);
      result_.environment_grants_everyone = true;
      result_.open_reasons.push_back("RELAYCLIENT is set for every connection by " + where);
    }
    for (const std::string& name : command_.details->passenv) {
      if (name != "RELAYCLIENT") continue;
      result_.warnings.push_back(
          "xinetd passes RELAYCLIENT from its own environment (passenv): if xinetd is started "
          "with it, every client can relay");
    }
    result_.evidence["passenv"] = command_.details->passenv;
    result_.evidence["environment_relayclient"] =
        relay != command_.details->environment.end() ? json(relay->second) : json(nullptr);
  }

  void read_rules(const TcpserverSettings& settings) {
    result_.evidence["tcpserver_paranoid"] = settings.paranoid;
    result_.evidence["tcpserver_no_host_names"] = settings.no_host_names;
    if (!settings.rules_cdb) {
      result_.evidence["cdb"] = nullptr;
      return;
    }
    const std::string& path = *settings.rules_cdb;
    json cdb = {
        {"path", path}, {"exists", false}, {"missing_allowed", settings.missing_cdb_allowed}};
    std::map<std::string, int> source_lines = read_text_source(path, cdb);
    Expected<FileStatus> status = host_.status(path, true);
    if (status && status->kind == FileKind::missing) {
      if (!settings.missing_cdb_allowed) {
        result_.warnings.push_back("tcpserver -x " + path +
                                   ": the cdb is missing, so tcpserver drops every connection "
                                   "(SMTP is down, not open)");
      }
      result_.evidence["cdb"] = cdb;
      return;
    }
    cdb["exists"] = true;
    Expected<std::string> bytes = host_.read_file(path);
    Expected<std::vector<CdbRecord>> records =
        bytes ? read_cdb_records(*bytes, path)
              : Expected<std::vector<CdbRecord>>(Unexpected(bytes.error()));
    if (!records) {
      result_.warnings.push_back("tcpserver -x " + path + ": " + records.error().message);
      result_.evidence["cdb"] = cdb;
      return;
    }
    std::map<std::string, std::string> first_data;
    for (const CdbRecord& record : *records) {
      if (first_data.count(record.key) != 0) continue;
      first_data[record.key] = record.data;
      result_.cdb_rules.emplace_back(record.key, record.data);
    }
    if (source_) {
      std::map<std::string, std::string> expected;
      for (const TcpRule& rule : source_->rules) {
        for (const std::string& key : rule.keys) expected.emplace(key, rule.data);
      }
      bool matches = expected == first_data;
      cdb["matches_source"] = matches;
      if (!matches && source_->compiles()) {
        result_.warnings.push_back(path + " does not hold the rules of " + source_->file +
                                   ": the edits are not live until tcprules is run");
      }
    }
    for (const auto& [key, data] : result_.cdb_rules)
      classify(key, data, settings, source_lines, path);
    result_.evidence["cdb"] = cdb;
  }

  std::map<std::string, int> read_text_source(const std::string& cdb_path, json& cdb) {
    std::map<std::string, int> lines;
    if (cdb_path.size() <= 4 || cdb_path.compare(cdb_path.size() - 4, 4, ".cdb") != 0) return lines;
    std::string text_path = cdb_path.substr(0, cdb_path.size() - 4);
    Expected<std::string> text = host_.read_file(text_path);
    if (!text) {
      cdb["text_source"] = nullptr;
      return lines;
    }
    cdb["text_source"] = text_path;
    source_ = parse_tcprules_text(text_path, *text);
    for (const TcprulesProblem& problem : source_->problems) {
      if (problem.fatal) {
        result_.warnings.push_back(problem.message +
                                   " (tcprules refuses the file, so the cdb keeps older rules)");
      }
    }
    for (const TcpRule& rule : source_->rules) {
      for (const std::string& key : rule.keys) lines.emplace(key, rule.line);
    }
    return lines;
  }

  void classify(const std::string& key, const std::string& data, const TcpserverSettings& settings,
                const std::map<std::string, int>& source_lines, const std::string& cdb_path) {
    auto line = source_lines.find(key);
    std::string source = line != source_lines.end()
                             ? source_->file + ":" + std::to_string(line->second)
                             : cdb_path + " (key \"" + key + "\")";
    std::string why = why_dead(key, settings);
    if (!why.empty()) {
      result_.dead_rules.push_back(DeadRule{source, key, why});
      result_.warnings.push_back(source + ": the rule for \"" + key + "\" never matches: " + why);
      return;
    }
    std::string value;
    if (!data_grants_relay(data, &value)) return;
    RelayGrant grant{source, key, GrantReach::everyone, -1, value, false, false};
    std::string rest = key.substr(key.rfind('@') == std::string::npos ? 0 : key.rfind('@') + 1);
    if (key.empty()) {
      grant.opens_relay = true;
      result_.open_reasons.push_back(source +
                                     ": the default rule grants RELAYCLIENT to every client");
    } else if (rest == "=") {
      grant.reach = GrantReach::any_hostname;
      grant.opens_relay = true;
      result_.open_reasons.push_back(source +
                                     ": \"=\" grants RELAYCLIENT to every client with a "
                                     "host name (PTR)");
    } else if (!rest.empty() && rest.front() == '=') {
      grant.reach = GrantReach::hostname;
      if (!settings.paranoid) {
        grant.opens_relay = true;
        result_.open_reasons.push_back(source + ": \"" + key +
                                       "\" trusts the client's PTR and tcpserver runs without -p, "
                                       "so anyone who controls their own reverse DNS can relay");
      }
    } else {
      std::uint32_t network = 0;
      read_ipv4_key(rest, network, grant.prefix_bits);
      grant.reach = reach_of(network, grant.prefix_bits);
      if (grant.reach == GrantReach::public_network &&
          grant.prefix_bits < limits_.public_prefix_max_bits) {
        grant.too_wide = true;
        result_.warnings.push_back(source + ": \"" + key + "\" grants RELAYCLIENT to a public /" +
                                   std::to_string(grant.prefix_bits) + ", wider than /" +
                                   std::to_string(limits_.public_prefix_max_bits));
      }
    }
    result_.grants.push_back(grant);
  }

  const Host& host_;
  const ServiceCommand& command_;
  GrantLimits limits_;
  std::optional<TcprulesSource> source_;
  ServiceGrants result_;
};

}  // namespace

bool data_grants_relay(const std::string& data, std::string* value) {
  bool deny = false;
  std::vector<std::pair<std::string, std::string>> variables;
  read_tcprules_data(data, deny, variables);
  bool found = false;
  std::string relay = first_relayclient(variables, found);
  if (value != nullptr) *value = relay;
  return found && !deny;
}

bool data_denies(const std::string& data) {
  bool deny = false;
  std::vector<std::pair<std::string, std::string>> variables;
  read_tcprules_data(data, deny, variables);
  return deny;
}

std::optional<std::string> tcpserver_rule_for(
    const std::vector<std::pair<std::string, std::string>>& cdb_rules, const std::string& address) {
  auto find = [&](const std::string& key) -> std::optional<std::string> {
    for (const auto& [each, data] : cdb_rules) {
      if (each == key) return data;
    }
    return std::nullopt;
  };
  if (std::optional<std::string> exact = find(address)) return exact;
  std::string prefix = address;
  while (true) {
    std::size_t dot = prefix.rfind(
        '.', prefix.empty() || prefix.back() != '.' ? std::string::npos : prefix.size() - 2);
    if (dot == std::string::npos) break;
    prefix = prefix.substr(0, dot + 1);
    if (std::optional<std::string> found = find(prefix)) return found;
  }
  return find("");
}

ServiceGrants collect_grants(const Host& host, const ServiceCommand& command,
                             const GrantLimits& limits) {
  return GrantCollector(host, command, limits).collect();
}

std::string to_string(GrantReach reach) {
  switch (reach) {
    case GrantReach::everyone:
      return "everyone";
    case GrantReach::any_hostname:
      return "hostnames";
    case GrantReach::hostname:
      return "hostname";
    case GrantReach::ident:
      return "ident";
    case GrantReach::loopback:
      return "loopback";
    case GrantReach::private_network:
      return "private";
    case GrantReach::public_network:
      return "public";
  }
  return "everyone";
}

}  // namespace qharden
