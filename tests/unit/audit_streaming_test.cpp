// `qharden audit` hands each finding on as its rule makes it (issue 15: audit
// memory): the findings of 100,000 services are never all held. These tests
// pin the contract of run_audit_each with small rules of the test's own.
#include <gtest/gtest.h>

#include <stdexcept>

#include "config/config.h"
#include "engine/audit.h"
#include "engine/context.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

// Makes `count` findings, logging each as it is made; throws after the
// first when asked to.
class CountingRule final : public StreamingRule {
 public:
  CountingRule(std::vector<std::string>& log, int count, bool throws = false)
      : log_(log), count_(count), throws_(throws) {
    info_.id = "test.counting";
    info_.severity = Severity::warning;
  }
  const RuleInfo& info() const override { return info_; }
  void check_each(AuditContext&, const FindingSink& sink) const override {
    ++checks;
    for (int index = 1; index <= count_; ++index) {
      log_.push_back("made " + std::to_string(index));
      sink(make_finding(info_, "subject " + std::to_string(index),
                        index == 1 ? Status::fail : Status::pass, "message"));
      if (throws_) throw std::runtime_error("broken after the first");
    }
  }
  mutable int checks = 0;

 private:
  RuleInfo info_;
  std::vector<std::string>& log_;
  int count_;
  bool throws_;
};

// Reads test.counting's findings, as smtp.greeting reads other rules'.
class ReadingRule final : public Rule {
 public:
  ReadingRule() {
    info_.id = "test.reading";
    info_.reads_findings_of = {"test.counting"};
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    std::size_t seen = context.findings_of("test.counting").size();
    return {make_finding(info_, "test.reading", Status::pass, std::to_string(seen))};
  }

 private:
  RuleInfo info_;
};

struct Fixture {
  testing::TemporaryTree tree;
  Config config = *load_builtin_config();
  RootedHost host = *RootedHost::open(tree.path());
  AuditContext context{host, config, true};
};

TEST(AuditStreaming, EachFindingReachesTheSinkBeforeTheNextIsMade) {
  Fixture fixture;
  std::vector<std::string> log;
  CountingRule rule(log, 3);
  AuditSummary summary = run_audit_each(fixture.context, {&rule}, [&log](Finding&& finding) {
    log.push_back("got " + finding.subject.substr(finding.subject.size() - 1));
  });
  EXPECT_EQ(log,
            (std::vector<std::string>{"made 1", "got 1", "made 2", "got 2", "made 3", "got 3"}));
  EXPECT_EQ(summary.tally.counts().fail, 1);
  EXPECT_EQ(summary.tally.counts().pass, 2);
  EXPECT_EQ(summary.tally.exit_code(), 1);  // one warning failure
  EXPECT_EQ(summary.tally.overall_status(), "fail");
  EXPECT_FALSE(summary.started_at.empty());
}

TEST(AuditStreaming, ARuleAnotherReadsIsCheckedOnceAndItsFindingsStillReported) {
  Fixture fixture;
  std::vector<std::string> log;
  CountingRule counting(log, 4);
  ReadingRule reading;
  std::vector<std::string> reported;
  run_audit_each(fixture.context, {&counting, &reading}, [&reported](Finding&& finding) {
    reported.push_back(finding.rule + ": " + finding.subject + ": " + finding.message);
  });
  EXPECT_EQ(counting.checks, 1);
  ASSERT_EQ(reported.size(), 5u);
  EXPECT_EQ(reported[0], "test.counting: subject 1: message");
  EXPECT_EQ(reported[4], "test.reading: test.reading: 4");  // it saw all four
}

TEST(AuditStreaming, ARuleThatThrowsKeepsWhatItMadeAndAddsAnError) {
  Fixture fixture;
  std::vector<std::string> log;
  CountingRule rule(log, 3, true);
  std::vector<Finding> reported;
  AuditSummary summary = run_audit_each(
      fixture.context, {&rule}, [&reported](Finding&& finding) { reported.push_back(finding); });
  ASSERT_EQ(reported.size(), 2u);
  EXPECT_EQ(reported[0].subject, "subject 1");
  EXPECT_EQ(reported[1].status, Status::error);
  EXPECT_EQ(reported[1].message, "internal error: broken after the first");
  EXPECT_EQ(summary.tally.exit_code(), 1);  // the warning failure outranks the error
}

// The collecting audit (plan, apply, the agent) is the streaming one gathered.
TEST(AuditStreaming, RunAuditGathersTheSameFindingsAndTally) {
  Fixture fixture;
  std::vector<std::string> log;
  CountingRule rule(log, 3);
  AuditResult result = run_audit(fixture.context, {&rule});
  ASSERT_EQ(result.findings.size(), 3u);
  EXPECT_EQ(result.findings[2].subject, "subject 3");
  EXPECT_EQ(audit_exit_code(result.findings), 1);
  EXPECT_EQ(count_statuses(result.findings).pass, 2);
}

// Plan, apply and the agent act on findings: a rule that throws gives them
// its error finding only, never the partial ones it made first.
TEST(AuditStreaming, RunAuditGivesAThrowingRulesErrorOnly) {
  Fixture fixture;
  std::vector<std::string> log;
  CountingRule rule(log, 3, true);
  AuditResult result = run_audit(fixture.context, {&rule});
  ASSERT_EQ(result.findings.size(), 1u);
  EXPECT_EQ(result.findings[0].status, Status::error);
  EXPECT_EQ(result.findings[0].message, "internal error: broken after the first");
}

// A sink that fails (the report cannot be written) is not the rule's error.
TEST(AuditStreaming, ASinkThatThrowsIsNotBlamedOnTheRule) {
  Fixture fixture;
  std::vector<std::string> log;
  CountingRule rule(log, 3);
  int handed = 0;
  EXPECT_THROW(run_audit_each(fixture.context, {&rule},
                              [&handed](Finding&&) {
                                ++handed;
                                throw std::runtime_error("stdout is gone");
                              }),
               std::runtime_error);
  EXPECT_EQ(handed, 1);
}

}  // namespace
}  // namespace qharden
