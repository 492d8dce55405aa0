#include <algorithm>

#include "smtp_greeting/chain.h"

#include "parsers/getopt.h"
#include "rblsmtpd_sources/zones.h"
#include "tcp_env_flags/tcp_env_flags.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {
namespace {

// xinetd's own ident lookup (USERID) waits as long as tcp-env's (domain facts).
constexpr int kXinetdIdentTimeoutSeconds = 30;

std::vector<std::string> words_after(const std::vector<std::string>& argv, std::size_t index) {
  return {argv.begin() + static_cast<long>(index) + 1, argv.end()};
}

bool has_option(const GetoptResult& parsed, char letter) {
  for (const ParsedOption& option : parsed.options) {
    if (option.letter == letter) return true;
  }
  return false;
}

void read_tcp_env(const std::vector<std::string>& argv, ChainFacts& facts) {
  std::optional<std::size_t> word = find_program_word(argv, "tcp-env");
  if (!word) return;
  facts.programs.push_back("tcp-env");
  TcpEnvOptions options = read_tcp_env_options(words_after(argv, *word));
  if (!options.ident_off) {
    facts.ident_waits.push_back({"tcp-env", static_cast<int>(options.ident_timeout_seconds),
                                 options.r_undoes_capital_r ? "-R undone by a later -r" : "no -R",
                                 "tcp-env.flags"});
  }
  // qmail's tcp-env asks the resolver for the client's name on every connection.
  facts.dns_lookups.push_back("tcp-env looks up the client's name");
}

void read_tcpserver(const std::vector<std::string>& argv, ChainFacts& facts) {
  std::optional<std::size_t> word = find_program_word(argv, "tcpserver");
  if (!word) return;
  facts.programs.push_back("tcpserver");
  std::vector<std::string> after = words_after(argv, *word);
  TcpserverOptions options = read_tcpserver_options(after, TcpserverBuild::ipv6);
  if (!options.ident_disabled) {
    facts.ident_waits.push_back({"tcpserver", options.ident_timeout_seconds,
                                 "no -R, -t" + std::to_string(options.ident_timeout_seconds),
                                 "tcpserver.flags"});
  }
  GetoptResult parsed = parse_options(after, kTcpserverIpv6Optstring);
  // -h is the default and -H turns it off; the last of them wins.
  bool names_client = true;
  for (const ParsedOption& option : parsed.options) {
    if (option.letter == 'H') names_client = false;
    if (option.letter == 'h') names_client = true;
  }
  if (names_client) facts.dns_lookups.push_back("tcpserver looks up the client's name (no -H)");
  if (!has_option(parsed, 'l'))
    facts.dns_lookups.push_back("tcpserver looks up its own name (no -l)");
}

void read_rblsmtpd(const ServiceCommand& command, ChainFacts& facts) {
  if (!find_program_word(command.argv, "rblsmtpd")) return;
  facts.programs.push_back("rblsmtpd");
  RblsmtpdZones zones = collect_rblsmtpd_zones({command});
  bool any_lookup = false;
  for (const ZoneUse& use : zones.uses) {
    if (use.lookups_skipped) continue;
    facts.dnsbl_zones.push_back(use.zone);
    any_lookup = true;
  }
  if (any_lookup) facts.dns_lookups.push_back("rblsmtpd queries its DNSBL zones");
}

}  // namespace

ChainFacts analyse_chain(const ServiceCommand& command) {
  ChainFacts facts;
  // USERID in log_on_failure is looked up for refused connections only, which
  // get no greeting: only log_on_success delays a 220.
  const std::vector<std::string>& userid = command.details->xinetd_ident_attributes;
  if (std::find(userid.begin(), userid.end(), "log_on_success") != userid.end()) {
    facts.ident_waits.push_back(
        {"xinetd", kXinetdIdentTimeoutSeconds, "USERID in log_on_success", "tcp-env.flags"});
  }
  read_tcpserver(command.argv, facts);
  read_tcp_env(command.argv, facts);
  read_rblsmtpd(command, facts);
  return facts;
}

int total_ident_wait_seconds(const ChainFacts& facts) {
  int total = 0;
  for (const IdentWait& wait : facts.ident_waits) total += wait.timeout_seconds;
  return total;
}

}  // namespace qharden
