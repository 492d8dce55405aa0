#include "cli/status_command.h"

#include <systemd/sd-bus.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "cli/agent_bus.h"
#include "engine/expected.h"

namespace qharden {
namespace {

using namespace agent_bus;

std::string iso_time(std::uint64_t usec) {
  if (usec == 0) return "never";
  std::time_t seconds = static_cast<std::time_t>(usec / 1000000);
  std::tm broken_down{};
  gmtime_r(&seconds, &broken_down);
  char text[32] = {};
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &broken_down);
  return text;
}

struct KeptRow {
  std::string change_id;
  std::string rule;
  std::string subject;
};

Expected<std::vector<KeptRow>> read_kept_changes(sd_bus* bus) {
  ErrorReference error;
  MessageReference reply;
  if (sd_bus_get_property(bus, kDestination, kPath, kInterface, "KeptChanges", &error.error,
                          &reply.message, "a(sss)") < 0) {
    return fail_with(error.error.message ? error.error.message : "no reply");
  }
  std::vector<KeptRow> rows;
  if (sd_bus_message_enter_container(reply.message, SD_BUS_TYPE_ARRAY, "(sss)") < 0) {
    return fail_with("not an a(sss)");
  }
  const char* change_id = nullptr;
  const char* rule = nullptr;
  const char* subject = nullptr;
  int read = 0;
  while ((read = sd_bus_message_read(reply.message, "(sss)", &change_id, &rule, &subject)) > 0) {
    rows.push_back({change_id, rule, subject});
  }
  if (read < 0) return fail_with(std::string("cannot read: ") + std::strerror(-read));
  return rows;
}

}  // namespace

int run_status_command(const std::string& bus_name) {
  BusReference bus;
  if (int result = open_bus(bus_name, &bus.bus); result < 0) {
    std::cerr << "qharden: status: cannot connect to the " << bus_name
              << " bus: " << std::strerror(-result) << '\n';
    return 3;
  }
  ErrorReference error;
  char* version = nullptr;
  if (sd_bus_get_property_string(bus.bus, kDestination, kPath, kInterface, "Version", &error.error,
                                 &version) < 0) {
    std::cerr << "qharden: status: qhardend does not answer on the " << bus_name
              << " bus: " << (error.error.message ? error.error.message : "no reply") << '\n';
    return 3;
  }
  std::string version_text = version;
  std::free(version);
  int compliant = 0;
  std::uint64_t last_audit_usec = 0;
  std::uint32_t drift_events = 0;
  char** failing = nullptr;
  if (sd_bus_get_property_trivial(bus.bus, kDestination, kPath, kInterface, "Compliant",
                                  &error.error, 'b', &compliant) < 0 ||
      sd_bus_get_property_trivial(bus.bus, kDestination, kPath, kInterface, "LastAuditUsec",
                                  &error.error, 't', &last_audit_usec) < 0 ||
      sd_bus_get_property_trivial(bus.bus, kDestination, kPath, kInterface, "DriftEvents",
                                  &error.error, 'u', &drift_events) < 0 ||
      sd_bus_get_property_strv(bus.bus, kDestination, kPath, kInterface, "FailingRules",
                               &error.error, &failing) < 0) {
    std::cerr << "qharden: status: " << (error.error.message ? error.error.message : "no reply")
              << '\n';
    return 3;
  }
  std::vector<std::string> failing_rules;
  for (char** entry = failing; entry != nullptr && *entry != nullptr; ++entry) {
    failing_rules.emplace_back(*entry);
    std::free(*entry);
  }
  std::free(failing);
  Expected<std::vector<KeptRow>> kept = read_kept_changes(bus.bus);
  if (!kept) {
    std::cerr << "qharden: status: KeptChanges: " << kept.error().message << '\n';
    return 3;
  }

  std::cout << "qhardend " << version_text << ": " << (compliant ? "compliant" : "not compliant")
            << '\n';
  std::cout << "last audit: " << iso_time(last_audit_usec) << '\n';
  std::cout << "failing rules:";
  if (failing_rules.empty()) std::cout << " none";
  for (const std::string& rule : failing_rules) std::cout << ' ' << rule;
  std::cout << "\ndrift events: " << drift_events << '\n';
  // What the agent puts back when something overwrites it: only fixes someone
  // applied and nobody rolled back.
  std::cout << "kept fixes: " << kept->size()
            << (kept->empty() ? " (nothing applied; drift is only reported)" : "") << '\n';
  for (const KeptRow& row : *kept) {
    std::cout << "  " << row.change_id << "  " << row.rule << "  " << row.subject << '\n';
  }
  return compliant ? 0 : 1;
}

}  // namespace qharden
