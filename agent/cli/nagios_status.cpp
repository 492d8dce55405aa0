// `qharden status --format nagios`: a monitoring-plugin check built on the
// agent's last report. A check must answer within a plugin timeout (10 s in
// the guidelines) and must not start what it watches, so it never audits, never
// probes, and sends every call with auto-start off: a stopped agent is
// UNKNOWN, not a bus activation.
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/agent_bus.h"
#include "cli/status_command.h"

namespace qharden {
namespace {

using namespace agent_bus;

constexpr int kUnknown = 3;

int unknown(const std::string& summary) {
  std::cout << "QHARDEN UNKNOWN - " << summary << '\n';
  return kUnknown;
}

std::string bus_failure(const ErrorReference& error, int result) {
  if (error.error.name != nullptr &&
      (std::strcmp(error.error.name, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
       std::strcmp(error.error.name, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)) {
    return "qhardend is not running (a check never starts it)";
  }
  if (error.error.message != nullptr) return std::string("qhardend: ") + error.error.message;
  return std::string("qhardend: ") + std::strerror(-result);
}

// One call with auto-start off; the reply is left for the caller to read.
int call_without_activation(sd_bus* bus, const char* interface, const char* member,
                            MessageReference& reply, ErrorReference& error,
                            const char* property = nullptr) {
  MessageReference call;
  int result =
      sd_bus_message_new_method_call(bus, &call.message, kDestination, kPath, interface, member);
  if (result < 0) return result;
  if ((result = sd_bus_message_set_auto_start(call.message, 0)) < 0) return result;
  if (property != nullptr &&
      (result = sd_bus_message_append(call.message, "ss", kInterface, property)) < 0) {
    return result;
  }
  // Well inside a plugin's 10 s: the agent answers GetReport and properties
  // from its last report, also while an audit runs (agent/daemon/bus.cpp).
  return sd_bus_call(bus, call.message, 5 * 1000000ULL, &error.error, &reply.message);
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", seconds);
  return text;
}

// Perfdata labels may not hold = or '; quoted, they may hold spaces.
std::string perfdata_label(std::string label) {
  for (char& character : label) {
    if (character == '=' || character == '\'') character = '_';
  }
  return "'" + label + "'";
}

struct Tally {
  int critical = 0;
  int warning = 0;
  int info = 0;
  int errors = 0;
  int total = 0;
};

}  // namespace

int run_nagios_status(const std::string& bus_name, std::int64_t max_age_seconds) {
  BusReference bus;
  if (int result = open_bus(bus_name, &bus.bus); result < 0) {
    return unknown("cannot connect to the " + bus_name + " bus: " + std::strerror(-result));
  }
  ErrorReference error;
  MessageReference reply;
  int result = call_without_activation(bus.bus, "org.freedesktop.DBus.Properties", "Get", reply,
                                       error, "LastAuditUsec");
  if (result < 0) return unknown(bus_failure(error, result));
  std::uint64_t last_audit_usec = 0;
  if (sd_bus_message_read(reply.message, "v", "t", &last_audit_usec) < 0) {
    return unknown("qhardend: LastAuditUsec is not a uint64");
  }
  if (last_audit_usec == 0) return unknown("qhardend has not finished an audit yet");
  double now_seconds = static_cast<double>(std::time(nullptr));
  double age = std::max(0.0, now_seconds - static_cast<double>(last_audit_usec) / 1e6);
  if (max_age_seconds > 0 && age > static_cast<double>(max_age_seconds)) {
    return unknown("the last audit finished " + std::to_string(static_cast<long long>(age)) +
                   " s ago, more than --max-age " + std::to_string(max_age_seconds) + " s");
  }

  ErrorReference report_error;
  MessageReference report_reply;
  result = call_without_activation(bus.bus, kInterface, "GetReport", report_reply, report_error);
  if (result < 0) return unknown(bus_failure(report_error, result));
  const char* text = nullptr;
  if (sd_bus_message_read(report_reply.message, "s", &text) < 0 || text == nullptr) {
    return unknown("qhardend: GetReport did not return a string");
  }
  nlohmann::json report = nlohmann::json::parse(text, nullptr, false);
  if (report.is_discarded() || !report.is_object() || !report.contains("findings") ||
      !report["findings"].is_array() || !report.contains("exit_code") ||
      !report["exit_code"].is_number_integer()) {
    return unknown("qhardend: GetReport is not a schema-1 report");
  }

  Tally tally;
  std::ostringstream long_output;
  std::ostringstream greeting_perfdata;
  for (const nlohmann::json& finding : report["findings"]) {
    std::string status = finding.value("status", "");
    std::string severity = finding.value("severity", "");
    std::string rule = finding.value("rule", "");
    ++tally.total;
    if (status == "error") {
      ++tally.errors;
      long_output << "ERROR " << rule << " " << finding.value("subject", "") << ": "
                  << finding.value("message", "") << '\n';
    }
    if (status == "fail") {
      if (severity == "critical") ++tally.critical;
      if (severity == "warning") ++tally.warning;
      if (severity == "info") ++tally.info;
      std::string upper = severity;
      for (char& character : upper) character = static_cast<char>(std::toupper(character));
      long_output << upper << " " << rule << " " << finding.value("subject", "") << ": "
                  << finding.value("message", "") << '\n';
    }
    nlohmann::json evidence = finding.value("evidence", nlohmann::json::object());
    if (rule == "smtp.greeting" && evidence.is_object() &&
        evidence.contains("predicted_remote_ms") && evidence["predicted_remote_ms"].is_number()) {
      greeting_perfdata << ' ' << perfdata_label("greeting " + finding.value("subject", "")) << '='
                        << seconds_text(evidence["predicted_remote_ms"].get<double>() / 1e3)
                        << "s;;";
      if (evidence.contains("max_ms") && evidence["max_ms"].is_number()) {
        greeting_perfdata << seconds_text(evidence["max_ms"].get<double>() / 1e3);
      }
      greeting_perfdata << ";0";
    }
  }
  int exit_code = report["exit_code"].get<int>();
  if (exit_code < 0 || exit_code > 3) exit_code = kUnknown;
  static constexpr const char* kStates[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
  std::string host = report.value("host", "this host");

  std::ostringstream summary;
  if (tally.critical + tally.warning == 0 && tally.errors == 0) {
    // Info findings never change the state; they are mentioned, not alarmed.
    if (tally.info == 0) {
      summary << "all " << tally.total << " findings pass on " << host;
    } else {
      summary << "no critical or warning finding fails on " << host << " (" << tally.info
              << " info)";
    }
  } else {
    const char* separator = "";
    auto part = [&](int count, const char* what) {
      if (count == 0) return;
      summary << separator << count << ' ' << what;
      separator = ", ";
    };
    part(tally.critical, "critical");
    part(tally.warning, "warning");
    part(tally.info, "info");
    if (tally.critical + tally.warning + tally.info > 0) summary << " failing";
    if (tally.errors > 0) {
      summary << separator << tally.errors << (tally.errors == 1 ? " check" : " checks")
              << " could not run";
    }
    summary << " on " << host;
  }
  summary << " (audit " << static_cast<long long>(age) << " s ago)";

  // A plugin threshold N alerts above N: one critical finding must cross the
  // critical threshold, as it makes the state CRITICAL, so it is 0, not 1.
  std::cout << "QHARDEN " << kStates[exit_code] << " - " << summary.str()
            << " | critical=" << tally.critical << ";;0;0 warning=" << tally.warning
            << ";0;;0 info=" << tally.info << ";;;0 errors=" << tally.errors
            << ";;;0 age=" << static_cast<long long>(age) << "s;;";
  if (max_age_seconds > 0) std::cout << max_age_seconds;
  std::cout << ";0" << greeting_perfdata.str() << '\n' << long_output.str();
  return exit_code;
}

}  // namespace qharden
