#include "journal/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace qharden {

Outcome make_directories(const std::string& path, mode_t mode) {
  std::string partial;
  std::size_t position = 0;
  while (position <= path.size()) {
    std::size_t next = path.find('/', position);
    if (next == std::string::npos) next = path.size();
    partial = path.substr(0, next);
    position = next + 1;
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) == 0) {
      // The umask (0077 under the units) would narrow it.
      if (::chmod(partial.c_str(), mode) != 0) {
        return fail_with(partial + ": cannot set mode: " + std::strerror(errno));
      }
    } else if (errno != EEXIST) {
      return fail_with(partial + ": cannot create folder: " + std::strerror(errno));
    }
  }
  struct stat details {};
  if (::stat(path.c_str(), &details) != 0 || !S_ISDIR(details.st_mode)) {
    return fail_with(path + ": not a folder");
  }
  return Done{};
}

Expected<StateLock> StateLock::acquire(const std::string& state_directory, long wait_seconds) {
  Outcome created = make_directories(state_directory);
  if (!created) return Unexpected(created.error());
  std::string path = state_directory + "/lock";
  int descriptor = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (descriptor < 0) return fail_with(path + ": " + std::strerror(errno));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    if (::flock(descriptor, LOCK_EX | LOCK_NB) == 0) return StateLock(descriptor);
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int number = errno;
      ::close(descriptor);
      return fail_with(path + ": " + std::strerror(number));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::close(descriptor);
      return fail_with(path +
                       ": another qharden (CLI or agent) is changing this host; gave up after " +
                       std::to_string(wait_seconds) + " s (paths.lock_wait_s)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

StateLock::~StateLock() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

}  // namespace qharden
