#pragma once

#include <string>

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

// One line per finding, then a summary. Colour only when asked (a TTY).
std::string report_text(const ReportHeader& header, const AuditResult& result, bool colour);

// node_exporter textfile-collector format.
std::string report_prometheus(const ReportHeader& header, const AuditResult& result,
                              double unix_time_seconds);

}  // namespace qharden
