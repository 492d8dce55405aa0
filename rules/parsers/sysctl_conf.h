// sysctl.d(5) / sysctl.conf(5) files, as systemd-sysctl and procps `sysctl
// --system` read them. The parser works on text alone (no Host) so it can be
// fuzzed; which files are read, and in what order, is boot_precedence's job.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace qharden {

struct SysctlAssignment {
  std::string key;    // normalised to dots: "net.ipv4.tcp_fin_timeout"
  std::string value;  // trimmed; empty when has_value is false
  int line = 0;
  // A leading '-': the tool ignores a failure to write this key.
  bool ignore_failure = false;
  // systemd (250+) reads "-key" without '=' as "exclude this key from an
  // earlier glob"; procps rejects such a line as invalid syntax.
  bool has_value = true;
  // '*', '?' or '[' in the key: systemd expands it over /proc/sys.
  bool is_glob = false;
};

// A line that is neither blank, a comment nor an assignment. Both tools warn
// and go on with the next line, so these never stop a file from being read.
struct SysctlMalformedLine {
  int line = 0;
  std::string text;     // shortened for messages, non-printable bytes escaped
  std::string message;  // "FILE:LINE: ..." ready to show
};

struct SysctlConfFile {
  std::string file_name;
  std::vector<SysctlAssignment> assignments;
  std::vector<SysctlMalformedLine> malformed;
};

SysctlConfFile parse_sysctl_conf(std::string_view file_name, std::string_view text);

// "net/ipv4/conf/eth0.100/rp_filter" -> "net.ipv4.conf.eth0/100.rp_filter".
// When the first separator is '/', every '/' and '.' swap roles (sysctl.d(5));
// the dotted form therefore keeps a literal dot as '/', as procps does, so two
// spellings of one key compare equal. Repeated and outer separators collapse.
// A key whose first component holds a literal dot ("a.b/c") has no
// unambiguous dotted form; no top-level /proc/sys entry has a dot in its name.
std::string normalize_sysctl_key(std::string_view key);

// The dotted key as a path below /proc/sys: "net.ipv4.tcp_fin_timeout" ->
// "net/ipv4/tcp_fin_timeout" (a '/' in the dotted form is a literal dot).
std::string sysctl_key_to_proc_path(std::string_view dotted_key);

// A line longer than this is reported as malformed and not kept: systemd-sysctl
// refuses a line over 1 MiB (LONG_LINE_MAX), and no real setting is this long.
inline constexpr std::size_t kMaximumSysctlLineBytes = 1024 * 1024;

}  // namespace qharden
