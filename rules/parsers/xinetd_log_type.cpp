#include "parsers/xinetd_log_type.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>

namespace qharden {
namespace {

bool same_without_case(std::string_view left, std::string_view right) {
  return left.size() == right.size() &&
         std::equal(left.begin(), left.end(), right.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

template <std::size_t Count>
bool listed(std::string_view value, const std::string_view (&names)[Count]) {
  return std::any_of(std::begin(names), std::end(names),
                     [&](std::string_view name) { return same_without_case(value, name); });
}

// get_limit: strtoull's digits (an optional sign, negation wrapping as it
// does) and an optional k/K or m/M; nothing when it or the product overflows.
std::optional<unsigned long long> parse_limit(std::string_view text) {
  unsigned long long multiplier = 1;
  if (!text.empty() && (text.back() == 'k' || text.back() == 'K')) multiplier = 1024;
  if (!text.empty() && (text.back() == 'm' || text.back() == 'M')) multiplier = 1024 * 1024;
  if (multiplier != 1) text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty()) return std::nullopt;
  constexpr unsigned long long kMaximum = std::numeric_limits<unsigned long long>::max();
  unsigned long long value = 0;
  for (char character : text) {
    if (character < '0' || character > '9') return std::nullopt;
    unsigned digit = static_cast<unsigned>(character - '0');
    if (value > (kMaximum - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (negative) value = 0 - value;
  if (value > kMaximum / multiplier) return std::nullopt;
  return value * multiplier;
}

}  // namespace

std::optional<std::string> xinetd_log_type_problem(const std::vector<std::string>& values) {
  static constexpr std::string_view kFacilities[] = {
      "daemon", "auth",   "authpriv", "user",   "mail",   "lpr",    "news",   "uucp",  "ftp",
      "local0", "local1", "local2",   "local3", "local4", "local5", "local6", "local7"};
  static constexpr std::string_view kLevels[] = {"emerg",   "alert",  "crit", "err",
                                                 "warning", "notice", "info", "debug"};
  if (values.empty()) return "no value";
  if (same_without_case(values[0], "FILE")) {
    if (values.size() < 2 || values.size() > 4) {
      return "FILE takes a path and at most two limits";
    }
    if (values.size() == 2) return std::nullopt;
    std::optional<unsigned long long> soft = parse_limit(values[2]);
    if (!soft) return "soft limit " + values[2] + " is invalid";
    if (values.size() == 3) return std::nullopt;
    std::optional<unsigned long long> hard = parse_limit(values[3]);
    if (!hard) return "hard limit " + values[3] + " is invalid";
    if (*hard < *soft) return "the hard limit is less than the soft limit";
    return std::nullopt;
  }
  if (same_without_case(values[0], "SYSLOG")) {
    if (values.size() < 2 || values.size() > 3) {
      return "SYSLOG takes a facility and at most a level";
    }
    if (!listed(values[1], kFacilities)) return "unknown syslog facility " + values[1];
    if (values.size() == 3 && !listed(values[2], kLevels)) {
      return "unknown syslog level " + values[2];
    }
    return std::nullopt;
  }
  return "unknown log type " + values[0];
}

}  // namespace qharden
