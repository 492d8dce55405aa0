#include "host/process_sockets.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <string_view>

namespace qharden {
namespace {

class Directory {
 public:
  explicit Directory(DIR* stream) : stream_(stream) {}
  ~Directory() {
    if (stream_ != nullptr) ::closedir(stream_);
  }
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;
  DIR* get() const { return stream_; }

 private:
  DIR* stream_;
};

bool parse_decimal(std::string_view text, std::uint32_t& value) {
  if (text.empty()) return false;
  auto [rest, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && rest == text.data() + text.size();
}

// "socket:[12345]" -> 12345
bool socket_inode(std::string_view link, std::uint32_t& inode) {
  constexpr std::string_view prefix = "socket:[";
  if (link.size() <= prefix.size() + 1 || link.substr(0, prefix.size()) != prefix ||
      link.back() != ']') {
    return false;
  }
  return parse_decimal(link.substr(prefix.size(), link.size() - prefix.size() - 1), inode);
}

std::string read_comm(int process_directory) {
  int descriptor = ::openat(process_directory, "comm", O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return "";
  char buffer[64];
  ssize_t count = ::read(descriptor, buffer, sizeof buffer);
  ::close(descriptor);
  if (count <= 0) return "";
  std::string comm(buffer, static_cast<std::size_t>(count));
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

// Counts per group for one process; false when it vanished before its fds could be read.
bool scan_process(int proc_descriptor, const char* pid_name,
                  const std::unordered_map<std::uint32_t, int>& inode_groups,
                  std::map<int, int>& per_group, int& process_directory,
                  std::int64_t& descriptors) {
  process_directory = ::openat(proc_descriptor, pid_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (process_directory < 0) return false;
  int fd_directory = ::openat(process_directory, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_directory < 0) return false;
  Directory fds(::fdopendir(fd_directory));
  if (fds.get() == nullptr) {
    ::close(fd_directory);
    return false;
  }
  char link[64];
  while (dirent* entry = ::readdir(fds.get())) {
    if (entry->d_name[0] == '.') continue;
    ++descriptors;
    ssize_t length = ::readlinkat(fd_directory, entry->d_name, link, sizeof link);
    if (length <= 0) continue;  // closed under us, or not a socket of interest
    std::uint32_t inode = 0;
    if (!socket_inode(std::string_view(link, static_cast<std::size_t>(length)), inode)) continue;
    auto found = inode_groups.find(inode);
    if (found != inode_groups.end()) ++per_group[found->second];
  }
  return true;
}

}  // namespace

Expected<OwnerScan> scan_socket_owners(const std::unordered_map<std::uint32_t, int>& inode_groups,
                                       const std::string& proc_root) {
  auto started = std::chrono::steady_clock::now();
  int proc_descriptor = ::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc_descriptor < 0) {
    return fail_with(proc_root + ": " + std::strerror(errno));
  }
  Directory processes(::fdopendir(proc_descriptor));
  if (processes.get() == nullptr) {
    int number = errno;
    ::close(proc_descriptor);
    return fail_with(proc_root + ": " + std::strerror(number));
  }
  OwnerScan scan;
  while (dirent* entry = ::readdir(processes.get())) {
    std::uint32_t pid = 0;
    if (!parse_decimal(entry->d_name, pid)) continue;
    ++scan.processes;
    std::map<int, int> per_group;
    int process_directory = -1;
    bool read = scan_process(proc_descriptor, entry->d_name, inode_groups, per_group,
                             process_directory, scan.descriptors);
    if (read && !per_group.empty()) {
      std::string comm = read_comm(process_directory);
      for (const auto& [group, count] : per_group) {
        scan.holdings.push_back({static_cast<pid_t>(pid), comm, group, count});
      }
    }
    if (process_directory >= 0) ::close(process_directory);
  }
  std::sort(scan.holdings.begin(), scan.holdings.end(),
            [](const SocketHolding& left, const SocketHolding& right) {
              return left.pid != right.pid ? left.pid < right.pid : left.group < right.group;
            });
  scan.milliseconds =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  return scan;
}

}  // namespace qharden
