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
  AuditResult result;
  {
    // Scoped: the inventory (about 1 KiB per service) is freed before the
    // report is written (issue 15: audit memory).
    AuditContext context(setup->host, setup->config, options.offline);
    result = run_audit(context, setup->rules);
  }

  ReportHeader header{QHARDEN_VERSION, local_host_name(), setup->host.root(), options.offline};
  if (options.format == "json") {
    int exit_code = audit_exit_code(result.findings);
    write_report_json(std::cout, header, std::move(result));
    std::cout << '\n';
    std::cout.flush();
    return exit_code;
  } else if (options.format == "prometheus") {
    double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::cout << report_prometheus(header, result, now);
  } else {
    write_report_text(std::cout, header, result, stdout_wants_colour());
  }
  std::cout.flush();
  return audit_exit_code(result.findings);
}

}  // namespace qharden
