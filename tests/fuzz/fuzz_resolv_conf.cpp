// resolv.conf comes from DHCP clients and hand edits: any bytes must parse into
// servers and problems, and the two resolver views must stay within their limits.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parsers/resolv_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::ResolvConf conf = qharden::parse_resolv_conf(text);
  if (conf.timeout_seconds > qharden::kGlibcMaximumTimeoutSeconds) __builtin_trap();
  if (conf.attempts > qharden::kGlibcMaximumAttempts) __builtin_trap();
  for (const qharden::ResolvNameserver& nameserver : conf.nameservers) {
    if (nameserver.address.empty() || nameserver.line < 1) __builtin_trap();
  }
  for (const qharden::ResolvProblem& problem : conf.problems) {
    if (problem.line < 1 || problem.message.empty()) __builtin_trap();
  }
  std::vector<std::string> glibc = qharden::glibc_nameservers(conf);
  if (glibc.empty() || glibc.size() > qharden::kGlibcMaximumNameservers) __builtin_trap();
  std::vector<std::string> djbdns = qharden::djbdns_nameservers(text);
  if (djbdns.empty() || djbdns.size() > qharden::kDjbdnsMaximumNameservers) __builtin_trap();
  if (qharden::djbdns_nameservers_from_dnscacheip(text).size() >
      qharden::kDjbdnsMaximumNameservers) {
    __builtin_trap();
  }
  int stall = qharden::glibc_worst_case_seconds(conf.timeout_seconds, conf.attempts,
                                                static_cast<int>(glibc.size()));
  if (stall < 0 || stall > 5 * (30 + 20 + 40)) __builtin_trap();
  return 0;
}
