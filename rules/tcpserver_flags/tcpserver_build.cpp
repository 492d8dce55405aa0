#include "tcpserver_flags/tcpserver_build.h"

#include <algorithm>
#include <string>
#include <vector>

namespace qharden {
namespace {

std::string folder_of(std::string_view file) {
  std::size_t slash = file.rfind('/');
  return slash == std::string_view::npos || slash == 0 ? "/" : std::string(file.substr(0, slash));
}

bool is_executable_file(const Host& host, const std::string& path) {
  Expected<FileStatus> status = host.status(path, true);
  return status && status->kind == FileKind::regular && (status->mode & 0111) != 0;
}

}  // namespace

TcpserverBuild tcpserver_build_of_binary(std::string_view bytes) {
  constexpr std::string_view kUsage = "tcpserver: usage: tcpserver [ -";
  std::size_t usage = bytes.find(kUsage);
  if (usage == std::string_view::npos) return TcpserverBuild::unknown;
  std::size_t end = bytes.find('\0', usage);
  std::string_view text = bytes.substr(usage, end == std::string_view::npos ? end : end - usage);
  std::string_view letters = text.substr(kUsage.size());
  letters = letters.substr(0, letters.find(' '));
  bool takes_family =
      letters.find('4') != std::string_view::npos || letters.find('6') != std::string_view::npos;
  bool takes_interface = text.find("[ -I interface ]") != std::string_view::npos;
  return takes_family || takes_interface ? TcpserverBuild::ipv6 : TcpserverBuild::plain;
}

TcpserverBuildFound find_tcpserver_build(const Host& host, std::string_view program_word,
                                         std::string_view script_folder,
                                         const std::optional<std::string>& path_variable) {
  TcpserverBuildFound found;
  auto from_script_folder = [&](std::string_view relative) {
    return std::string(script_folder) + (script_folder == "/" ? "" : "/") + std::string(relative);
  };
  std::string path;
  std::string passed_over_before;  // expansions ahead of the match
  if (!program_word.empty() && program_word.front() == '/') {
    path = program_word;
  } else if (program_word.find('/') != std::string_view::npos) {
    path = from_script_folder(program_word);
  } else {
    std::string search = path_variable ? *path_variable : std::string(kSupervisorPath);
    std::string looked;
    std::string passed_over;
    std::size_t start = 0;
    while (path.empty() && start <= search.size()) {
      std::size_t colon = std::min(search.find(':', start), search.size());
      std::string folder = search.substr(start, colon - start);
      start = colon + 1;
      if (folder == "$PATH" || folder == "${PATH}") {
        // The PATH the script started with: the reader has already put the
        // script's own earlier value in place of a $PATH it set itself.
        TcpserverBuildFound inherited =
            find_tcpserver_build(host, program_word, script_folder, std::nullopt);
        if (!inherited.path.empty()) {
          path = inherited.path;
          continue;
        }
        looked += (looked.empty() ? "" : ", ") + std::string("$PATH (") +
                  std::string(kSupervisorPath) + ")";
        continue;
      }
      if (folder.find_first_of("$`") != std::string::npos) {
        passed_over += (passed_over.empty() ? "" : ", ") + folder;
        continue;
      }
      std::string candidate = folder.empty() || folder.front() != '/'
                                  ? from_script_folder(folder.empty() ? "." : folder)
                                  : folder;
      candidate += "/" + std::string(program_word);
      looked += (looked.empty() ? "" : ", ") + candidate;
      if (is_executable_file(host, candidate)) path = candidate;
    }
    if (path.empty() && looked.empty()) {
      found.unknown = "the script's PATH (" + search +
                      ") comes from variables qharden does not expand, so which build it starts "
                      "is unknown";
      return found;
    }
    if (!path.empty()) passed_over_before = passed_over;
    if (path.empty()) {
      found.unknown = "no executable " + std::string(program_word) + " was found at " + looked +
                      (passed_over.empty() ? "" : " (not expanded: " + passed_over + ")") +
                      " to tell which build is installed";
      return found;
    }
  }
  found.path = path;
  if (!passed_over_before.empty()) {
    found.unknown = "the script's PATH has " + passed_over_before + " before " + path +
                    ", which qharden does not expand, so which tcpserver it starts is unknown";
    return found;
  }
  Expected<std::string> bytes = host.read_file(path);
  if (!bytes) {
    found.unknown =
        path + " could not be read to tell which build it is (" + bytes.error().message + ")";
    return found;
  }
  found.build = tcpserver_build_of_binary(*bytes);
  if (found.build == TcpserverBuild::unknown) {
    found.unknown = path + " holds no tcpserver usage text, so which build it runs is unknown";
  }
  return found;
}

const TcpserverBuildFound& TcpserverBuilds::of(const std::string& program_word,
                                               const std::string& script_file,
                                               const std::optional<std::string>& path_variable) {
  std::string folder = folder_of(script_file);
  std::string key = folder + '\0' + program_word + '\0' + path_variable.value_or("\n");
  auto [entry, inserted] = found_.try_emplace(key);
  if (inserted) entry->second = find_tcpserver_build(host_, program_word, folder, path_variable);
  return entry->second;
}

std::string_view to_string(TcpserverBuild build) {
  switch (build) {
    case TcpserverBuild::plain:
      return "ucspi-tcp";
    case TcpserverBuild::ipv6:
      return "ucspi-tcp-ipv6";
    case TcpserverBuild::unknown:
      break;
  }
  return "unknown";
}

}  // namespace qharden
