// The addresses this host sends mail from, for smtp.identity and dnsbl.self.
// Configured addresses win; otherwise, for each route_probe address, the
// source address the kernel picks for a route to it: a UDP socket is
// connect()ed (which only looks up the route, no packet leaves) and
// getsockname() reads the address back. That is what `ip route get` shows,
// without running it.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace qharden {

struct SendingAddress {
  std::string address;  // "192.0.2.1", "2001:db8::1"
  bool ipv6 = false;
  std::string from;         // "config" or "route"
  std::string route_probe;  // the destination whose route named it (from = route)
};

struct SendingAddresses {
  std::vector<SendingAddress> addresses;  // in order, without repeats
  std::vector<std::string> notes;         // probes without a route, bad entries
};

SendingAddresses discover_sending_addresses(const std::vector<std::string>& configured,
                                            const std::vector<std::string>& route_probes);

// Unit tests replace the route lookup (probe address -> source address, or
// empty for no route); nullptr restores the kernel's.
using RouteSourceFunction = std::function<std::string(const std::string& probe)>;
void replace_route_source_for_tests(RouteSourceFunction replacement);

}  // namespace qharden
