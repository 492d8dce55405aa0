// Lookups the way a stub resolver does them, for the rules that judge
// answers rather than servers (smtp.identity, dnsbl.self): every question goes
// to every resolver at once, and each keeps the answer of the first resolver,
// in order, that answered. NXDOMAIN and NODATA are answers; a timeout,
// SERVFAIL or REFUSED moves on to the next, as glibc does, but without the wait.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/expected.h"
#include "host/dns_probe.h"

namespace qharden {

struct DnsQuestion {
  std::string name;
  DnsRecordType type = DnsRecordType::a;
};

struct FirstAnswer {
  DnsResult result;      // the deciding result
  std::string resolver;  // whose it is
};

// One result per question. Fails only when c-ares cannot be set up.
Expected<std::vector<FirstAnswer>> ask_first_answer(const std::vector<std::string>& resolvers,
                                                    const std::vector<DnsQuestion>& questions,
                                                    const DnsProbeOptions& options);

// An answer, NXDOMAIN or NODATA: something a resolver said about the name.
bool is_dns_answer(DnsOutcome outcome);

}  // namespace qharden
