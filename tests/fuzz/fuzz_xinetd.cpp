// Any byte string, read as xinetd.conf and as every file it includes, must
// parse without crashing or hanging, and every word location must point at
// exactly that word's bytes (a fix rewrites those bytes).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../unit/line_blocks.h"
#include "inventory/inventory.h"
#include "inventory/xinetd_check_entry.h"
#include "parsers/text_lines.h"
#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"
#include "tcp_env_flags/tcp_env_flags.h"

namespace {

// Every path holds the input itself, so includes loop back into it. Read in
// blocks of `lines_per_block` whole lines (0: the whole text as one), as
// Host::read_file_in_blocks cuts a file.
class SameTextSource final : public qharden::XinetdFileSource {
 public:
  SameTextSource(std::string text, std::size_t lines_per_block)
      : text_(std::move(text)), lines_per_block_(lines_per_block) {}
  qharden::Expected<std::string> read_file(const std::string&) const override { return text_; }
  qharden::Outcome read_file_in_blocks(const std::string&,
                                       const BlockVisitor& each) const override {
    qharden::testing::visit_line_blocks(text_, lines_per_block_, each);
    return qharden::Done{};
  }
  qharden::Expected<std::vector<std::string>> list_directory(const std::string&) const override {
    return std::vector<std::string>{"smtp_psa", "smtp_psa.bak", "smtp_psa~", "z"};
  }
  qharden::Expected<bool> is_regular_file(const std::string& path) const override {
    if (path.back() == 'z') return qharden::fail_with(path + ": Too many levels of symbolic links");
    return true;
  }

 private:
  std::string text_;
  std::size_t lines_per_block_;
};

void check_location(std::string_view text, const qharden::WordLocation& location,
                    std::string_view word) {
  if (location.offset + location.length > text.size()) __builtin_trap();
  if (text.substr(location.offset, location.length) != word) __builtin_trap();
  if (location.line < 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  // Parsed in blocks cut where the input says; every location below must
  // still point into the whole text, and the whole-text parse further down
  // must find the same sections and problems.
  std::size_t lines_per_block = size == 0 ? 0 : 1 + data[0] % 4;
  qharden::XinetdConfiguration configuration =
      qharden::load_xinetd_configuration("/etc/xinetd.conf", SameTextSource(text, lines_per_block));
  for (const qharden::XinetdProblem& problem : configuration.problems) {
    if (problem.message.empty() || problem.file.empty()) __builtin_trap();
  }
  for (const qharden::XinetdSection& section : configuration.sections) {
    for (const qharden::XinetdAttribute& attribute : section.attributes) {
      if (attribute.values.size() != attribute.value_locations.size()) __builtin_trap();
      for (std::size_t index = 0; index < attribute.values.size(); ++index) {
        check_location(text, attribute.value_locations[index], attribute.values[index]);
      }
      if (attribute.content_end > text.size()) __builtin_trap();
    }
    if (section.closing_line != 0) {
      if (section.closing_offset >= text.size()) __builtin_trap();
      std::string_view rest = std::string_view(text).substr(section.closing_offset);
      if (!qharden::line_holds_only(rest.substr(0, rest.find('\n')), '}')) __builtin_trap();
    }
  }
  // The name files are read as the input too, so its lines can list names.
  static const qharden::XinetdNameFiles kDebianNames(qharden::XinetdNameTexts{
      "smtp 25/tcp mail\nsubmission 587/tcp\nsyslog 514/udp\n", "tcp 6 TCP\nudp 17 UDP\n",
      "root:x:0:0::/:\nqmaild:x:1:1::/:\n", "passwd: files systemd\n"});
  const qharden::XinetdNameFiles input_names(qharden::XinetdNameTexts{text, text, text, text});
  for (const qharden::XinetdService& service :
       qharden::resolve_xinetd_services(configuration.sections, input_names.lookups())) {
    if (service.server_location) check_location(text, *service.server_location, service.server);
    for (const qharden::XinetdNameFiles* names : {&kDebianNames, &input_names}) {
      std::optional<std::string> refusal = qharden::xinetd_start_refusal(service, *names);
      if (refusal && refusal->rfind("xinetd ", 0) != 0) __builtin_trap();
    }
    qharden::XinetdCommandLine command = qharden::xinetd_command_line(service);
    if (service.redirected && !command.argv.empty()) __builtin_trap();
    if (command.argv.size() != command.locations.size()) __builtin_trap();
    for (std::size_t index = 0; index < command.argv.size(); ++index) {
      if (command.locations[index]) {
        check_location(text, *command.locations[index], command.argv[index]);
      }
    }
    std::optional<std::size_t> tcp_env = qharden::find_program_word(command.argv, "tcp-env");
    if (tcp_env) {
      std::vector<std::string> after(command.argv.begin() + static_cast<long>(*tcp_env) + 1,
                                     command.argv.end());
      qharden::TcpEnvOptions options = qharden::read_tcp_env_options(after);
      if (options.option_words.size() > after.size()) __builtin_trap();
    }
  }
  // The inventory parses with only the attributes it resolves kept: that must
  // not change a resolved service or its burst limits. This parse reads the
  // text whole, so it also checks the block parse above.
  qharden::XinetdConfiguration filtered = qharden::load_xinetd_configuration(
      "/etc/xinetd.conf", SameTextSource(text, 0), qharden::xinetd_attribute_is_resolved);
  if (filtered.sections.size() != configuration.sections.size()) __builtin_trap();
  if (filtered.problems.size() != configuration.problems.size()) __builtin_trap();
  for (std::size_t index = 0; index < filtered.sections.size(); ++index) {
    const qharden::XinetdSection& left = configuration.sections[index];
    const qharden::XinetdSection& right = filtered.sections[index];
    if (left.line != right.line || left.closing_line != right.closing_line ||
        left.closing_offset != right.closing_offset || left.name != right.name)
      __builtin_trap();
  }
  for (std::size_t index = 0; index < filtered.problems.size(); ++index) {
    if (configuration.problems[index].line != filtered.problems[index].line ||
        configuration.problems[index].message != filtered.problems[index].message)
      __builtin_trap();
  }
  std::vector<qharden::XinetdService> whole =
      qharden::resolve_xinetd_services(configuration.sections, kDebianNames.lookups());
  std::vector<qharden::XinetdService> kept =
      qharden::resolve_xinetd_services(filtered.sections, kDebianNames.lookups());
  if (whole.size() != kept.size()) __builtin_trap();
  for (std::size_t index = 0; index < whole.size(); ++index) {
    const qharden::XinetdService& left = whole[index];
    const qharden::XinetdService& right = kept[index];
    if (left.id != right.id || left.enabled != right.enabled ||
        left.disabled_reason != right.disabled_reason || left.server != right.server ||
        left.server_args != right.server_args || left.port != right.port ||
        left.environment != right.environment || left.log_on_success != right.log_on_success ||
        left.log_on_failure != right.log_on_failure ||
        left.ident_attributes != right.ident_attributes ||
        left.name_in_args != right.name_in_args || left.logs != right.logs ||
        left.disabled_by_parse_error != right.disabled_by_parse_error ||
        left.types != right.types || left.socket_type != right.socket_type ||
        left.protocol != right.protocol || left.wait != right.wait ||
        left.user_set != right.user_set || left.redirected != right.redirected ||
        left.flags != right.flags)
      __builtin_trap();
    // A service that is off says why, and only an off one can be off by a parse error.
    if (left.enabled != left.disabled_reason.empty()) __builtin_trap();
    if (left.disabled_by_parse_error && left.enabled) __builtin_trap();
    if (!left.logs && !left.ident_attributes.empty()) __builtin_trap();
  }
  qharden::XinetdServiceResolver whole_resolver(configuration.sections);
  qharden::XinetdServiceResolver kept_resolver(filtered.sections);
  if (whole_resolver.problems().size() != kept_resolver.problems().size()) __builtin_trap();
  for (std::size_t index = 0; index < whole_resolver.problems().size(); ++index) {
    if (whole_resolver.problems()[index].message != kept_resolver.problems()[index].message)
      __builtin_trap();
  }
  qharden::XinetdLimits whole_limits = qharden::resolve_xinetd_limits(configuration.sections);
  qharden::XinetdLimits kept_limits = qharden::resolve_xinetd_limits(filtered.sections);
  if (whole_limits.services.size() != kept_limits.services.size()) __builtin_trap();
  for (std::size_t index = 0; index < whole_limits.services.size(); ++index) {
    const qharden::XinetdServiceLimits& left = whole_limits.services[index];
    const qharden::XinetdServiceLimits& right = kept_limits.services[index];
    if (left.rejected != right.rejected || left.settings.size() != right.settings.size())
      __builtin_trap();
    for (std::size_t setting = 0; setting < left.settings.size(); ++setting) {
      if (left.settings[setting].words != right.settings[setting].words ||
          left.settings[setting].line != right.settings[setting].line)
        __builtin_trap();
    }
  }
  return 0;
}
