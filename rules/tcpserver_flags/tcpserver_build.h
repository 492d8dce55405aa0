// Which tcpserver is installed. Debian ships two that conflict, both as
// /usr/bin/tcpserver: ucspi-tcp, whose sgetopt rejects -4, -6 and -I (it exits
// 100 with its usage), and ucspi-tcp-ipv6, which takes them. Their usage texts,
// compiled into the binaries, tell them apart.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "host/host.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {

struct TcpserverBuildFound {
  TcpserverBuild build = TcpserverBuild::unknown;
  std::string path;     // the binary read; empty when none was found
  std::string unknown;  // when build is unknown: why, naming what was looked at
};

// svscanboot's and runit's PATH, which a run script inherits.
inline constexpr std::string_view kSupervisorPath =
    "/command:/usr/local/bin:/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin";

// program_word: the tcpserver word of a run script's command line. An
// absolute path is read as it stands and a relative one from the script's
// folder (supervise and runsv run ./run there); a bare name is looked for in
// the PATH the script sets (path_variable), else in kSupervisorPath, skipping
// files that are not executable, as execvp does. In a PATH the script sets,
// $PATH stands for kSupervisorPath and other expansions are passed over.
TcpserverBuildFound find_tcpserver_build(const Host& host, std::string_view program_word,
                                         std::string_view script_folder,
                                         const std::optional<std::string>& path_variable);

// From the binary's bytes: ipv6 when its usage names -I or -4/-6, plain when
// its usage names neither, unknown without a tcpserver usage text.
TcpserverBuild tcpserver_build_of_binary(std::string_view bytes);

// find_tcpserver_build once per program word and folder, for one audit or plan.
class TcpserverBuilds {
 public:
  explicit TcpserverBuilds(const Host& host) : host_(host) {}
  const TcpserverBuildFound& of(const std::string& program_word, const std::string& script_file,
                                const std::optional<std::string>& path_variable);

 private:
  const Host& host_;
  std::map<std::string, TcpserverBuildFound> found_;
};

std::string_view to_string(TcpserverBuild build);

}  // namespace qharden
