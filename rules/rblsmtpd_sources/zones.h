// The DNSBL zones rblsmtpd queries, read from every command line in the
// inventory the way ucspi-tcp 0.88's rblsmtpd reads its options: getopt
// "bBcCt:r:a:", lookups made while the options are parsed, so -b/-B and -c/-C
// only affect the -r/-a zones after them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"
#include "inventory/inventory.h"

namespace qharden {

inline constexpr std::string_view kRblsmtpdOptstring = "bBcCt:r:a:";
// Upstream rblsmtpd 0.88 queries this when no -r is given (Debian's patch drops it).
inline constexpr std::string_view kRblsmtpdDefaultZone = "rbl.maps.vix.com";

struct ZoneUse {
  std::string zone;                // lower case, without a trailing dot
  std::string written;             // as on the command line
  char option = 'r';               // 'r' (TXT lookup, listed = refused) or 'a' (A lookup, anti-RBL)
  bool fail_closed = false;        // -c in effect: a lookup error refuses the client (451)
  bool permanent_refusal = false;  // -b in effect: a listed client gets 553, not 451
  bool implicit_default = false;   // no -r at all: upstream's built-in default
  bool lookups_skipped = false;    // RBLSMTPD is set in the environment: no lookups at all
  std::string subject;             // the command line's subject
};

struct RblsmtpdOptionError {
  std::string subject;
  std::string message;
};

struct RblsmtpdZones {
  std::vector<ZoneUse> uses;  // in the order of the inventory and the command lines
  std::vector<RblsmtpdOptionError> option_errors;
  // Command lines whose options stop at a shell variable: their zones are
  // known only at run time, which the finding says rather than skip them.
  std::vector<RblsmtpdOptionError> options_unknown;
  int rblsmtpd_command_lines = 0;
};

// A run script's word that is a whole shell variable ("$BLACKLIST",
// "${BLACKLIST}") or command substitution, followed by more words: at run
// time it may be rblsmtpd's options. xinetd and systemd expand no shell
// variables, and "$QMAIL/bin/qmail-smtpd" is a program path.
bool holds_options_at_run_time(const ServiceCommand& command, std::size_t word_index);

// Enabled commands only: a disabled service runs no lookups.
RblsmtpdZones collect_rblsmtpd_zones(const std::vector<ServiceCommand>& commands);

// Why a zone is no DNS name rblsmtpd could query, or nullopt when it is one.
// The zone is prefixed with the reversed client address (up to 16 bytes), so
// the limit is 253 - 16 characters.
std::optional<std::string> dns_zone_problem(std::string_view zone);

struct DefunctZone {
  std::string zone;
  std::string since;
  std::string behaviour;
  bool lists_everything = false;
  std::string source;  // where the shutdown is documented
};

// Reads config/defunct-dnsbl-zones.toml ([[zone]] tables).
Expected<std::vector<DefunctZone>> load_defunct_zones(std::string_view toml_text,
                                                      const std::string& name);

// The entry that covers zone: the zone itself or one below it.
const DefunctZone* find_defunct_zone(const std::vector<DefunctZone>& defunct,
                                     std::string_view zone);

}  // namespace qharden
