#include "engine/fix_report.h"

#include "engine/unified_diff.h"
#include "host/command.h"
#include "parsers/byte_text.h"

namespace qharden {
namespace {

using nlohmann::json;

json header_json(const ReportHeader& header, std::string_view kind) {
  return {{"schema", 1},
          {"kind", kind},
          {"tool", {{"name", "qharden"}, {"version", header.version}}},
          {"host", header.host_name},
          {"root", header.root},
          {"offline", header.offline}};
}

// File content is bytes; JSON carries UTF-8 only. Both sides share one
// encoding so a reader never has to guess per field.
void put_contents(json& entry, const std::string& before, const std::string& after) {
  bool text = is_valid_utf8(before) && is_valid_utf8(after);
  entry["encoding"] = text ? "utf-8" : "base64";
  entry["before"] = text ? before : base64_encode(before);
  entry["after"] = text ? after : base64_encode(after);
}

std::string dotted(std::string slash_key) {
  for (char& character : slash_key) {
    if (character == '/') character = '.';
  }
  return slash_key;
}

json change_json(const PlannedChange& change) {
  json entry = {{"rule", change.rule}, {"subject", change.subject}, {"summary", change.summary}};
  if (const auto* file = std::get_if<FileReplacement>(&change.action)) {
    entry["kind"] = "file";
    entry["path"] = file->host_path;
    entry["create"] = file->create;
    put_contents(entry, file->before, file->after);
  } else if (const auto* sysctl = std::get_if<SysctlWrite>(&change.action)) {
    entry["kind"] = "sysctl";
    entry["path"] = "/proc/sys/" + sysctl->slash_key;
    entry["key"] = dotted(sysctl->slash_key);
    put_contents(entry, sysctl->before, sysctl->after);
  } else if (const auto* command = std::get_if<CommandRun>(&change.action)) {
    entry["kind"] = "command";
    entry["argv"] = command->argv;
    entry["undo_argv"] = command->undo_argv;
  }
  entry["diff"] = describe_change(change);
  return entry;
}

}  // namespace

std::string describe_change(const PlannedChange& change) {
  if (const auto* file = std::get_if<FileReplacement>(&change.action)) {
    return unified_diff(file->host_path, file->before, file->after, !file->create);
  }
  if (const auto* sysctl = std::get_if<SysctlWrite>(&change.action)) {
    return "write /proc/sys/" + sysctl->slash_key + ": " + sysctl->before + " -> " + sysctl->after +
           "\n";
  }
  const auto& command = std::get<CommandRun>(change.action);
  return "run: " + describe_argv(command.argv) + "\nundo: " + describe_argv(command.undo_argv) +
         "\n";
}

int plan_detailed_exit_code(const PlanResult& plan) {
  if (!plan.refusals.empty()) return 1;
  return plan.changes.empty() ? 0 : 2;
}

json plan_json(const ReportHeader& header, const PlanResult& plan) {
  json result = header_json(header, "plan");
  json changes = json::array();
  for (const PlannedChange& change : plan.changes) changes.push_back(change_json(change));
  json refusals = json::array();
  for (const std::string& refusal : plan.refusals) {
    std::size_t colon = refusal.find(": ");
    refusals.push_back({{"rule", refusal.substr(0, colon)},
                        {"reason", colon == std::string::npos ? "" : refusal.substr(colon + 2)}});
  }
  json unfixed = json::array();
  for (const Finding& finding : plan.unfixed) {
    unfixed.push_back({{"rule", finding.rule},
                       {"subject", finding.subject},
                       {"severity", to_string(finding.severity)},
                       {"message", finding.message}});
  }
  result["changes"] = std::move(changes);
  result["refusals"] = std::move(refusals);
  result["unfixed"] = std::move(unfixed);
  result["pending"] = plan.changes.size();
  result["exit_code"] = plan_detailed_exit_code(plan);
  return result;
}

json apply_json(const ReportHeader& header, const ApplyResult& applied) {
  json result = header_json(header, "apply");
  result["change_id"] = applied.change_id.empty() ? json(nullptr) : json(applied.change_id);
  result["changed"] = applied.changed_anything;
  json outcomes = json::array();
  for (const ChangeOutcome& outcome : applied.outcomes) {
    // The plan's entry for the change (kind, path, bytes or argv), then how
    // it went; a refusal of the whole rule has only the outcome.
    json entry = outcome.change ? change_json(*outcome.change) : json::object();
    entry["rule"] = outcome.rule;
    entry["subject"] = outcome.subject;
    entry["result"] = outcome.result;
    entry["reason"] = outcome.reason;
    outcomes.push_back(std::move(entry));
  }
  result["outcomes"] = std::move(outcomes);
  result["notes"] = applied.notes;
  result["exit_code"] = applied.all_succeeded ? 0 : 1;
  return result;
}

}  // namespace qharden
