#include "engine/config_path.h"

#include <sys/stat.h>

namespace qharden {

std::optional<std::string> config_path_problem(const std::string& path) {
  struct stat details {};
  if (::stat(path.c_str(), &details) != 0) return std::nullopt;
  if (S_ISDIR(details.st_mode)) return path + ": is a folder, not a config file";
  // /dev/zero would be read until memory runs out; /dev/null is empty, which
  // is the built-in defaults on purpose.
  struct stat null_details {};
  bool is_null = ::stat("/dev/null", &null_details) == 0 && details.st_rdev == null_details.st_rdev;
  if ((S_ISCHR(details.st_mode) || S_ISBLK(details.st_mode)) && !is_null) {
    return path + ": is a device, not a config file";
  }
  return std::nullopt;
}

}  // namespace qharden
