// The two sysctl rules differ only in their keys and limits; this is the part
// they share: one runtime and one boot-time finding per key, and a plan that
// writes the runtime value and a drop-in of qharden's own that wins at boot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "engine/rule.h"

namespace qharden {

struct SysctlKeyPolicy {
  std::string_view dotted_key;  // "net.ipv4.tcp_fin_timeout"
  std::int64_t kernel_default = 0;
  std::int64_t maximum = 0;
  // Why a value over the maximum hurts a mail host, for the failing message.
  std::string (*consequence)(std::int64_t value) = nullptr;
};

struct SysctlRuleSpec {
  RuleInfo info;
  // Our drop-in is "<prefix>-<drop_in_stem>.conf" in /etc/sysctl.d.
  std::string_view drop_in_stem;
  std::vector<SysctlKeyPolicy> (*policies)(const Config& config) = nullptr;
};

class SysctlRule final : public Rule {
 public:
  explicit SysctlRule(SysctlRuleSpec spec) : spec_(spec) {}
  const RuleInfo& info() const override { return spec_.info; }
  std::vector<Finding> check(AuditContext& context) const override;
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override;

 private:
  SysctlRuleSpec spec_;
};

// "/proc/sys/net/ipv4/tcp_fin_timeout": the runtime finding's subject.
std::string runtime_subject(std::string_view dotted_key);

// True when the runtime value would come from the live namespace rather than
// from DIR/proc/sys, so --offline must not read or write it.
bool runtime_sysctl_is_live(const Host& host);

// A sysctl integer: optional blanks, digits, nothing else. Negative and
// out-of-range values are not numbers for these keys.
std::optional<std::int64_t> parse_sysctl_integer(std::string_view text);

}  // namespace qharden
