#include "tcpserver_flags/tcpserver_build.h"

#include <string>
#include <vector>

namespace qharden {

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

TcpserverBuildFound find_tcpserver_build(const Host& host, std::string_view program_word) {
  std::vector<std::string> candidates;
  if (program_word.find('/') != std::string_view::npos) {
    candidates.emplace_back(program_word);
  } else {
    for (const char* folder : {"/usr/local/bin/", "/usr/bin/", "/bin/", "/command/"}) {
      candidates.push_back(folder + std::string(program_word));
    }
  }
  for (const std::string& path : candidates) {
    Expected<std::string> bytes = host.read_file(path);
    if (!bytes) continue;
    return {tcpserver_build_of_binary(*bytes), path};
  }
  return {};
}

const TcpserverBuildFound& TcpserverBuilds::of(const std::string& program_word) {
  auto [entry, inserted] = found_.try_emplace(program_word);
  if (inserted) entry->second = find_tcpserver_build(host_, program_word);
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
