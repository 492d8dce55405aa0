#include "host/netfilter_match.h"

#include <charconv>
#include <vector>

namespace qharden {
namespace {

constexpr int kIdentPort = 113;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool parse_port(std::string_view text, int& port) {
  if (text == "auth" || text == "ident") {
    port = kIdentPort;
    return true;
  }
  auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  return error == std::errc() && rest == text.data() + text.size() && port >= 0 && port <= 65535;
}

bool has_flag(std::string_view list, std::string_view flag) {
  std::string upper = upper_case(list);
  if (upper == "ALL") return true;
  for (std::string_view each : split(upper, ',')) {
    if (each == flag) return true;
  }
  return false;
}

}  // namespace

std::string upper_case(std::string_view text) {
  std::string upper(text);
  for (char& character : upper) {
    if (character >= 'a' && character <= 'z') character = static_cast<char>(character - 'a' + 'A');
  }
  return upper;
}

Applies combine(Applies first, Applies second) {
  if (first == Applies::never || second == Applies::never) return Applies::never;
  if (first == Applies::sometimes || second == Applies::sometimes) return Applies::sometimes;
  return Applies::always;
}

Applies negated(Applies applies, bool negate) {
  if (!negate || applies == Applies::sometimes) return applies;
  return applies == Applies::always ? Applies::never : Applies::always;
}

Applies protocol_applies(std::string_view protocol) {
  std::string upper = upper_case(protocol);
  if (upper == "TCP" || upper == "6" || upper == "ALL" || upper == "0") return Applies::always;
  if (upper.empty()) return Applies::sometimes;
  return Applies::never;
}

bool port_set_has_ident(std::string_view ports, bool& readable) {
  readable = true;
  for (std::string_view item : split(ports, ',')) {
    std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) colon = item.find('-');
    int low = 0;
    int high = 65535;
    if (colon == std::string_view::npos) {
      if (!parse_port(item, low)) {
        readable = false;
        return false;
      }
      high = low;
    } else {
      std::string_view first = item.substr(0, colon);
      std::string_view second = item.substr(colon + 1);
      if ((!first.empty() && !parse_port(first, low)) ||
          (!second.empty() && !parse_port(second, high))) {
        readable = false;
        return false;
      }
    }
    if (low <= kIdentPort && kIdentPort <= high) return true;
  }
  return false;
}

Applies port_list_applies(std::string_view ports) {
  bool readable = true;
  bool has_ident = port_set_has_ident(ports, readable);
  if (!readable) return Applies::sometimes;
  return has_ident ? Applies::always : Applies::never;
}

bool address_is_anything(std::string_view address) {
  std::size_t slash = address.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view length = address.substr(slash + 1);
  return length == "0" || length == "0.0.0.0" || length == "::";
}

Applies destination_applies(std::string_view address, IpFamily family) {
  if (address.empty()) return Applies::sometimes;
  if (address_is_anything(address)) return Applies::always;
  std::string_view host = address.substr(0, address.find('/'));
  // Ident goes to remote clients: a loopback-only match never sees it.
  bool loopback = family == IpFamily::ipv4 ? host.rfind("127.", 0) == 0 : host == "::1";
  if (loopback) {
    std::size_t slash = address.find('/');
    std::string_view length = slash == std::string_view::npos ? "" : address.substr(slash + 1);
    int bits = 32;
    if (!length.empty()) (void)std::from_chars(length.data(), length.data() + length.size(), bits);
    if (family == IpFamily::ipv4 && bits >= 8) return Applies::never;
    if (family == IpFamily::ipv6 && (length.empty() || length == "128")) return Applies::never;
  }
  return Applies::sometimes;
}

Applies interface_applies(std::string_view name) {
  if (name == "+" || name == "*") return Applies::always;
  if (name == "lo") return Applies::never;
  return Applies::sometimes;
}

Applies syn_flags_apply(std::string_view mask, std::string_view compare) {
  bool syn_in_mask = has_flag(mask, "SYN");
  std::string compare_upper = upper_case(compare);
  // A bare SYN carries no other flag: it matches when the compared flags within
  // the mask are exactly {SYN} (if SYN is masked) or none.
  for (std::string_view flag : {"FIN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}) {
    if (has_flag(mask, flag) && has_flag(compare_upper, flag) && compare_upper != "NONE") {
      return Applies::never;
    }
  }
  bool syn_compared = compare_upper != "NONE" && has_flag(compare_upper, "SYN");
  if (syn_in_mask != syn_compared) return Applies::never;
  return Applies::always;
}

Applies connection_state_applies(std::string_view states) {
  return has_flag(states, "NEW") ? Applies::always : Applies::never;
}

bool is_nat_target(std::string_view target) {
  return target == "SNAT" || target == "DNAT" || target == "MASQUERADE" || target == "REDIRECT" ||
         target == "NETMAP";
}

bool is_non_terminating_target(std::string_view target) {
  for (std::string_view known :
       {"LOG",     "NFLOG",    "ULOG",        "MARK",        "CONNMARK",  "CT",  "NOTRACK",
        "TRACE",   "AUDIT",    "CLASSIFY",    "DSCP",        "TOS",       "TTL", "HL",
        "TCPMSS",  "CHECKSUM", "SECMARK",     "CONNSECMARK", "IDLETIMER", "LED", "SET",
        "RATEEST", "TEE",      "TCPOPTSTRIP", "HMARK"}) {
    if (target == known) return true;
  }
  return false;
}

}  // namespace qharden
