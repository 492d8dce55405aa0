// `qharden config check FILE`: the same parser the commands use, over the
// built-in defaults, and nothing else: no host is read and nothing is audited,
// so it suits Ansible's `template: validate:` on a host in any state.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "config/config.h"
#include "engine/config_path.h"

namespace qharden {

int run_config_check_command(const std::string& file) {
  if (std::optional<std::string> problem = config_path_problem(file)) {
    std::cerr << "qharden: config check: " << *problem << '\n';
    return 3;
  }
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    std::cerr << "qharden: config check: " << file << ": cannot be read\n";
    return 3;
  }
  std::ostringstream content;
  content << stream.rdbuf();
  if (stream.bad()) {
    std::cerr << "qharden: config check: " << file << ": read error\n";
    return 3;
  }
  Expected<Config> config = load_config_from_text(content.str(), file);
  if (!config) {
    std::cerr << config.error().message << '\n';
    return 3;
  }
  std::cout << file << ": valid\n";
  return 0;
}

}  // namespace qharden
