// The live half of rblsmtpd.sources: every zone's RFC 5782 test points, asked
// through the resolvers rblsmtpd itself uses, all zones and resolvers at once.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "inventory/inventory.h"

namespace qharden {

// djbdns's choice for one command line: DNSCACHEIP from its environment, else
// the nameserver lines of resolv.conf (text empty when it is missing), else
// 127.0.0.1.
std::vector<std::string> rblsmtpd_resolvers(const ServiceCommand& command,
                                            const std::string& resolv_conf_text);

struct ZoneCheck {
  std::string zone;
  bool text_lookup = false;  // -r: rblsmtpd reads TXT; the A record is checked too
  std::vector<std::string> resolvers;
};

struct ZoneVerdict {
  std::string verdict;          // ok | timeout | servfail | refused | test-point-missing | no-txt
                                // | lists-everything | resolver-blocked | slow
  std::string detail;           // what was seen, for the message
  std::string resolver;         // the one whose answers decided
  double latency_ms = 0;        // the slowest test-point query on that resolver
  bool listed_by_text = false;  // a TXT answer at 1.0.0.127: rblsmtpd refuses every client
  nlohmann::json queries =
      nlohmann::json::array();  // every query: resolver, name, type, outcome, latency, answers
};

// One verdict per check, in order. Fails only when c-ares cannot be set up.
Expected<std::vector<ZoneVerdict>> probe_zones(const std::vector<ZoneCheck>& checks,
                                               const Config::RblsmtpdSources& policy);

}  // namespace qharden
