// Netfilter as the ident rule needs it: every output-hook base chain and the
// chains they reach, from iptables-save (nft and legacy backends) and from
// `nft -j list ruleset`, each rule reduced to how it treats one packet: a
// locally generated TCP SYN to port 113 of a remote client (an ident connect).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"

namespace qharden {

enum class IpFamily { ipv4, ipv6 };
std::string_view to_string(IpFamily family);

// Whether a rule's matches hold for an ident connect. `sometimes` covers both
// "for some clients" (an address, an interface) and "cannot tell" (a match
// this reader does not model), and the rule's text is kept to say which.
enum class Applies { never, sometimes, always };

enum class VerdictKind { next, accept, drop, reject, jump, go_to, back, unknown };

struct NetfilterRule {
  Applies applies = Applies::always;
  VerdictKind verdict = VerdictKind::next;
  std::string target;       // the chain of a jump or goto; the name of an unknown target
  std::string reject_with;  // "tcp-reset", "icmp-port-unreachable", ...; empty = the default
  std::string text;         // the rule as the operator's tool shows it
  bool owned = false;       // carries the comment qharden:ident-reject
};

struct NetfilterChain {
  std::string name;
  bool output_base = false;  // hooked at output (for iptables: the built-in OUTPUT chain)
  int priority = 0;
  VerdictKind policy = VerdictKind::accept;
  std::vector<NetfilterRule> rules;
};

struct NetfilterTable {
  std::string source;  // "iptables-nft", "iptables-legacy", "nft"
  std::string family;  // "ip", "ip6", "inet"
  std::string name;
  std::vector<NetfilterChain> chains;
  bool empty_of_rules() const;
};

inline constexpr std::string_view kOwnedComment = "qharden:ident-reject";

// iptables-save / ip6tables-save output. source names the backend for messages
// and for priorities: legacy and nft-backed tables hook at the same fixed
// priorities (raw -300, mangle -150, nat -100, filter 0, security 50).
Expected<std::vector<NetfilterTable>> parse_iptables_save(std::string_view text, IpFamily family,
                                                          const std::string& source);

// `nft -j list ruleset` output, seen by a packet of `family`: ip tables only
// for ipv4, ip6 only for ipv6, inet for both; other families are left out.
// Tables named in skip_tables ("ip filter") are left out too: iptables-nft owns
// them and iptables-nft-save shows them better (nft shows its xt matches
// opaquely).
Expected<std::vector<NetfilterTable>> parse_nft_json(std::string_view text, IpFamily family,
                                                     const std::vector<std::string>& skip_tables);

// "1.8.9 (nf_tables)" / "(legacy)" from the header line of iptables-save, if any.
std::optional<std::string> iptables_save_backend(std::string_view text);

// What this network namespace's netfilter looks like to one family, read with
// the tools that are installed (iptables-legacy-save, iptables-nft-save or
// iptables-save, nft -j list ruleset, firewall-cmd --state), all run through
// run_command.
struct NetfilterSnapshot {
  IpFamily family = IpFamily::ipv4;
  std::vector<NetfilterTable> tables;
  std::vector<std::string>
      backends;                  // in use: "iptables-nft", "iptables-legacy", "nft", "firewalld"
  std::string iptables_program;  // the iptables (or ip6tables) binary a fix should use; empty: none
  bool nft_available = false;
  bool firewalld_running = false;
  std::vector<std::string> notes;  // a tool that failed while another answered
};

// Whether firewalld answers `firewall-cmd --state` (over D-Bus). It costs a
// Python start, so callers ask once per audit and pass the answer on.
bool firewalld_is_running();

// Fails only when no tool is installed, or every installed one failed.
Expected<NetfilterSnapshot> read_netfilter(IpFamily family, bool firewalld_running);

}  // namespace qharden
