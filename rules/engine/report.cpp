#include "engine/report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <sstream>

#include "engine/registry.h"
#include "parsers/byte_text.h"

namespace qharden {
namespace {

constexpr auto kReplaceInvalidUtf8 = nlohmann::json::error_handler_t::replace;

// Label values must be UTF-8: over one file name that is not, promtool and
// node_exporter reject the whole file. Invalid sequences become U+FFFD, as in
// the JSON report; a \xNN would be no escape here, where a label value knows
// only \\, \" and \n.
std::string escape_label(std::string_view text) {
  std::string escaped;
  for (char character : with_invalid_utf8_replaced(text)) {
    if (character == '\\') {
      escaped += "\\\\";
    } else if (character == '"') {
      escaped += "\\\"";
    } else if (character == '\n') {
      escaped += "\\n";
    } else {
      escaped += character;
    }
  }
  return escaped;
}

std::string_view colour_of(Status status) {
  switch (status) {
    case Status::pass:
      return "\033[32m";
    case Status::fail:
      return "\033[31m";
    case Status::error:
      return "\033[35m";
    case Status::skip:
      return "\033[2m";
  }
  return "";
}

std::string format_milliseconds(double milliseconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", milliseconds);
  return text;
}

Severity rule_severity(const Finding& finding) {
  const Rule* rule = find_rule(finding.rule);
  return rule != nullptr ? rule->info().severity : finding.severity;
}

// Everything but the findings, which stay an empty array here.
nlohmann::json report_json_head(const ReportHeader& header, const AuditSummary& summary) {
  const StatusCounts& counts = summary.tally.counts();
  // Round to 0.1 ms so the figure reads like the design's example.
  double duration = static_cast<double>(static_cast<long long>(summary.duration_ms * 10.0)) / 10.0;
  return {{"schema", 1},
          {"tool", {{"name", "qharden"}, {"version", header.version}}},
          {"host", header.host_name},
          {"root", header.root},
          {"offline", header.offline},
          {"started_at", summary.started_at},
          {"duration_ms", duration},
          {"status", summary.tally.overall_status()},
          {"exit_code", summary.tally.exit_code()},
          {"counts",
           {{"pass", counts.pass},
            {"fail", counts.fail},
            {"error", counts.error},
            {"skip", counts.skip}}},
          {"findings", nlohmann::json::array()}};
}

AuditSummary summary_of(const AuditResult& result) {
  AuditSummary summary;
  for (const Finding& finding : result.findings) summary.tally.add(finding);
  summary.started_at = result.started_at;
  summary.duration_ms = result.duration_ms;
  return summary;
}

// Moves the finding's text and evidence out: the finding is left empty.
nlohmann::json take_finding_json(Finding& finding) {
  nlohmann::json entry = nlohmann::json::object();
  entry["rule"] = std::move(finding.rule);
  entry["subject"] = std::move(finding.subject);
  entry["status"] = to_string(finding.status);
  entry["severity"] = to_string(finding.severity);
  entry["fixable"] = finding.fixable;
  entry["message"] = std::move(finding.message);
  entry["evidence"] = std::move(finding.evidence);
  return entry;
}

}  // namespace

nlohmann::json report_json(const ReportHeader& header, const AuditResult& result) {
  AuditResult copy = result;
  return report_json(header, std::move(copy));
}

nlohmann::json report_json(const ReportHeader& header, AuditResult&& result) {
  nlohmann::json report = report_json_head(header, summary_of(result));
  // Moved, not copied (a braced json list copies): each finding is held once.
  nlohmann::json& findings = report["findings"];
  findings.get_ref<nlohmann::json::array_t&>().reserve(result.findings.size());
  for (Finding& finding : result.findings) findings.push_back(take_finding_json(finding));
  result.findings.clear();
  result.findings.shrink_to_fit();
  return report;
}

void JsonReportWriter::add(Finding&& finding) {
  constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
  // Compact JSON holds no raw newline, so one separates the entries.
  std::string entry = take_finding_json(finding).dump(-1, ' ', false, kReplaceInvalidUtf8);
  if (chunks_.empty() || chunks_.back().size() + entry.size() + 1 > chunks_.back().capacity()) {
    chunks_.emplace_back().reserve(std::max(kChunkBytes, entry.size() + 1));
  }
  chunks_.back() += entry;
  chunks_.back() += '\n';
}

void JsonReportWriter::write(std::ostream& out, const ReportHeader& header,
                             const AuditSummary& summary, int indent) {
  bool pretty = indent >= 0;
  std::string outer = pretty ? std::string(static_cast<std::size_t>(indent), ' ') : "";
  // The head is dumped with an empty findings array, and the findings are
  // written in its place. Its text is found unambiguously: pretty, it is the
  // only line that reads so (a string value holds no raw newline); compact, a
  // quote inside a string value follows a backslash, never the comma.
  std::string head =
      report_json_head(header, summary).dump(indent, ' ', false, kReplaceInvalidUtf8);
  const std::string opening =
      pretty ? "\n" + outer + "\"findings\": [" : std::string(",\"findings\":[");
  std::size_t at = head.find(opening + "]");
  if (at == std::string::npos || chunks_.empty()) {
    out << head;
    chunks_.clear();
    return;
  }
  out.write(head.data(), static_cast<std::streamsize>(at));
  out << opening;
  bool first = true;
  for (std::string& chunk : chunks_) {
    write_entries(out, chunk, indent, first);
    std::string().swap(chunk);  // freed as soon as written
  }
  chunks_.clear();
  if (pretty) out << '\n' << outer;
  out << ']';
  std::size_t rest = at + opening.size() + 1;
  out.write(head.data() + rest, static_cast<std::streamsize>(head.size() - rest));
}

void JsonReportWriter::write_entries(std::ostream& out, std::string_view entries, int indent,
                                     bool& first) {
  bool pretty = indent >= 0;
  std::string inner(pretty ? static_cast<std::size_t>(2 * indent) : 0, ' ');
  for (std::size_t start = 0; start < entries.size();) {
    std::size_t end = entries.find('\n', start);
    std::string_view compact = entries.substr(start, end - start);
    start = end + 1;
    if (!first) out << ',';
    first = false;
    if (!pretty) {
      out << compact;
      continue;
    }
    std::string entry =
        nlohmann::json::parse(compact).dump(indent, ' ', false, kReplaceInvalidUtf8);
    out << '\n' << inner;
    // Nested two levels deeper than when dumped alone.
    std::size_t line_start = 0;
    for (std::size_t newline = entry.find('\n'); newline != std::string::npos;
         newline = entry.find('\n', line_start)) {
      out.write(entry.data() + line_start, static_cast<std::streamsize>(newline + 1 - line_start));
      out << inner;
      line_start = newline + 1;
    }
    out.write(entry.data() + line_start, static_cast<std::streamsize>(entry.size() - line_start));
  }
}

void write_report_json(std::ostream& out, const ReportHeader& header, AuditResult&& result,
                       int indent) {
  AuditSummary summary = summary_of(result);
  JsonReportWriter writer;
  for (Finding& finding : result.findings) writer.add(std::move(finding));
  result.findings.clear();
  result.findings.shrink_to_fit();
  writer.write(out, header, summary, indent);
}

std::string report_text(const ReportHeader& header, const AuditResult& result, bool colour) {
  std::ostringstream out;
  write_report_text(out, header, result, colour);
  return out.str();
}

void write_finding_text(std::ostream& out, const Finding& finding, bool colour) {
  std::string status(to_string(finding.status));
  for (char& character : status) character = static_cast<char>(std::toupper(character));
  if (colour) out << colour_of(finding.status);
  out << status;
  if (colour) out << "\033[0m";
  out << "  " << finding.rule << "  " << finding.subject;
  if (finding.status == Status::fail) out << "  [" << to_string(finding.severity) << "]";
  out << "  " << finding.message;
  if (finding.status == Status::fail && finding.fixable) out << " (fixable: qharden plan)";
  out << '\n';
}

void write_summary_text(std::ostream& out, const ReportHeader& header,
                        const AuditSummary& summary) {
  const StatusCounts& counts = summary.tally.counts();
  out << "\n"
      << counts.pass << " passed, " << counts.fail << " failed, " << counts.error << " errors, "
      << counts.skip << " skipped on " << header.host_name;
  if (header.root != "/") out << " (root " << header.root << ")";
  if (header.offline) out << " (offline)";
  out << " in " << format_milliseconds(summary.duration_ms) << " ms; exit code "
      << summary.tally.exit_code() << '\n';
}

void write_report_text(std::ostream& out, const ReportHeader& header, const AuditResult& result,
                       bool colour) {
  for (const Finding& finding : result.findings) write_finding_text(out, finding, colour);
  write_summary_text(out, header, summary_of(result));
}

std::string report_prometheus(const ReportHeader& header, const AuditResult& result,
                              double unix_time_seconds) {
  std::ostringstream out;
  // A finding's series must survive a pass/fail flip, so its labels hold only
  // what the config decides: no status, and the rule's fixed severity rather
  // than the finding's (rblsmtpd.sources grades findings).
  out << "# HELP qharden_finding 1 when the finding fails, 0 otherwise (error and skip are 0; see "
         "qharden_findings).\n"
      << "# TYPE qharden_finding gauge\n";
  std::map<std::pair<Severity, Status>, int> counts;
  // resolv.nameservers reports several static checks on the resolv.conf path
  // (the design's subject): one series each would repeat a label set, which
  // node_exporter drops silently, so they share a series that fails when any does.
  std::vector<std::string> series_order;
  std::map<std::string, int> series_value;
  for (const Finding& finding : result.findings) {
    Severity severity = rule_severity(finding);
    ++counts[{severity, finding.status}];
    std::string series = "qharden_finding{rule=\"" + escape_label(finding.rule) + "\",subject=\"" +
                         escape_label(finding.subject) + "\",severity=\"" +
                         std::string(to_string(severity)) + "\"}";
    int failing = finding.status == Status::fail ? 1 : 0;
    auto [entry, inserted] = series_value.try_emplace(series, failing);
    if (inserted) {
      series_order.push_back(series);
    } else {
      entry->second = std::max(entry->second, failing);
    }
  }
  for (const std::string& series : series_order) {
    out << series << ' ' << series_value[series] << '\n';
  }
  out << "# HELP qharden_findings Findings of the last audit by the rule's severity and status.\n"
      << "# TYPE qharden_findings gauge\n";
  // Zero-filled: a combination that never occurred still has a series, so
  // sums and ratios over the fleet never miss a host.
  for (Severity severity : {Severity::critical, Severity::warning, Severity::info}) {
    for (Status status : {Status::pass, Status::fail, Status::error, Status::skip}) {
      out << "qharden_findings{severity=\"" << to_string(severity) << "\",status=\""
          << to_string(status) << "\"} " << counts[{severity, status}] << '\n';
    }
  }
  bool socket_header_written = false;
  for (const Finding& finding : result.findings) {
    if (finding.rule != "sockets.stuck" || !finding.evidence.contains("count")) continue;
    if (!socket_header_written) {
      out << "# HELP qharden_sockets TCP sockets in the state, in this network namespace.\n"
          << "# TYPE qharden_sockets gauge\n";
      socket_header_written = true;
    }
    out << "qharden_sockets{state=\"" << escape_label(finding.subject) << "\"} "
        << finding.evidence["count"].dump() << '\n';
  }
  // The greeting figures as gauges, so a dashboard can graph time-to-220, and
  // the limit beside them, so an alert compares without knowing the config.
  std::vector<const Finding*> greetings;
  for (const Finding& finding : result.findings) {
    if (finding.rule == "smtp.greeting" && finding.evidence.contains("measured_ms") &&
        finding.evidence.contains("predicted_remote_ms")) {
      greetings.push_back(&finding);
    }
  }
  if (!greetings.empty()) {
    out << "# HELP qharden_smtp_greeting_seconds Time to the 220 greeting: measured from this "
           "host, and predicted for a remote client that drops port 113.\n"
        << "# TYPE qharden_smtp_greeting_seconds gauge\n";
    for (const Finding* finding : greetings) {
      std::string listener = escape_label(finding->subject);
      out << "qharden_smtp_greeting_seconds{listener=\"" << listener << "\",kind=\"measured\"} "
          << finding->evidence["measured_ms"].get<double>() / 1000.0 << '\n'
          << "qharden_smtp_greeting_seconds{listener=\"" << listener
          << "\",kind=\"predicted_remote\"} "
          << finding->evidence["predicted_remote_ms"].get<double>() / 1000.0 << '\n';
    }
    out << "# HELP qharden_smtp_greeting_max_seconds The configured limit for the greeting "
           "(rules.\"smtp.greeting\".max_ms).\n"
        << "# TYPE qharden_smtp_greeting_max_seconds gauge\n";
    for (const Finding* finding : greetings) {
      if (!finding->evidence.contains("max_ms")) continue;
      out << "qharden_smtp_greeting_max_seconds{listener=\"" << escape_label(finding->subject)
          << "\"} " << finding->evidence["max_ms"].get<double>() / 1000.0 << '\n';
    }
  }
  out << "# HELP qharden_audit_exit_code The audit's monitoring-plugin exit code.\n"
      << "# TYPE qharden_audit_exit_code gauge\n"
      << "qharden_audit_exit_code " << audit_exit_code(result.findings) << '\n'
      << "# HELP qharden_audit_duration_seconds Wall time of the last audit.\n"
      << "# TYPE qharden_audit_duration_seconds gauge\n"
      << "qharden_audit_duration_seconds " << result.duration_ms / 1000.0 << '\n'
      << "# HELP qharden_audit_timestamp_seconds When the last audit finished, in Unix time.\n"
      << "# TYPE qharden_audit_timestamp_seconds gauge\n";
  char timestamp[32];
  std::snprintf(timestamp, sizeof timestamp, "%.3f", unix_time_seconds);
  out << "qharden_audit_timestamp_seconds " << timestamp << '\n';
  out << "# HELP qharden_build_info The qharden version that wrote these metrics (always 1).\n"
      << "# TYPE qharden_build_info gauge\n"
      << "qharden_build_info{version=\"" << escape_label(header.version) << "\"} 1\n";
  return out.str();
}

}  // namespace qharden
