// qhardend: the agent. Exceptions stop here and at the D-Bus edge; the engine
// returns Expected.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <vector>

#include <sdbus-c++/Error.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "daemon/manager.h"

namespace {

// Under systemd, stderr is the journal already; the systemd sink adds
// priorities and fields, so stderr would only duplicate it. In the
// foreground, stderr is what the operator watches.
void set_up_logging() {
  bool under_systemd =
      std::getenv("JOURNAL_STREAM") != nullptr || std::getenv("INVOCATION_ID") != nullptr;
  std::shared_ptr<spdlog::logger> logger;
  if (under_systemd) {
    logger = std::make_shared<spdlog::logger>(
        "qhardend", std::make_shared<spdlog::sinks::systemd_sink_st>("qhardend"));
  } else {
    logger = std::make_shared<spdlog::logger>("qhardend",
                                              std::make_shared<spdlog::sinks::stderr_sink_st>());
    logger->set_pattern("qhardend: %l: %v");
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  qharden::agent::AgentOptions options;
  CLI::App app{
      "qhardend: the qharden agent on D-Bus (org.qharden.Agent1): periodic audits, "
      "drift repair",
      "qhardend"};
  app.set_version_flag("--version", std::string("qhardend ") + QHARDEN_VERSION);
  app.add_option("--config", options.config_file,
                 "Override the built-in defaults with FILE (default /etc/qharden/qharden.toml)")
      ->type_name("FILE");
  app.add_option("--root", options.root, "Watch and fix the tree under DIR as if it were /")
      ->type_name("DIR");
  app.add_option("--bus", options.bus, "system, session, or a D-Bus address (unix:path=...)")
      ->type_name("BUS");
  app.add_option("--fixer-socket", options.fixer_socket,
                 "Run unprivileged: fixes and privileged reads go to the fixer systemd starts on "
                 "this socket (qharden-fixer.socket). Without it, qhardend starts qharden-fixer "
                 "itself")
      ->type_name("PATH");
  app.add_option("--reader-socket", options.reader_socket,
                 "With --fixer-socket: privileged reads (netfilter, other users' /proc) go to "
                 "the reader systemd starts on this socket (qharden-reader.socket)")
      ->type_name("PATH");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 3;
  }

  set_up_logging();
  try {
    qharden::agent::Manager manager(options);
    if (qharden::Outcome ready = manager.initialize(); !ready) {
      spdlog::critical("not starting: {}", ready.error().message);
      return 3;
    }
    return manager.run();
  } catch (const sdbus::Error& error) {
    spdlog::critical("D-Bus: {} ({})", error.getMessage(), error.getName());
  } catch (const std::exception& exception) {
    spdlog::critical("{}", exception.what());
  }
  return 1;
}
