// Which tcpserver is installed. Debian ships two that conflict, both as
// /usr/bin/tcpserver: ucspi-tcp, whose sgetopt rejects -4, -6 and -I (it exits
// 100 with its usage), and ucspi-tcp-ipv6, which takes them. Their usage texts,
// compiled into the binaries, tell them apart.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "host/host.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {

struct TcpserverBuildFound {
  TcpserverBuild build = TcpserverBuild::unknown;
  std::string path;  // the binary read; empty when none was found
};

// program_word: the tcpserver word of a command line. A path is read as it
// stands; a bare name is looked for where run scripts find it (/usr/local/bin,
// /usr/bin, /bin, /command).
TcpserverBuildFound find_tcpserver_build(const Host& host, std::string_view program_word);

// From the binary's bytes: ipv6 when its usage names -I or -4/-6, plain when
// its usage names neither, unknown without a tcpserver usage text.
TcpserverBuild tcpserver_build_of_binary(std::string_view bytes);

// find_tcpserver_build once per program word, for one audit or plan.
class TcpserverBuilds {
 public:
  explicit TcpserverBuilds(const Host& host) : host_(host) {}
  const TcpserverBuildFound& of(const std::string& program_word);

 private:
  const Host& host_;
  std::map<std::string, TcpserverBuildFound> found_;
};

std::string_view to_string(TcpserverBuild build);

}  // namespace qharden
