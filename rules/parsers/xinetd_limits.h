// xinetd's burst limits (cps, instances, per_source) per service, resolved the
// way xinetd 2.3.15 resolves them (parse.c identify_attribute, parsers.c,
// confparse.c service_fill):
//   - each attribute takes its first valid `=` line; `+=`/`-=` and a wrong
//     number of values are ignored with a warning, so a later line may set it;
//   - a value that does not parse disables the service as any parse error
//     does, so a later `disable = no` or defaults' `enabled` list turns it
//     back on (in `defaults`, xinetd exits);
//   - `defaults` are filled in after every file is read, so they reach every
//     service, also those read before them (unlike log_on_*); the first
//     `defaults` value wins across files;
//   - what neither sets is built in: cps 50 10, instances and per_source
//     UNLIMITED. `UNLIMITED` is matched without case (EQ).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "parsers/xinetd.h"

namespace qharden {

inline constexpr const char* kXinetdBuiltInCpsRate = "50";
inline constexpr const char* kXinetdBuiltInCpsWait = "10";

struct XinetdServiceLimits {
  std::vector<BurstLimitSetting> settings;  // cps, instances, per_source, in that order
  // A value xinetd rejects in the service. It disables the service, which
  // resolve_xinetd_services says, as a later `disable = no` or defaults'
  // `enabled` list can turn it back on.
  std::optional<std::string> rejected;
};

struct XinetdLimits {
  // One per service section, in the order resolve_xinetd_services returns them.
  std::vector<XinetdServiceLimits> services;
  std::vector<XinetdProblem> problems;  // a rejected value in `defaults`: xinetd exits
};

XinetdLimits resolve_xinetd_limits(const std::vector<XinetdSection>& sections);

// The same, one service section at a time (issue 15: audit memory).
class XinetdLimitsResolver {
 public:
  // Reads every `defaults` section: xinetd fills them in after all files are read.
  explicit XinetdLimitsResolver(const std::vector<XinetdSection>& sections);
  // A rejected value in `defaults`: xinetd exits.
  const std::vector<XinetdProblem>& problems() const { return problems_; }
  XinetdServiceLimits resolve(const XinetdSection& service_section) const;

 private:
  std::map<std::string, BurstLimitSetting> defaults_;
  std::vector<XinetdProblem> problems_;
};

// How many values a burst limit takes (cps 2, instances and per_source 1);
// nothing for any other attribute.
std::optional<std::size_t> xinetd_limit_value_count(const std::string& name);

// What xinetd stores for a burst limit's words (parsers.c), or why it
// refuses them.
struct XinetdLimitValue {
  std::string problem;  // empty when xinetd takes the words
  // instances and per_source: the number, or nothing for UNLIMITED (in any
  // case); cps: the rate and the wait (a rate of 0 turns the check off).
  std::vector<std::optional<std::int64_t>> numbers;
};
XinetdLimitValue read_xinetd_limit(const std::string& name, const std::vector<std::string>& words);

// "", or why xinetd's parser rejects these words for this attribute.
std::string xinetd_limit_value_problem(const std::string& name,
                                       const std::vector<std::string>& words);

}  // namespace qharden
