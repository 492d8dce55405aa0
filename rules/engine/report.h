#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/audit.h"

namespace qharden {

struct ReportHeader {
  std::string version;
  std::string host_name;
  std::string root;
  bool offline = false;
};

// JSON schema 1 of the design.
nlohmann::json report_json(const ReportHeader& header, const AuditResult& result);
// The same, moving each finding in: the result is left without findings.
nlohmann::json report_json(const ReportHeader& header, AuditResult&& result);
// The bytes of `report_json(...).dump(indent)`, written one finding at a time
// and each finding freed once written: 100,000 findings are never held a
// second time as a JSON tree (issue 15: audit memory). Text that is not UTF-8
// (a file name) is written as U+FFFD rather than ending the report. A negative
// indent writes it on one line, as the agent's Audit reply does.
void write_report_json(std::ostream& out, const ReportHeader& header, AuditResult&& result,
                       int indent = 2);

// The same report for an audit that hands its findings on one at a time
// (run_audit_each): each finding is kept only as its one-line JSON text until
// the summary, which comes first in the report, is known.
class JsonReportWriter {
 public:
  void add(Finding&& finding);
  void write(std::ostream& out, const ReportHeader& header, const AuditSummary& summary,
             int indent = 2);

 private:
  static void write_entries(std::ostream& out, std::string_view entries, int indent, bool& first);

  // One compact entry per line, in chunks of about 1 MiB: one string grown
  // by doubling would hold up to three times the entries while it moves.
  std::vector<std::string> chunks_;
};

// One line per finding, then a summary. Colour only when asked (a TTY).
std::string report_text(const ReportHeader& header, const AuditResult& result, bool colour);
// The same, written as it goes: 100,000 findings are not held a second time as text.
void write_report_text(std::ostream& out, const ReportHeader& header, const AuditResult& result,
                       bool colour);
// Its parts, for an audit that writes each finding as it is made.
void write_finding_text(std::ostream& out, const Finding& finding, bool colour);
void write_summary_text(std::ostream& out, const ReportHeader& header, const AuditSummary& summary);

// node_exporter textfile-collector format.
std::string report_prometheus(const ReportHeader& header, const AuditResult& result,
                              double unix_time_seconds);

}  // namespace qharden
