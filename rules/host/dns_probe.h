// Live DNS probes for the resolver and DNSBL rules, over c-ares 1.18.
//
// Every query of every server is sent at once and driven by one poll loop, so a
// probe of many servers and zones costs about one timeout, not their sum. Each
// server gets a channel of its own: c-ares would otherwise move a query on to
// the next server and hide which one failed. ARES_FLAG_NOCHECKRESP keeps
// SERVFAIL and REFUSED apart (without it both read as "connection refused").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"

namespace qharden {

struct DnsServer {
  std::string address;  // "127.0.0.1", "::1"
  std::uint16_t port = 53;
  std::string scope;  // IPv6 zone index as written after '%' ("eth0", "2"), else empty

  // "127.0.0.1", "[::1]:5353" or "fe80::1%eth0", as messages show it.
  std::string describe() const;
};

// Accepts "ADDRESS", "ADDRESS%SCOPE", "IPV4:PORT" and "[IPV6]:PORT" / "[IPV6%SCOPE]:PORT".
Expected<DnsServer> parse_dns_server(std::string_view text);

enum class DnsRecordType { a, txt, ptr, aaaa };

enum class DnsOutcome { answer, nxdomain, nodata, servfail, refused, timeout, unreachable, other };

std::string_view dns_outcome_name(DnsOutcome outcome);
std::string_view dns_record_type_name(DnsRecordType type);

struct DnsQuery {
  std::size_t server = 0;  // index into the servers given to probe_dns
  std::string name;        // absolute; a trailing dot is optional
  DnsRecordType type = DnsRecordType::a;
};

struct DnsResult {
  DnsOutcome outcome = DnsOutcome::other;
  double latency_ms = 0;  // from sending to the final answer or give-up
  std::vector<std::string>
      answers;         // A: dotted quads; AAAA: RFC 5952 text; TXT: strings; PTR: names
  std::string detail;  // c-ares' words for `other`, or why nothing was sent
};

struct DnsProbeOptions {
  // Per try, as c-ares counts it: with one server per channel a second try
  // waits twice as long as the first.
  std::chrono::milliseconds timeout{1500};
  int tries = 1;
  // Bounds the burst one server sees; further queries wait for a free slot.
  // Measured against unbound with Linux's default 208 KiB socket buffer: 256 at
  // once lost 2% of 2,000 queries, 100 lost none. It also has to stay above the
  // silent queries of one audit (4 per dead zone), or they queue behind each
  // other and the audit takes two timeouts instead of one.
  int maximum_in_flight_per_server = 100;
};

// Runs every query; result i belongs to query i. Queries with an invalid name or
// an unusable server are never sent and come back as `other` with the reason.
// Fails only when c-ares itself cannot be set up.
Expected<std::vector<DnsResult>> probe_dns(const std::vector<DnsServer>& servers,
                                           const std::vector<DnsQuery>& queries,
                                           const DnsProbeOptions& options);

// Unit tests of the rules replace the network with canned results; nullptr
// restores the real prober. Not for production code.
using DnsProbeFunction = std::function<Expected<std::vector<DnsResult>>(
    const std::vector<DnsServer>&, const std::vector<DnsQuery>&, const DnsProbeOptions&)>;
void replace_dns_probe_for_tests(DnsProbeFunction replacement);

// Why name is no DNS name that may be queried (empty label, label over 63
// octets, name over 253, a byte outside letters, digits, '-' and '_', a label
// that starts or ends with '-'), or nullopt when it is fine. One trailing dot
// is allowed.
std::optional<std::string> dns_name_problem(std::string_view name);

// "127.0.0.2" -> "2.0.0.127.in-addr.arpa", "2001:db8::1" -> the ip6.arpa nibble
// name. A scope id is ignored (it is not part of the address).
Expected<std::string> reverse_lookup_name(std::string_view address);

// "127.0.0.2" and "bl.example" -> "2.0.0.127.bl.example": the name a DNSBL
// client queries (RFC 5782 section 2.1). IPv4 only, as rblsmtpd.
Expected<std::string> dnsbl_query_name(std::string_view ipv4_address, std::string_view zone);

}  // namespace qharden
