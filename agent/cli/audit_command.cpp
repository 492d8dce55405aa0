#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cli/commands.h"
#include "engine/audit.h"
#include "engine/registry.h"
#include "engine/report.h"

namespace qharden {
namespace {

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

bool stdout_wants_colour() {
  if (std::getenv("NO_COLOR") != nullptr) return false;
  const char* terminal = std::getenv("TERM");
  if (terminal != nullptr && std::strcmp(terminal, "dumb") == 0) return false;
  return ::isatty(STDOUT_FILENO) == 1;
}

}  // namespace

int run_audit_command(const CommonOptions& options) {
  Expected<RootedHost> host = RootedHost::open(options.root);
  if (!host) {
    std::cerr << "qharden: " << host.error().message << '\n';
    return 3;
  }
  Expected<Config> config = load_config(options.config_file, *host);
  if (!config) {
    std::cerr << "qharden: config: " << config.error().message << '\n';
    return 3;
  }
  Expected<std::vector<const Rule*>> rules = select_rules(options.rule_ids);
  if (!rules) {
    std::cerr << "qharden: " << rules.error().message << '\n';
    return 3;
  }
  AuditContext context(*host, *config, options.offline);
  AuditResult result = run_audit(context, *rules);

  ReportHeader header{QHARDEN_VERSION, host_name(), host->root(), options.offline};
  if (options.format == "json") {
    std::cout << report_json(header, result).dump(2) << '\n';
  } else if (options.format == "prometheus") {
    double now = std::chrono::duration<double>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    std::cout << report_prometheus(header, result, now);
  } else {
    std::cout << report_text(header, result, stdout_wants_colour());
  }
  std::cout.flush();
  return audit_exit_code(result.findings);
}

}  // namespace qharden
