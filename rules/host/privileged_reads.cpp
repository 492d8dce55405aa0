#include "host/privileged_reads.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace qharden {
namespace {

LocalPrivilegedReader local_reader;
PrivilegedReader* installed_reader = nullptr;

Expected<std::string> read_small_file(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return fail_with(path + ": " + std::strerror(errno));
  std::string text;
  char buffer[4096];
  // A command line or environment larger than this is not one a rule reads.
  while (text.size() < 256 * 1024) {
    ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      int number = errno;
      ::close(descriptor);
      return fail_with(path + ": " + std::strerror(number));
    }
    if (count == 0) break;
    text.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(descriptor);
  return text;
}

}  // namespace

bool is_allowed_read_command(const std::vector<std::string>& argv) {
  static const std::array<std::vector<std::string>, 8> allowed = {{
      {"iptables-save"},
      {"iptables-legacy-save"},
      {"iptables-nft-save"},
      {"ip6tables-save"},
      {"ip6tables-legacy-save"},
      {"ip6tables-nft-save"},
      {"nft", "-j", "list", "ruleset"},
      {"firewall-cmd", "--state"},
  }};
  return std::find(allowed.begin(), allowed.end(), argv) != allowed.end();
}

std::vector<std::string> split_at_nuls(std::string_view raw) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\0', start);
    if (end == std::string_view::npos) end = raw.size();
    words.emplace_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

Expected<ProcessDetails> read_process_details(pid_t pid, const std::string& proc_root) {
  std::string directory = proc_root + "/" + std::to_string(pid);
  Expected<std::string> command_line = read_small_file(directory + "/cmdline");
  if (!command_line) return Unexpected(command_line.error());
  ProcessDetails details;
  details.argv = split_at_nuls(*command_line);
  if (Expected<std::string> comm = read_small_file(directory + "/comm")) {
    details.comm = *comm;
    while (!details.comm.empty() && details.comm.back() == '\n') details.comm.pop_back();
  }
  // An unreadable environ (another user's process, without ptrace access)
  // leaves the environment empty; the command line still says what runs.
  if (Expected<std::string> environ_text = read_small_file(directory + "/environ")) {
    for (const std::string& entry : split_at_nuls(*environ_text)) {
      std::size_t equals = entry.find('=');
      if (equals == std::string::npos) continue;
      std::string name = entry.substr(0, equals);
      if (std::find(kEnvironmentNamesRead.begin(), kEnvironmentNamesRead.end(), name) !=
          kEnvironmentNamesRead.end()) {
        details.environment.emplace(std::move(name), entry.substr(equals + 1));
      }
    }
  }
  return details;
}

Expected<CommandResult> LocalPrivilegedReader::run_read_command(
    const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (!is_allowed_read_command(argv)) {
    return fail_with(describe_argv(argv) + ": not one of the read-only commands qharden runs");
  }
  return run_command(argv, timeout);
}

Expected<OwnerScan> LocalPrivilegedReader::scan_socket_owners(
    const std::unordered_map<std::uint32_t, int>& inode_groups) {
  return qharden::scan_socket_owners(inode_groups, "/proc");
}

Expected<ProcessDetails> LocalPrivilegedReader::read_process(pid_t pid) {
  return read_process_details(pid, "/proc");
}

PrivilegedReader& privileged_reader() {
  return installed_reader != nullptr ? *installed_reader : local_reader;
}

InstalledPrivilegedReader::InstalledPrivilegedReader(PrivilegedReader& reader)
    : previous_(installed_reader) {
  installed_reader = &reader;
}

InstalledPrivilegedReader::~InstalledPrivilegedReader() {
  installed_reader = previous_;
}

}  // namespace qharden
