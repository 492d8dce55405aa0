// What a connection's command line does before the 220: ident lookups that a
// client's firewall can stall, and DNS lookups that a dead resolver or DNSBL
// can stall. Read with each program's own option parser.
#pragma once

#include <string>
#include <vector>

#include "inventory/inventory.h"

namespace qharden {

struct IdentWait {
  std::string program;      // "tcp-env", "tcpserver", "xinetd"
  int timeout_seconds = 0;  // how long it waits for a port 113 that never answers
  std::string how;          // "no -R, -t26", "USERID in log_on_success"
  std::string fixed_by;     // the rule whose fix turns it off
};

struct ChainFacts {
  std::vector<IdentWait> ident_waits;    // each one that is on
  std::vector<std::string> dns_lookups;  // "tcpserver looks up the client's name (no -H)"
  std::vector<std::string> dnsbl_zones;  // rblsmtpd's -r and -a zones
  std::vector<std::string> programs;     // the programs found, for the message
};

ChainFacts analyse_chain(const ServiceCommand& command);

int total_ident_wait_seconds(const ChainFacts& facts);

}  // namespace qharden
