// xinetd's configuration language, read the way xinetd 2.3.15 reads it, in
// three steps that need no Host, so tests and the fuzzer can drive them:
//
//   parse_xinetd_text          one file's text -> sections, include lines, problems
//   load_xinetd_configuration  follows include/includedir through an XinetdFileSource
//   resolve_xinetd_services    applies `defaults`, operators and enable rules
//
// What xinetd rejects (and so never runs) is a problem with file and line.
// What it only warns about (an unknown attribute, `+=` on server_args, a
// repeated `server`) is ignored here as xinetd ignores it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/expected.h"
#include "inventory/inventory.h"

namespace qharden {

enum class XinetdOperator { assign, add, remove };

struct XinetdAttribute {
  std::string name;  // lower case: xinetd matches attribute names without case
  XinetdOperator operation = XinetdOperator::assign;
  std::vector<std::string> values;
  std::vector<WordLocation> value_locations;  // same size as values
  int line = 0;
  std::size_t line_offset = 0;  // first byte of the line
  std::size_t content_end = 0;  // just past the last word of the line
  std::string indentation;      // the blanks before the name
};

enum class XinetdSectionKind { service, defaults };

struct XinetdSection {
  XinetdSectionKind kind = XinetdSectionKind::service;
  std::string file;
  std::string name;  // the service name as written; empty for defaults
  int line = 0;      // the `service`/`defaults` line
  std::vector<XinetdAttribute> attributes;
  int closing_line = 0;
  std::size_t closing_offset = 0;  // first byte of the `}` line
};

struct XinetdInclude {
  bool directory = false;  // includedir
  std::string path;
  int line = 0;
};

struct XinetdProblem {
  std::string file;
  int line = 0;  // 0 when the whole file is at fault
  std::string message;
};

using XinetdItem = std::variant<XinetdSection, XinetdInclude>;

struct XinetdFile {
  std::string file;
  // Sections xinetd accepts, and include lines, in file order. A service with a
  // line xinetd rejects is left out (xinetd drops it); a defaults section keeps
  // the attributes before the bad line (xinetd has applied them already).
  std::vector<XinetdItem> items;
  std::vector<XinetdProblem> problems;
};

// Which attributes a parse keeps, by lower-case name; an empty filter keeps
// all. What xinetd rejects is rejected whatever the filter says.
using XinetdAttributeFilter = std::function<bool(std::string_view name)>;

XinetdFile parse_xinetd_text(const std::string& file, std::string_view text,
                             const XinetdAttributeFilter& keep = {});
// The same, handing each item to `visit` as soon as it is complete and each
// problem to `report` as it is found, in reading order, instead of keeping
// them (the result is left without either): a file of 100,000 services is
// never held parsed whole (issue 15: audit memory).
using XinetdItemVisitor = std::function<void(XinetdItem&& item)>;
using XinetdProblemVisitor = std::function<void(XinetdProblem&& problem)>;
void parse_xinetd_text(const std::string& file, std::string_view text,
                       const XinetdAttributeFilter& keep, const XinetdItemVisitor& visit,
                       const XinetdProblemVisitor& report);

// The same parse fed a block of whole lines at a time (Host::read_file_in_blocks),
// so that not even the file's text is held whole. The caller makes sure the
// file holds no NUL byte first: xinetd cannot use such a file at all, but a
// block parser has handed on what came before the NUL when it meets one.
class XinetdBlockParser {
 public:
  XinetdBlockParser(const std::string& file, const XinetdAttributeFilter& keep,
                    const XinetdItemVisitor& visit, const XinetdProblemVisitor& report);
  ~XinetdBlockParser();
  XinetdBlockParser(const XinetdBlockParser&) = delete;
  XinetdBlockParser& operator=(const XinetdBlockParser&) = delete;

  void feed(std::string_view block);  // whole lines; the last may lack its '\n'
  void finish();                      // reports an entry the file leaves open

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

// The attributes that resolve_xinetd_services, resolve_xinetd_limits and the
// inventory's passenv read. The inventory keeps only these: a file of 100,000
// services parsed whole is the largest thing an audit holds (issue 15).
bool xinetd_attribute_is_resolved(std::string_view name);

// Where the loader gets files from: the inventory backs it with a Host (so
// --root holds), tests and the fuzzer with a map.
class XinetdFileSource {
 public:
  virtual ~XinetdFileSource() = default;
  virtual Expected<std::string> read_file(const std::string& path) const = 0;
  // The file a block of whole lines at a time (Host::read_file_in_blocks);
  // by default the whole file as one block.
  using BlockVisitor = std::function<void(std::string_view block)>;
  virtual Outcome read_file_in_blocks(const std::string& path, const BlockVisitor& each) const {
    Expected<std::string> text = read_file(path);
    if (!text) return Unexpected(text.error());
    each(*text);
    return Done{};
  }
  // Entry names; the loader sorts them in strcmp order itself.
  virtual Expected<std::vector<std::string>> list_directory(const std::string& path) const = 0;
  // Follows symlinks, as xinetd's stat() does; a symlink loop is an error.
  virtual Expected<bool> is_regular_file(const std::string& path) const = 0;
  // Two paths naming one file give one identity, so a symlinked include cycle
  // is caught too. The path itself when nothing better is known.
  virtual std::string identity(const std::string& path) const { return path; }
};

inline constexpr int kXinetdMaximumIncludeDepth = 16;
inline constexpr std::size_t kXinetdMaximumFiles = 256;
// A file that includes many files many times must not grow the report without end.
inline constexpr std::size_t kXinetdMaximumProblems = 200;

struct XinetdConfiguration {
  std::vector<XinetdSection> sections;  // reading order, includes expanded in place
  std::vector<XinetdProblem> problems;
  std::vector<std::string> files_read;
};

XinetdConfiguration load_xinetd_configuration(const std::string& main_file,
                                              const XinetdFileSource& source,
                                              const XinetdAttributeFilter& keep = {});
// The same, handing each section to `visit` in reading order as it is parsed;
// the returned `sections` stay empty. Files are read a block at a time (see
// XinetdFileSource::read_file_in_blocks), twice each: first for a NUL byte,
// then to parse. One section and one block of each file being read (the
// file and those that include it) are held at a time.
using XinetdSectionVisitor = std::function<void(XinetdSection&& section)>;
XinetdConfiguration visit_xinetd_configuration(const std::string& main_file,
                                               const XinetdFileSource& source,
                                               const XinetdAttributeFilter& keep,
                                               const XinetdSectionVisitor& visit);

// One file name in an includedir that xinetd reads: no '.', no trailing '~'.
bool xinetd_reads_directory_entry(std::string_view name);

struct XinetdService {
  std::string file;
  int line = 0;
  std::string name;
  std::string id;  // the name unless `id` is set
  bool enabled = true;
  std::string disabled_reason;
  // Off by a line xinetd could not parse (a bad flag, log_type or port),
  // which defaults' `enabled` list overrides, unlike `disable = yes`.
  bool disabled_by_parse_error = false;
  std::string server;
  std::optional<WordLocation> server_location;
  std::vector<std::string> server_args;
  std::vector<WordLocation> server_args_locations;
  std::optional<std::size_t> server_args_end;  // end of the server_args line's words, when set
  bool name_in_args = false;                   // flags NAMEINARGS
  std::optional<int> port;
  // What xinetd checks once every file is read (xinetd_check_entry.h):
  std::set<std::string> types;             // `type` words, upper case: UNLISTED, RPC, ...
  std::optional<std::string> socket_type;  // stream, dgram, raw or seqpacket
  std::optional<std::string> protocol;     // as written: /etc/services compares it with case
  std::optional<bool> wait;
  bool user_set = false;
  bool redirected = false;          // to an address literal xinetd takes
  bool redirect_to_a_name = false;  // whether xinetd could resolve it is not known offline
  bool name_in_args_after_server_args = false;  // xinetd then runs argv[0] = NULL
  std::set<std::string> flags;                  // upper case
  std::map<std::string, std::string> environment;
  // Effective values, upper case, after defaults and the service's =, += and -=.
  std::set<std::string> log_on_success;
  std::set<std::string> log_on_failure;
  // A valid log_type, the service's or defaults': without one xinetd logs
  // nothing, USERID included.
  bool logs = false;
  // "log_on_success"/"log_on_failure" when the service logs and its effective
  // value holds USERID: xinetd then does an ident lookup itself, before the
  // server starts (success) or for a refused connection (failure).
  std::vector<std::string> ident_attributes;
  std::size_t closing_offset = 0;     // first byte of the `}` line
  std::string attribute_indentation;  // of the last attribute line, for inserted lines
};

// What some of xinetd's attribute parsers look up on the host: a name they
// cannot find is a parse error. An empty function finds every name (tests,
// fuzzers, and hosts whose databases qharden cannot read whole).
struct XinetdLookups {
  std::function<bool(const std::string&)> protocol_exists;     // getprotobyname
  std::function<bool(const std::string&)> user_exists;         // getpwnam
  std::function<bool(const std::string&)> tcp_service_exists;  // getservbyname(name, "tcp")
};

// Services in reading order. A service's own log_on_* lines start from the
// `defaults` read before it; a service with none, and log_type, take the
// defaults as they are once every file is read; `enabled` and `disabled`
// apply to every service by id, without case.
std::vector<XinetdService> resolve_xinetd_services(const std::vector<XinetdSection>& sections,
                                                   const XinetdLookups& lookups = {});

// The same, one section at a time, so that a caller walking 100,000 services
// never holds them all resolved at once (issue 15: audit memory).
class XinetdServiceResolver {
 public:
  // Reads every `defaults` first: its `enabled` and `disabled` reach every service.
  explicit XinetdServiceResolver(const std::vector<XinetdSection>& sections,
                                 XinetdLookups lookups = {});
  // A log_type in `defaults` that stops xinetd: rejected, or a second one.
  const std::vector<XinetdProblem>& problems() const { return problems_; }
  ~XinetdServiceResolver();
  XinetdServiceResolver(const XinetdServiceResolver&) = delete;
  XinetdServiceResolver& operator=(const XinetdServiceResolver&) = delete;

  // Give it every section, defaults included, in reading order (see
  // resolve_xinetd_services for what the order decides). Nothing for a
  // defaults section.
  std::optional<XinetdService> resolve(const XinetdSection& section);

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::vector<XinetdProblem> problems_;
};

struct XinetdCommandLine {
  std::vector<std::string> argv;                       // argv[0] is the program xinetd runs
  std::vector<std::optional<WordLocation>> locations;  // nullopt for the server path
};

// server_args without argv[0], unless NAMEINARGS; with NAMEINARGS and tcpd as
// the server, tcpd runs server_args[0], so that becomes argv[0].
XinetdCommandLine xinetd_command_line(const XinetdService& service);

}  // namespace qharden
