// What xinetd drops after it has read every file and before it listens:
// service_fill and check_entry in confparse.c, for the services still enabled,
// and the socket it then fails to open. Checked against Debian 12's xinetd
// 2.3.15.3. xinetd logs the reason and goes on with the other services, so a
// dropped one is easy to miss: the port is simply closed.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "inventory/service_ports.h"
#include "parsers/xinetd.h"

namespace qharden {

class Host;

// The name databases xinetd's lookups read, once per audit: /etc/services,
// /etc/protocols, and /etc/passwd when /etc/nsswitch.conf says that users
// come from files alone.
struct XinetdNameTexts {
  std::optional<std::string> services;
  std::optional<std::string> protocols;
  std::optional<std::string> passwd;
  std::optional<std::string> nsswitch;
  bool userdb_records = false;  // systemd's userdb drop-ins, or homed running
};

class XinetdNameFiles {
 public:
  explicit XinetdNameFiles(const Host& host);
  explicit XinetdNameFiles(const XinetdNameTexts& texts);

  const ServicePorts& ports() const { return *ports_; }
  // The protocol's number, with case as getprotobyname(); nullopt when not known.
  std::optional<int> protocol_number(const std::string& name) const;
  // For the resolver: a lookup is left empty (finds every name) when its file
  // is missing or, for users, when they may come from elsewhere (LDAP, NIS).
  // The lookups share the names, so they may outlive this object.
  XinetdLookups lookups() const;

 private:
  std::shared_ptr<const ServicePorts> ports_;
  std::shared_ptr<const std::map<std::string, int>> protocols_;  // name or alias to number
  std::shared_ptr<const std::set<std::string>> users_;
};

// Why xinetd refuses this enabled service at start, in its own words with a
// way out; nullopt when it keeps it. Nothing is claimed about services of
// type RPC, INTERNAL or TCPMUX, nor SENSOR ones (INTERNAL and SENSOR run no
// server and are not judged; RPC and TCPMUX ones with a server are).
std::optional<std::string> xinetd_start_refusal(const XinetdService& service,
                                                const XinetdNameFiles& names);

}  // namespace qharden
