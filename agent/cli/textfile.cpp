#include "cli/textfile.h"

#include "cli/command_setup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include "engine/audit.h"
#include "engine/registry.h"
#include "engine/report.h"
#include "host/host.h"

namespace qharden {
namespace {

// node_exporter reads only *.prom, so the temporary name is never collected
// half-written; the rename makes the new metrics appear at once.
Outcome write_textfile(const std::string& folder, const std::string& text) {
  std::string final_path = folder + "/qharden.prom";
  std::string temporary_path = folder + "/.qharden.prom." + std::to_string(::getpid());
  int descriptor =
      ::open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (descriptor < 0) return fail_with(temporary_path + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t count = ::write(descriptor, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      int saved = errno;
      ::close(descriptor);
      ::unlink(temporary_path.c_str());
      return fail_with(temporary_path + ": " + std::strerror(saved));
    }
    written += static_cast<std::size_t>(count);
  }
  bool synced = ::fsync(descriptor) == 0;
  ::close(descriptor);
  if (!synced || ::rename(temporary_path.c_str(), final_path.c_str()) != 0) {
    int saved = errno;
    ::unlink(temporary_path.c_str());
    return fail_with(final_path + ": " + std::strerror(saved));
  }
  return Done{};
}

}  // namespace

int run_textfile_audit(const CommonOptions& options) {
  std::optional<CommandSetup> setup = prepare_command(options);
  if (!setup) return 3;
  const RootedHost& host = setup->host;
  const Config& config = setup->config;
  AuditContext context(host, config, options.offline);
  AuditResult result = run_audit(context, setup->rules);
  ReportHeader header{QHARDEN_VERSION, local_host_name(), host.root(), options.offline};
  write_report_text(std::cout, header, result, false);
  if (!config.paths.prometheus_textfile_dir.empty()) {
    double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::string folder = path_under_root(host.root(), config.paths.prometheus_textfile_dir);
    if (Outcome written = write_textfile(folder, report_prometheus(header, result, now));
        !written) {
      std::cerr << "qharden: textfile: " << written.error().message << '\n';
      return 3;
    }
    std::cout << "metrics written to " << folder << "/qharden.prom\n";
  }
  std::cout.flush();
  return audit_exit_code(result.findings);
}

}  // namespace qharden
