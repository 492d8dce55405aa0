// What xinetd drops after it has read every file and before it listens:
// service_fill and check_entry in confparse.c, for the services still enabled.
// Checked against Debian 12's xinetd 2.3.15.3. xinetd logs the reason and goes
// on with the other services, so a dropped one is easy to miss: the port is
// simply closed.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "inventory/service_ports.h"
#include "parsers/xinetd.h"

namespace qharden {

class Host;

// /etc/services and /etc/protocols, read once per audit.
class XinetdNameFiles {
 public:
  explicit XinetdNameFiles(const Host& host);
  // The files' texts, nullopt for a missing one.
  XinetdNameFiles(const std::optional<std::string>& services_text,
                  const std::optional<std::string>& protocols_text);

  const ServicePorts& ports() const { return ports_; }
  // getprotobyname(): names and aliases, with case. Without the file, tcp and udp.
  bool knows_protocol(const std::string& name) const;

 private:
  ServicePorts ports_;
  std::set<std::string> protocols_;
};

// Why xinetd refuses this enabled service at start, in its own words with a
// way out; nullopt when it keeps it. Services of type RPC, INTERNAL or TCPMUX
// are not judged.
std::optional<std::string> xinetd_start_refusal(const XinetdService& service,
                                                const XinetdNameFiles& names);

}  // namespace qharden
