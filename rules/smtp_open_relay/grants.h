// Where RELAYCLIENT comes from for one qmail-smtpd service, and how much of
// the Internet each grant covers. qmail-smtpd skips rcpthosts for any client
// whose environment has RELAYCLIENT, even set to "".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "inventory/inventory.h"

namespace qharden {

class Host;

// What a grant's address covers, in tcpserver's lookup terms.
enum class GrantReach {
  everyone,         // "" key, or RELAYCLIENT in the environment of every connection
  any_hostname,     // "=": every client with a PTR
  hostname,         // "=host"/"=.suffix": spoofable without -p
  ident,            // "info@...": the client's own ident answer decides
  loopback,         // 127/8
  private_network,  // RFC 1918, 100.64/10, 169.254/16
  public_network,
};

struct RelayGrant {
  std::string source;   // "/etc/tcp.smtp:3", "/etc/tcp.smtp.cdb (key 127.)", "env"
  std::string address;  // the key as tcpserver looks it up
  GrantReach reach = GrantReach::everyone;
  int prefix_bits = -1;      // IPv4 keys only
  std::string value;         // RELAYCLIENT's value
  bool opens_relay = false;  // covers every client, or anyone who controls a PTR or ident
  bool too_wide = false;     // a public prefix wider than public_prefix_max_bits
};

struct DeadRule {
  std::string source;
  std::string address;
  std::string why;
};

struct ServiceGrants {
  std::vector<RelayGrant> grants;
  std::vector<DeadRule> dead_rules;
  std::vector<std::string> open_reasons;  // critical: why anyone can relay
  std::vector<std::string> warnings;      // SMTP down, rules not live, wide prefixes, passenv
  // For choosing a probe source: the cdb records tcpserver looks up, first
  // record per key. Empty when the service has no rules cdb.
  std::vector<std::pair<std::string, std::string>> cdb_rules;  // key, data
  bool environment_grants_everyone = false;
  nlohmann::json evidence = nlohmann::json::object();
};

struct GrantLimits {
  int public_prefix_max_bits = 24;
};

// The service's grants: the tcpserver rules cdb (-x) and its text source, the
// environment (xinetd env, run-script exports and envdirs), xinetd passenv.
ServiceGrants collect_grants(const Host& host, const ServiceCommand& command,
                             const GrantLimits& limits);

// How tcpserver decides an IPv4 client without a host name or ident answer:
// the data of the first key found among the exact address, its prefixes
// ("1.2.3.", "1.2.", "1.") and "". nullopt: no rule matches.
std::optional<std::string> tcpserver_rule_for(
    const std::vector<std::pair<std::string, std::string>>& cdb_rules, const std::string& address);

// True when tcpserver rule data sets RELAYCLIENT and does not deny.
bool data_grants_relay(const std::string& data, std::string* value = nullptr);
bool data_denies(const std::string& data);

std::string to_string(GrantReach reach);

}  // namespace qharden
