#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/config.h"
#include "engine/rule.h"
#include "host/host.h"

namespace qharden {

// What every command starts from: the root opened, the config loaded and the
// --rule ids resolved.
struct CommandSetup {
  RootedHost host;
  Config config;
  std::vector<const Rule*> rules;
};

// Prints the reason and returns nullopt on bad usage or config; the caller
// exits 3.
std::optional<CommandSetup> prepare_command(const CommonOptions& options);

std::string local_host_name();

}  // namespace qharden
