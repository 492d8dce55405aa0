#pragma once

#include <string>

#include "engine/rule.h"

namespace qharden {

// A registered rule whose live check has not landed yet: it reports one honest
// `skip` saying so, rather than pretending to pass.
class PendingRule final : public Rule {
 public:
  PendingRule(RuleInfo info, std::string reason) : info_(info), reason_(std::move(reason)) {}
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext&) const override {
    return {make_finding(info_, std::string(info_.id), Status::skip, reason_)};
  }

 private:
  RuleInfo info_;
  std::string reason_;
};

}  // namespace qharden
