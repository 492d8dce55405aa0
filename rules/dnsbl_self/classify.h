// What a DNSBL answer means: the zone data of config/dnsbl-zones.toml, and
// the classification of one zone's answers for dnsbl.self. rblsmtpd.sources
// reads the same data for blocks_public_resolvers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"
#include "engine/finding.h"
#include "host/dns_probe.h"

namespace qharden {

struct DnsblZoneData {
  std::string zone;  // lower case, no trailing dot
  bool is_default = false;
  Severity severity = Severity::critical;
  bool ipv6 = false;
  bool blocks_public_resolvers = false;
  std::string terms;
  std::map<std::string, std::string> codes;  // "127.0.0.2" -> meaning
};

// Reads config/dnsbl-zones.toml ([[zone]] tables). A bad entry is an error
// naming name:line.
Expected<std::vector<DnsblZoneData>> load_dnsbl_zone_data(std::string_view toml_text,
                                                          const std::string& name);

// The entry for zone itself (case-insensitive, a trailing dot ignored), or nullptr.
const DnsblZoneData* find_dnsbl_zone_data(const std::vector<DnsblZoneData>& data,
                                          std::string_view zone);

// 127.255.255.0/24: Spamhaus-style "your query was refused" codes (252 typo,
// 254 public or open resolver, 255 excessive volume). Never a listing.
bool is_resolver_blocked_code(std::string_view address);

// A TXT answer that is an error notice, not a listing reason: Spamhaus answers
// "Error: open resolver; https://www.spamhaus.org/returnc/pub/..." with 127.255.255.254.
bool is_resolver_error_text(std::string_view text);

// "192.0.2.1" + "bl.example" -> "1.2.0.192.bl.example"; IPv6 addresses use
// RFC 5782's nibble form.
Expected<std::string> dnsbl_name_for_address(std::string_view address, std::string_view zone);

// One zone's answers through one resolver, for dnsbl.self.
struct TestPointResults {
  DnsResult listed;    // A 2.0.0.127.<zone>: must be listed
  DnsResult unlisted;  // A 1.0.0.127.<zone>: must not be
};

struct AddressVerdict {
  std::string address;
  std::string verdict;  // not-listed | listed | resolver-blocked | timeout | servfail | refused
                        // | error | not-queried
  std::vector<std::string> answers;
  std::vector<std::string> meanings;  // for listed answers
  std::string detail;
};

struct ZoneJudgement {
  // pass: nothing listed; fail: some address listed; error: the zone could
  // not say (test points, resolver blocked, DNS failure).
  Status status = Status::pass;
  std::string verdict;  // ok | listed | test-point-missing | lists-everything | resolver-blocked
                        // | timeout | servfail | refused | error
  std::string detail;
  std::vector<AddressVerdict> addresses;
};

// Test points first: a zone that fails them says nothing about the addresses.
// Then each address: 127.255.255.x -> resolver-blocked (error), 127.0.0.x ->
// listed with the code's meaning, NXDOMAIN/NODATA -> not listed, anything
// else -> an error.
ZoneJudgement judge_zone(const std::string& zone, const DnsblZoneData* data,
                         const TestPointResults& test_points,
                         const std::vector<std::pair<std::string, DnsResult>>& address_results);

// The failure word of an outcome that is no answer: timeout, servfail, refused or error.
std::string dns_failure_word(DnsOutcome outcome);

}  // namespace qharden
