// write_report_json streams the audit report one finding at a time. Its bytes
// must stay those of the JSON tree that report_json builds (schema 1 of the
// design), whatever the findings hold.
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/report.h"
#include "parsers/byte_text.h"

namespace qharden {
namespace {

Finding make(std::string rule, std::string subject, Status status, nlohmann::json evidence) {
  Finding finding;
  finding.rule = std::move(rule);
  finding.subject = std::move(subject);
  finding.status = status;
  finding.severity = Severity::critical;
  finding.fixable = status == Status::fail;
  finding.message = "tcp-env runs without -R";
  finding.evidence = std::move(evidence);
  return finding;
}

AuditResult result_with(std::vector<Finding> findings) {
  AuditResult result;
  result.findings = std::move(findings);
  result.started_at = "2026-12-07T03:00:00Z";
  result.duration_ms = 12.34;
  return result;
}

struct StreamCase {
  std::string name;
  std::vector<Finding> findings;
};

std::vector<StreamCase> stream_cases() {
  nlohmann::json nested = {
      {"file", "/etc/xinetd.d/smtp_psa"},
      {"line", 10},
      {"tcp_env_options", nlohmann::json::array()},
      {"limits", {{"cps", {"50", "10"}}, {"instances", nlohmann::json::object()}}}};
  return {
      {"no findings", {}},
      {"one finding, empty evidence", {make("tcp-env.flags", "a", Status::fail, {})}},
      {"nested evidence",
       {make("tcp-env.flags", "/etc/xinetd.d/smtp_psa:smtp", Status::fail, nested)}},
      {"several findings",
       {make("tcp-env.flags", "one", Status::fail, nested),
        make("sockets.stuck", "CLOSE_WAIT", Status::pass, {{"count", 3}}),
        make("dnsbl.self", "two", Status::error, nlohmann::json::object())}},
      {"text that looks like the placeholder and holds newlines",
       {make("x", "\n  \"findings\": []", Status::skip, {{"note", "line one\nline two"}}),
        make("y", ",\"findings\":[]", Status::pass, {{",\"findings\":[]", 1}})}},
  };
}

TEST(ReportJson, StreamedBytesEqualTheTreeDump) {
  // A host name or root is written before the findings: one that reads like
  // the findings' place holder must not be taken for it.
  for (const ReportHeader& header :
       {ReportHeader{"0.2.0", "mx.example", "/", false},
        ReportHeader{"0.2.0", "\n  \"findings\": []", ",\"findings\":[]", true}}) {
    for (const StreamCase& test_case : stream_cases()) {
      std::ostringstream tree;
      tree << std::setw(2) << report_json(header, result_with(test_case.findings));
      std::ostringstream streamed;
      AuditResult result = result_with(test_case.findings);
      write_report_json(streamed, header, std::move(result));
      EXPECT_EQ(streamed.str(), tree.str()) << test_case.name;
      EXPECT_TRUE(result.findings.empty())
          << test_case.name << ": each finding is freed once written";

      std::ostringstream one_line;
      AuditResult again = result_with(test_case.findings);
      write_report_json(one_line, header, std::move(again), -1);
      EXPECT_EQ(one_line.str(), report_json(header, result_with(test_case.findings)).dump())
          << test_case.name << ", on one line";
    }
  }
}

TEST(ReportJson, TextThatIsNotUtf8IsReplacedNotThrown) {
  ReportHeader header{"0.2.0", "mx.example", "/", false};
  AuditResult result =
      result_with({make("tcp-env.flags", std::string("/etc/xinetd.d/sm\xff"), Status::fail, {})});
  std::ostringstream streamed;
  EXPECT_NO_THROW(write_report_json(streamed, header, std::move(result)));
  nlohmann::json parsed = nlohmann::json::parse(streamed.str());
  EXPECT_EQ(parsed["findings"][0]["subject"], "/etc/xinetd.d/sm\xef\xbf\xbd");
  EXPECT_EQ(parsed["counts"]["fail"], 1);
}

// promtool, and node_exporter with it, rejects the whole textfile over one
// label value that is not UTF-8.
TEST(ReportPrometheus, LabelValuesAreValidUtf8AndStillEscaped) {
  ReportHeader header{"0.2.0", "mx.example", "/", false};
  AuditResult result =
      result_with({make("tcp-env.flags", "/etc/xinetd.d/smtp_\xe9x:smtp", Status::fail, {}),
                   make("tcp-env.flags", "/etc/xinetd.d/cut\xc3", Status::fail, {}),
                   make("tcp-env.flags", "/etc/xinetd.d/a\"b\\c\nd:smtp", Status::pass, {})});
  std::string text = report_prometheus(header, result, 1.0);
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_NE(text.find("subject=\"/etc/xinetd.d/smtp_\xef\xbf\xbdx:smtp\""), std::string::npos)
      << text;
  EXPECT_NE(text.find("subject=\"/etc/xinetd.d/cut\xef\xbf\xbd\""), std::string::npos) << text;
  EXPECT_NE(text.find("subject=\"/etc/xinetd.d/a\\\"b\\\\c\\nd:smtp\""), std::string::npos) << text;
}

}  // namespace
}  // namespace qharden
