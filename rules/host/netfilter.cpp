#include <algorithm>

#include "host/command.h"
#include "host/netfilter.h"
#include "host/privileged_reads.h"

#include <systemd/sd-bus.h>

#include <optional>

namespace qharden {
namespace {

bool in_use(const std::vector<NetfilterTable>& tables) {
  return std::any_of(tables.begin(), tables.end(),
                     [](const NetfilterTable& table) { return !table.empty_of_rules(); });
}

void add_backend(NetfilterSnapshot& snapshot, const std::string& backend) {
  if (std::find(snapshot.backends.begin(), snapshot.backends.end(), backend) ==
      snapshot.backends.end()) {
    snapshot.backends.push_back(backend);
  }
}

}  // namespace

std::string_view to_string(IpFamily family) {
  return family == IpFamily::ipv4 ? "ipv4" : "ipv6";
}

bool NetfilterTable::empty_of_rules() const {
  return std::all_of(chains.begin(), chains.end(), [](const NetfilterChain& chain) {
    return chain.rules.empty() && chain.policy == VerdictKind::accept;
  });
}

namespace {

// firewalld lives on the system bus, so a bus without its name means no
// firewalld, answered in about a millisecond. firewall-cmd starts a Python
// interpreter (about 0.2 s of CPU), which the agent's periodic netfilter check
// would otherwise pay on every host. nullopt: the bus could not tell.
std::optional<bool> firewalld_owns_its_bus_name() {
  sd_bus* bus = nullptr;
  if (sd_bus_open_system(&bus) < 0) return false;  // no system bus, no firewalld
  sd_bus_error error{};
  sd_bus_message* reply = nullptr;
  int status = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                  "org.freedesktop.DBus", "NameHasOwner", &error, &reply, "s",
                                  "org.fedoraproject.FirewallD1");
  std::optional<bool> owned;
  int has_owner = 0;
  if (status >= 0 && sd_bus_message_read(reply, "b", &has_owner) >= 0) owned = has_owner != 0;
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  sd_bus_flush_close_unref(bus);
  return owned;
}

}  // namespace

bool firewalld_is_running() {
  if (find_program("firewall-cmd").empty()) return false;
  if (firewalld_owns_its_bus_name() == false) return false;
  // Exit 0 and "running" only when the daemon answers on the bus.
  Expected<CommandResult> state =
      privileged_reader().run_read_command({"firewall-cmd", "--state"}, std::chrono::seconds(10));
  return state && state->standard_output.rfind("running", 0) == 0;
}

Expected<NetfilterSnapshot> read_netfilter(IpFamily family, bool firewalld_running) {
  NetfilterSnapshot snapshot;
  snapshot.family = family;
  std::string prefix = family == IpFamily::ipv4 ? "iptables" : "ip6tables";
  int tools = 0;
  int answered = 0;
  std::vector<std::string> nft_backed_tables;
  std::string legacy_program;
  std::string nft_backed_program;

  // Which save program speaks for which backend: the -legacy/-nft names when
  // they exist, else the plain one, whose header names its backend.
  std::vector<std::pair<std::string, std::string>> savers;
  if (!find_program(prefix + "-legacy-save").empty())
    savers.push_back({prefix + "-legacy-save", "legacy"});
  if (!find_program(prefix + "-nft-save").empty())
    savers.push_back({prefix + "-nft-save", "nf_tables"});
  if (savers.empty() && !find_program(prefix + "-save").empty())
    savers.push_back({prefix + "-save", ""});
  for (const auto& [program, known_backend] : savers) {
    ++tools;
    Expected<CommandResult> saved =
        privileged_reader().run_read_command({program}, std::chrono::seconds(20));
    if (!saved) {
      snapshot.notes.push_back(saved.error().message);
      continue;
    }
    ++answered;
    std::string backend = known_backend;
    if (backend.empty()) backend = iptables_save_backend(saved->standard_output).value_or("legacy");
    std::string source = backend == "legacy" ? "iptables-legacy" : "iptables-nft";
    Expected<std::vector<NetfilterTable>> tables =
        parse_iptables_save(saved->standard_output, family, source);
    if (!tables) {
      snapshot.notes.push_back(tables.error().message);
      continue;
    }
    std::string runner = program.substr(0, program.size() - 5);  // drop "-save"
    if (backend == "legacy") {
      legacy_program = runner;
      if (in_use(*tables)) add_backend(snapshot, source);
    } else {
      nft_backed_program = runner;
      add_backend(snapshot, source);
      for (const NetfilterTable& table : *tables) {
        nft_backed_tables.push_back(table.family + " " + table.name);
      }
    }
    snapshot.tables.insert(snapshot.tables.end(), tables->begin(), tables->end());
  }
  bool legacy_in_use = std::find(snapshot.backends.begin(), snapshot.backends.end(),
                                 "iptables-legacy") != snapshot.backends.end();
  // Legacy only when its tables hold rules: both backends' hooks run, and the
  // operator's rules live where they already are.
  if (legacy_in_use || nft_backed_program.empty()) {
    snapshot.iptables_program = legacy_program.empty() ? nft_backed_program : legacy_program;
  } else {
    snapshot.iptables_program = nft_backed_program;
  }
  if (!find_program(prefix).empty() && snapshot.iptables_program.empty()) {
    snapshot.iptables_program = prefix;
  }

  if (!find_program("nft").empty()) {
    ++tools;
    snapshot.nft_available = true;
    Expected<CommandResult> listed = privileged_reader().run_read_command(
        {"nft", "-j", "list", "ruleset"}, std::chrono::seconds(20));
    if (!listed) {
      snapshot.notes.push_back(listed.error().message);
    } else {
      ++answered;
      Expected<std::vector<NetfilterTable>> tables =
          parse_nft_json(listed->standard_output, family, nft_backed_tables);
      if (!tables) {
        snapshot.notes.push_back(tables.error().message);
      } else {
        if (!tables->empty()) add_backend(snapshot, "nft");
        snapshot.tables.insert(snapshot.tables.end(), tables->begin(), tables->end());
      }
    }
  }
  snapshot.firewalld_running = firewalld_running;
  if (firewalld_running) add_backend(snapshot, "firewalld");
  if (tools == 0) {
    return fail_with("neither " + prefix + " nor nft is installed, so netfilter cannot be read");
  }
  if (answered == 0) {
    std::string problems;
    for (const std::string& note : snapshot.notes)
      problems += (problems.empty() ? "" : "; ") + note;
    return fail_with("cannot read netfilter: " + problems);
  }
  return snapshot;
}

}  // namespace qharden
