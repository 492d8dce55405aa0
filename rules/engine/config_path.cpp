#include "engine/config_path.h"

#include <sys/stat.h>

namespace qharden {

std::optional<std::string> config_path_problem(const std::string& path) {
  struct stat details {};
  if (::stat(path.c_str(), &details) != 0 || !S_ISDIR(details.st_mode)) return std::nullopt;
  return path + ": is a folder, not a config file";
}

}  // namespace qharden
