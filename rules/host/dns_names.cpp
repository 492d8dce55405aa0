// The pure half of the DNS prober: server addresses, name checks and the
// reverse and DNSBL names built from addresses. No I/O here, so the unit tier
// covers all of it.
#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstdio>

#include "host/dns_probe.h"

namespace qharden {
namespace {

constexpr std::size_t kMaximumNameOctets = 253;  // without the trailing dot
constexpr std::size_t kMaximumLabelOctets = 63;

bool is_name_byte(char byte) {
  return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
         (byte >= '0' && byte <= '9') || byte == '-' || byte == '_';
}

bool is_ipv4(const std::string& text) {
  in_addr parsed{};
  return ::inet_pton(AF_INET, text.c_str(), &parsed) == 1;
}

bool is_ipv6(const std::string& text) {
  in6_addr parsed{};
  return ::inet_pton(AF_INET6, text.c_str(), &parsed) == 1;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

Expected<DnsServer> split_scope(std::string_view text, std::uint16_t port) {
  DnsServer server;
  server.port = port;
  std::size_t percent = text.find('%');
  server.address = std::string(text.substr(0, percent));
  if (percent != std::string_view::npos) {
    server.scope = std::string(text.substr(percent + 1));
    if (server.scope.empty())
      return fail_with("\"" + std::string(text) + "\": empty scope id after '%'");
    if (!is_ipv6(server.address)) {
      return fail_with("\"" + std::string(text) + "\": a scope id only goes with an IPv6 address");
    }
    return server;
  }
  if (!is_ipv4(server.address) && !is_ipv6(server.address)) {
    return fail_with("\"" + std::string(text) + "\" is no IPv4 or IPv6 address");
  }
  return server;
}

}  // namespace

std::string DnsServer::describe() const {
  std::string host = scope.empty() ? address : address + "%" + scope;
  if (port == 53) return host;
  bool ipv6 = address.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Expected<DnsServer> parse_dns_server(std::string_view text) {
  if (text.empty()) return fail_with("empty nameserver address");
  if (text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return fail_with("\"" + std::string(text) + "\": no ']'");
    std::uint16_t port = 53;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      std::optional<std::uint16_t> parsed =
          rest.front() == ':' ? parse_port(rest.substr(1)) : std::nullopt;
      if (!parsed) return fail_with("\"" + std::string(text) + "\": bad port after ']'");
      port = *parsed;
    }
    Expected<DnsServer> server = split_scope(text.substr(1, close - 1), port);
    if (server && !is_ipv6(server->address)) {
      return fail_with("\"" + std::string(text) + "\": brackets hold an IPv6 address");
    }
    return server;
  }
  std::size_t colon = text.find(':');
  if (colon != std::string_view::npos && text.find(':', colon + 1) == std::string_view::npos) {
    std::optional<std::uint16_t> port = parse_port(text.substr(colon + 1));
    if (!port) return fail_with("\"" + std::string(text) + "\": bad port");
    Expected<DnsServer> server = split_scope(text.substr(0, colon), *port);
    if (server && !is_ipv4(server->address)) {
      return fail_with("\"" + std::string(text) +
                       "\": write an IPv6 address with a port as [ADDRESS]:PORT");
    }
    return server;
  }
  return split_scope(text, 53);
}

std::string_view dns_outcome_name(DnsOutcome outcome) {
  switch (outcome) {
    case DnsOutcome::answer:
      return "answer";
    case DnsOutcome::nxdomain:
      return "nxdomain";
    case DnsOutcome::nodata:
      return "nodata";
    case DnsOutcome::servfail:
      return "servfail";
    case DnsOutcome::refused:
      return "refused";
    case DnsOutcome::timeout:
      return "timeout";
    case DnsOutcome::unreachable:
      return "unreachable";
    case DnsOutcome::other:
      return "other";
  }
  return "other";
}

std::string_view dns_record_type_name(DnsRecordType type) {
  switch (type) {
    case DnsRecordType::a:
      return "A";
    case DnsRecordType::txt:
      return "TXT";
    case DnsRecordType::ptr:
      return "PTR";
    case DnsRecordType::aaaa:
      return "AAAA";
  }
  return "A";
}

std::optional<std::string> dns_name_problem(std::string_view name) {
  std::string quoted = "\"" + std::string(name) + "\"";
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return quoted + " is empty";
  if (name.size() > kMaximumNameOctets) {
    return quoted + " is " + std::to_string(name.size()) +
           " octets long; a DNS name has at most 253";
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(start, dot - start);
    if (label.empty()) return quoted + " has an empty label (two dots in a row or a leading dot)";
    if (label.size() > kMaximumLabelOctets) {
      return quoted + ": the label \"" + std::string(label) + "\" is longer than 63 octets";
    }
    for (char byte : label) {
      if (!is_name_byte(byte)) {
        std::array<char, 8> shown{};
        std::snprintf(shown.data(), shown.size(), "0x%02x", static_cast<unsigned char>(byte));
        return quoted + " holds the byte " + shown.data() +
               "; only letters, digits, '-' and '_' make a host name";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return quoted + ": the label \"" + std::string(label) + "\" starts or ends with '-'";
    }
    start = dot + 1;
  }
  return std::nullopt;
}

Expected<std::string> reverse_lookup_name(std::string_view address) {
  std::string bare(address.substr(0, address.find('%')));
  in_addr ipv4{};
  if (::inet_pton(AF_INET, bare.c_str(), &ipv4) == 1) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(&ipv4.s_addr);
    return std::to_string(bytes[3]) + "." + std::to_string(bytes[2]) + "." +
           std::to_string(bytes[1]) + "." + std::to_string(bytes[0]) + ".in-addr.arpa";
  }
  in6_addr ipv6{};
  if (::inet_pton(AF_INET6, bare.c_str(), &ipv6) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string name;
    for (int index = 15; index >= 0; --index) {
      unsigned char byte = ipv6.s6_addr[index];
      name += kHex[byte & 0x0f];
      name += '.';
      name += kHex[byte >> 4];
      name += '.';
    }
    return name + "ip6.arpa";
  }
  return fail_with("\"" + std::string(address) + "\" is no IPv4 or IPv6 address");
}

Expected<std::string> dnsbl_query_name(std::string_view ipv4_address, std::string_view zone) {
  std::string bare(ipv4_address);
  in_addr parsed{};
  if (::inet_pton(AF_INET, bare.c_str(), &parsed) != 1) {
    return fail_with("\"" + bare + "\" is no IPv4 address; rblsmtpd only looks up IPv4 clients");
  }
  if (std::optional<std::string> problem = dns_name_problem(zone)) return fail_with(*problem);
  Expected<std::string> reverse = reverse_lookup_name(bare);
  std::string prefix =
      reverse->substr(0, reverse->size() - std::string_view(".in-addr.arpa").size());
  if (!zone.empty() && zone.back() == '.') zone.remove_suffix(1);
  std::string name = prefix + "." + std::string(zone);
  if (std::optional<std::string> problem = dns_name_problem(name)) return fail_with(*problem);
  return name;
}

}  // namespace qharden
