#include "cli/command_setup.h"

#include <unistd.h>

#include <iostream>

#include "engine/config_path.h"
#include "engine/registry.h"

namespace qharden {

std::optional<CommandSetup> prepare_command(const CommonOptions& options) {
  if (options.config_file) {
    if (std::optional<std::string> problem = config_path_problem(*options.config_file)) {
      std::cerr << "qharden: config: --config " << *problem << '\n';
      return std::nullopt;
    }
  }
  Expected<RootedHost> host = RootedHost::open(options.root);
  if (!host) {
    std::cerr << "qharden: " << host.error().message << '\n';
    return std::nullopt;
  }
  Expected<Config> config = load_config(options.config_file, *host);
  if (!config) {
    std::cerr << "qharden: config: " << config.error().message << '\n';
    return std::nullopt;
  }
  Expected<std::vector<const Rule*>> rules = select_rules(options.rule_ids);
  if (!rules) {
    std::cerr << "qharden: " << rules.error().message << '\n';
    return std::nullopt;
  }
  return CommandSetup{std::move(*host), std::move(*config), std::move(*rules)};
}

std::string local_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace qharden
