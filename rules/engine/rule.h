#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "engine/change.h"
#include "engine/expected.h"
#include "engine/finding.h"

namespace qharden {

struct AuditContext;

struct RuleInfo {
  std::string_view id;
  Severity severity = Severity::warning;  // of a failing finding, unless the rule says otherwise
  std::string_view summary;               // one line for `qharden rules`
  std::string_view explanation;           // `qharden explain ID`
  std::string_view touches;               // what it reads and writes (the rule's README line)
  bool can_fix = false;
  bool fixes_only_when_named = false;  // rblsmtpd.sources: dropping a zone is a policy change
  bool needs_live_state = false;       // DNS, sockets, netfilter: skipped under --offline
  // Rules whose findings this rule's check reads (AuditContext::findings_of):
  // an audit keeps those findings instead of only handing them on.
  std::vector<std::string_view> reads_findings_of;
};

// Takes one finding at a time, in report order.
using FindingSink = std::function<void(Finding&& finding)>;

class Rule {
 public:
  virtual ~Rule() = default;
  virtual const RuleInfo& info() const = 0;

  // Never throws; a check that cannot be made is an `error` finding naming why.
  virtual std::vector<Finding> check(AuditContext& context) const = 0;

  // The same findings, each handed to `sink` as soon as it is made, for an
  // audit that writes them as it goes: a rule over 100,000 services then
  // never holds them all (issue 15: audit memory). By default, check()'s.
  virtual void check_each(AuditContext& context, const FindingSink& sink) const;

  // Changes that would turn the failing findings into passes. Rules that cannot
  // fix return none.
  virtual Expected<std::vector<PlannedChange>> plan(AuditContext& /*context*/,
                                                    const std::vector<Finding>& /*failing*/) const {
    return std::vector<PlannedChange>{};
  }
};

// A rule that makes its findings one at a time: check() collects check_each's.
class StreamingRule : public Rule {
 public:
  std::vector<Finding> check(AuditContext& context) const final;
  void check_each(AuditContext& context, const FindingSink& sink) const override = 0;
};

// Builds a finding of this rule with its default severity.
Finding make_finding(const RuleInfo& info, std::string subject, Status status, std::string message);

}  // namespace qharden
