#include "parsers/xinetd_log_type.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>

#include "parsers/xinetd_words.h"

namespace qharden {
namespace {

template <std::size_t Count>
bool listed(std::string_view value, const std::string_view (&names)[Count]) {
  return std::any_of(std::begin(names), std::end(names),
                     [&](std::string_view name) { return xinetd_equals(value, name); });
}

// get_limit: strtoull and an optional k/K or m/M; nothing when it or the
// product overflows.
std::optional<unsigned long long> parse_limit(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // The suffix is looked for behind trailing white space, and what follows
  // it is cut off with it.
  std::size_t last = text.size() - 1;
  while (last > 0 && std::isspace(static_cast<unsigned char>(text[last]))) --last;
  unsigned long long multiplier = 1;
  if (text[last] == 'k' || text[last] == 'K') multiplier = 1024;
  if (text[last] == 'm' || text[last] == 'M') multiplier = 1024 * 1024;
  if (multiplier != 1) text = text.substr(0, last);
  std::optional<unsigned long long> parsed = xinetd_strtoull(std::string(text));
  if (!parsed) return std::nullopt;
  constexpr unsigned long long kMaximum = std::numeric_limits<unsigned long long>::max();
  unsigned long long value = *parsed;
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
  if (xinetd_equals(values[0], "FILE")) {
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
  if (xinetd_equals(values[0], "SYSLOG")) {
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
