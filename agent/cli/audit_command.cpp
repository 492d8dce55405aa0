#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/command_setup.h"
#include "cli/commands.h"
#include "engine/audit.h"
#include "engine/registry.h"
#include "engine/report.h"

namespace qharden {
namespace {

bool stdout_wants_colour() {
  if (std::getenv("NO_COLOR") != nullptr) return false;
  const char* terminal = std::getenv("TERM");
  if (terminal != nullptr && std::strcmp(terminal, "dumb") == 0) return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

}  // namespace

int run_audit_command(const CommonOptions& options) {
  std::optional<CommandSetup> setup = prepare_command(options);
  if (!setup) return 3;
  ReportHeader header{QHARDEN_VERSION, local_host_name(), setup->host.root(), options.offline};
  AuditContext context(setup->host, setup->config, options.offline);
  if (options.format == "prometheus") {
    AuditResult result = run_audit(context, setup->rules);
    context.release();  // the inventory, about 1 KiB per service, before the report
    double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::cout << report_prometheus(header, result, now);
    std::cout.flush();
    return audit_exit_code(result.findings);
  }
  // Each finding is written (text) or kept as one line of JSON (the JSON
  // summary comes first) as soon as its rule makes it: with 100,000 services
  // the findings are never all held (issue 15: audit memory).
  bool colour = stdout_wants_colour();
  JsonReportWriter json;
  AuditSummary summary;
  if (options.format == "json") {
    summary = run_audit_each(context, setup->rules,
                             [&json](Finding&& finding) { json.add(std::move(finding)); });
    context.release();  // the inventory, about 1 KiB per service, before the report is written
    json.write(std::cout, header, summary);
    std::cout << '\n';
  } else {
    summary = run_audit_each(context, setup->rules, [colour](Finding&& finding) {
      write_finding_text(std::cout, finding, colour);
    });
    write_summary_text(std::cout, header, summary);
  }
  std::cout.flush();
  return summary.tally.exit_code();
}

}  // namespace qharden
