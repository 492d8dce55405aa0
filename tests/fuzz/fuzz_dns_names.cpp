// Nameserver addresses come from resolv.conf and DNSCACHEIP, zones from command
// lines: any bytes must give a server or an error, and a name judged valid
// must be one that may go on the wire.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "host/dns_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::Expected<qharden::DnsServer> server = qharden::parse_dns_server(text);
  if (server) {
    if (server->port == 0 || server->address.empty()) __builtin_trap();
    qharden::Expected<qharden::DnsServer> again = qharden::parse_dns_server(server->describe());
    if (!again || again->address != server->address || again->port != server->port ||
        again->scope != server->scope) {
      __builtin_trap();
    }
    if (!qharden::reverse_lookup_name(server->address)) __builtin_trap();
  }
  if (!qharden::dns_name_problem(text)) {
    std::string_view bare = text;
    if (!bare.empty() && bare.back() == '.') bare.remove_suffix(1);
    if (bare.empty() || bare.size() > 253 || bare.find("..") != std::string_view::npos) {
      __builtin_trap();
    }
  }
  qharden::Expected<std::string> listed = qharden::dnsbl_query_name("127.0.0.2", text);
  if (listed && qharden::dns_name_problem(*listed)) __builtin_trap();
  return 0;
}
