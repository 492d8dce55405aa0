// tcpserver's command line as ucspi-tcp 0.88 reads it: sgetopt with
// "dDvqQhHrR1UXx:t:u:g:l:b:B:c:pPoO", so "-vRHl0" is -v -R -H -l 0 and a later
// -r undoes an earlier -R. Ident (RFC 1413) is on by default (-r), with -t26.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qharden {

inline constexpr std::string_view kTcpserverOptstring = "dDvqQhHrR1UXx:t:u:g:l:b:B:c:pPoO";
// ucspi-tcp-ipv6's tcpserver (Debian's package of that name) adds -4, -6 and
// -I interface; checked against its binary. Rules that read only tcpserver's
// operands, limits or ident use this wider one whatever is installed:
// tcpserver.flags alone says when the installed build would reject an option.
inline constexpr std::string_view kTcpserverIpv6Optstring = "46dDvqQhHrR1UXx:t:u:g:l:b:B:c:I:pPoO";

enum class TcpserverBuild { plain, ipv6, unknown };
inline constexpr int kTcpserverDefaultIdentTimeoutSeconds = 26;

struct TcpserverOptions {
  std::vector<std::string> words;          // the option words as written, before the host
  bool ident_disabled = false;             // -R is in effect
  bool has_ident_enabling_option = false;  // an explicit -r appears
  bool r_undoes_capital_r = false;         // that -r comes after a -R
  int ident_timeout_seconds = kTcpserverDefaultIdentTimeoutSeconds;
  std::optional<std::string> error;  // tcpserver would print its usage and exit
  // The error is a -4, -6 or -I that ucspi-tcp-ipv6's tcpserver would take.
  bool only_ipv6_build_takes_them = false;
  // A word among the options, or where the host should be, comes from a shell
  // variable: its options at run time may differ from what is written.
  bool options_from_variables = false;
  // Index (among the words after "tcpserver") of the last word that holds an
  // option or an option's argument; -R placed after it comes after every -r.
  std::optional<std::size_t> last_option_word;
};

// words_after_program: the words after the tcpserver word. With a build other
// than ipv6, -4, -6 and -I are an error, marked only_ipv6_build_takes_them.
TcpserverOptions read_tcpserver_options(const std::vector<std::string>& words_after_program,
                                        TcpserverBuild build = TcpserverBuild::plain);

}  // namespace qharden
