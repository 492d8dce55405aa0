// systemd units as systemd finds them (systemd.unit(5) "Unit File Load Path"):
// the first folder of paths.systemd_unit_dirs that holds a file name wins, a
// link to /dev/null (or an empty file) masks it, and drop-ins from every
// folder's `<unit>.d/`, `<prefix>-.<type>.d/` and `<type>.d/` are applied in
// file name order, an equal file name taken from the first folder that has it.
// Used by the inventory (systemd_units.cpp) and by rules that refuse to edit
// what it found.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inventory/inventory.h"

namespace qharden {

class Host;

struct SystemdUnitLocation {
  std::string name;                   // "qmail-smtpd.socket"
  std::string path;                   // the unit file that wins; empty when none is found
  bool masked = false;                // that file links to /dev/null or is empty
  std::vector<std::string> drop_ins;  // in the order systemd applies them
};

class SystemdUnitDirectories {
 public:
  // Lists every folder once; a folder that exists but cannot be listed is a
  // problem (the units in it would be missed without a word otherwise).
  SystemdUnitDirectories(const Host& host, const std::vector<std::string>& directories,
                         std::vector<InventoryProblem>& problems);

  // Unit file names with this suffix (".socket"), sorted, each once.
  std::vector<std::string> names_ending(std::string_view suffix) const;
  SystemdUnitLocation locate(const std::string& name) const;
  // A link to it in some *.wants/ or *.requires/ folder: `systemctl enable`'s mark.
  bool enabled(const std::string& name) const;

 private:
  bool masks(const std::string& path) const;
  const Host& host_;
  // Each folder with its entry names, in precedence order; missing ones empty.
  std::vector<std::pair<std::string, std::vector<std::string>>> listings_;
};

// systemd's parse_boolean(): 1/yes/y/true/t/on and 0/no/n/false/f/off, any case.
std::optional<bool> parse_systemd_boolean(std::string_view text);

// The TCP port of a ListenStream= value: "25", "192.0.2.1:25", "[::]:25";
// nullopt for a path, an abstract or vsock socket, or a bad port.
std::optional<int> systemd_listen_port(std::string_view value);

// The unit name of a systemd command ("qmail-smtpd@.service"), from its subject.
std::string systemd_unit_name(const ServiceCommand& command);

// Why a fix of a systemd command is refused, and what to do by hand: "SUBJECT:
// systemd units are fixed with a drop-in, which qharden does not write yet;
// add <what> in /etc/systemd/system/<unit>.d/override.conf". `unit` is the
// unit the drop-in belongs to (the service, or the socket for its limits).
std::string systemd_fix_refusal(const std::string& subject, const std::string& unit,
                                std::string_view what);

}  // namespace qharden
