#include <gtest/gtest.h>

#include <map>

#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

std::vector<std::string> section_names(const XinetdFile& parsed) {
  std::vector<std::string> names;
  for (const XinetdItem& item : parsed.items) {
    if (const auto* section = std::get_if<XinetdSection>(&item)) {
      names.push_back(section->kind == XinetdSectionKind::defaults ? "(defaults)" : section->name);
    } else {
      const auto& include = std::get<XinetdInclude>(item);
      names.push_back((include.directory ? "includedir " : "include ") + include.path);
    }
  }
  return names;
}

std::vector<int> problem_lines(const std::vector<XinetdProblem>& problems) {
  std::vector<int> lines;
  for (const XinetdProblem& problem : problems) lines.push_back(problem.line);
  return lines;
}

std::vector<XinetdSection> sections_of(const std::string& text) {
  std::vector<XinetdSection> sections;
  for (XinetdItem& item : parse_xinetd_text("/etc/xinetd.d/test", text).items) {
    if (auto* section = std::get_if<XinetdSection>(&item)) sections.push_back(std::move(*section));
  }
  return sections;
}

std::vector<XinetdService> services_of(const std::string& text) {
  return resolve_xinetd_services(sections_of(text));
}

TEST(XinetdParser, PleskSmtpServiceWithExactWordLocations) {
  std::string text = testing::read_fixture("plesk", "/etc/xinetd.d/smtp_psa");
  XinetdFile parsed = parse_xinetd_text("/etc/xinetd.d/smtp_psa", text);
  ASSERT_TRUE(parsed.problems.empty()) << parsed.problems.front().message;
  std::vector<XinetdService> services = services_of(text);
  ASSERT_EQ(services.size(), 1u);
  const XinetdService& service = services.front();
  EXPECT_EQ(service.name, "smtp");
  EXPECT_EQ(service.id, "smtp");
  EXPECT_TRUE(service.enabled);
  EXPECT_EQ(service.line, 1);
  ASSERT_TRUE(service.server_location);
  EXPECT_EQ(service.server_location->line, 9);
  EXPECT_EQ(text.substr(service.server_location->offset, service.server_location->length),
            "/var/qmail/bin/tcp-env");
  ASSERT_EQ(service.server_args.size(), 9u);
  EXPECT_EQ(service.server_args[0], "/usr/sbin/rblsmtpd");
  EXPECT_EQ(service.server_args[2], "sbl-xbl.spamhaus.org");
  for (std::size_t index = 0; index < service.server_args.size(); ++index) {
    const WordLocation& location = service.server_args_locations[index];
    EXPECT_EQ(location.line, 10);
    EXPECT_EQ(text.substr(location.offset, location.length), service.server_args[index]);
  }
  EXPECT_EQ(text.substr(service.closing_offset), "}\n");
  EXPECT_EQ(service.attribute_indentation, "\t");
  XinetdCommandLine command = xinetd_command_line(service);
  ASSERT_EQ(command.argv.size(), 10u);
  EXPECT_EQ(command.argv[0], "/var/qmail/bin/tcp-env");
  EXPECT_FALSE(command.locations[0]);
  EXPECT_EQ(command.argv[1], "/usr/sbin/rblsmtpd");
}

struct SyntaxCase {
  const char* name;
  const char* text;
  std::vector<std::string> sections;  // what xinetd keeps, in order
  std::vector<int> problem_lines;
};

class XinetdSyntax : public ::testing::TestWithParam<SyntaxCase> {};

TEST_P(XinetdSyntax, KeepsWhatXinetdKeepsAndNamesTheLine) {
  const SyntaxCase& test_case = GetParam();
  XinetdFile parsed = parse_xinetd_text("/etc/xinetd.d/test", test_case.text);
  EXPECT_EQ(section_names(parsed), test_case.sections);
  EXPECT_EQ(problem_lines(parsed.problems), test_case.problem_lines);
  for (const XinetdProblem& problem : parsed.problems) {
    EXPECT_EQ(problem.file, "/etc/xinetd.d/test");
    EXPECT_FALSE(problem.message.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, XinetdSyntax,
    ::testing::Values(
        SyntaxCase{"comments_and_blank_lines",
                   "# comment\n   # indented comment\n\n \t\nservice a\n{\n# inside\n\tserver = "
                   "/x\n}\n",
                   {"a"},
                   {}},
        SyntaxCase{"upper_case_keywords",
                   "SERVICE smtp\n{\n\tSERVER = /x\n}\nIncludeDir /d\n",
                   {"smtp", "includedir /d"},
                   {}},
        SyntaxCase{"braces_with_blanks", "service a\n  {  \n\tserver = /x\n\t}\t\n", {"a"}, {}},
        SyntaxCase{"no_blank_before_operator_drops_the_service",
                   "service a\n{\n\tserver=/x\n}\nservice b\n{\n}\n",
                   {"b"},
                   {3}},
        SyntaxCase{"unknown_operator", "service a\n{\n\tserver := /x\n}\n", {}, {3}},
        SyntaxCase{"missing_open_brace_skips_to_next_close",
                   "service a\n\tserver = /x\n}\nservice b\n{\n}\n",
                   {"b"},
                   {2}},
        SyntaxCase{"missing_open_brace_swallows_the_next_service",
                   "service a\nservice b\n{\n}\nservice c\n{\n}\n",
                   {"c"},
                   {2}},
        SyntaxCase{"stray_line_skips_to_next_close",
                   "server = /x\nservice a\n{\n}\nservice b\n{\n}\n",
                   {"b"},
                   {1}},
        SyntaxCase{"file_ends_inside_a_service", "service a\n{\n\tserver = /x\n", {}, {1}},
        SyntaxCase{"file_ends_before_open_brace", "service a\n", {}, {1}},
        SyntaxCase{"service_without_name", "service\n{\n}\nservice b\n{\n}\n", {"b"}, {1}},
        SyntaxCase{"second_defaults_in_a_file_is_ignored",
                   "defaults\n{\n}\ndefaults\n{\n\tlog_on_success = USERID\n}\n",
                   {"(defaults)"},
                   {4}},
        SyntaxCase{"defaults_keeps_lines_before_a_bad_one",
                   "defaults\n{\n\tinstances = 5\n\tbad\n}\nservice a\n{\n}\n",
                   // xinetd reads on after the bad line, so the `}` is a stray
                   // line and skipping to the next `}` swallows service a.
                   {"(defaults)"},
                   {4, 5}},
        SyntaxCase{"close_brace_with_comment_is_not_a_close",
                   "service a\n{\n\tserver = /x\n} # end\n}\nservice b\n{\n}\n",
                   {"b"},
                   {4}},
        SyntaxCase{"includes_keep_their_place",
                   "include /etc/a\nservice s\n{\n}\nincludedir /etc/xinetd.d\n",
                   {"include /etc/a", "s", "includedir /etc/xinetd.d"},
                   {}},
        SyntaxCase{"no_trailing_newline", "service a\n{\n}", {"a"}, {}},
        SyntaxCase{"empty_file", "", {}, {}}),
    [](const ::testing::TestParamInfo<SyntaxCase>& parameter) { return parameter.param.name; });

TEST(XinetdParser, BinaryFileProblemSaysSo) {
  std::string text("service a\n{\n\0\n}\n", 16);
  XinetdFile parsed = parse_xinetd_text("/etc/xinetd.d/core", text);
  ASSERT_EQ(parsed.problems.size(), 1u);
  EXPECT_EQ(parsed.problems[0].line, 3);
  EXPECT_NE(parsed.problems[0].message.find("binary file"), std::string::npos);
  EXPECT_TRUE(parsed.items.empty());
}

TEST(XinetdParser, MidLineHashIsAValueAndAttributeNamesAreLowerCase) {
  std::vector<XinetdSection> sections =
      sections_of("service a\n{\n\tServer_Args = -R # trailing\n\tserver = /x # c\n}\n");
  ASSERT_EQ(sections.size(), 1u);
  ASSERT_EQ(sections[0].attributes.size(), 2u);
  EXPECT_EQ(sections[0].attributes[0].name, "server_args");
  EXPECT_EQ(sections[0].attributes[0].values, (std::vector<std::string>{"-R", "#", "trailing"}));
  // A trailing comment on `server =` makes it three values, so xinetd ignores it.
  std::vector<XinetdService> services = resolve_xinetd_services(sections);
  EXPECT_EQ(services[0].server, "");
  EXPECT_EQ(services[0].server_args, (std::vector<std::string>{"-R", "#", "trailing"}));
}

TEST(XinetdParser, HundredKilobyteLineIsParsed) {
  std::string arguments;
  for (int index = 0; index < 20000; ++index) arguments += " /var/qmail/bin/true";
  std::string text = "service smtp\n{\n\tserver = /var/qmail/bin/tcp-env\n\tserver_args = -Rt0" +
                     arguments + "\n}\n";
  ASSERT_GT(text.size(), 100000u);
  std::vector<XinetdService> services = services_of(text);
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].server_args.size(), 20001u);
  const WordLocation& last = services[0].server_args_locations.back();
  EXPECT_EQ(text.substr(last.offset, last.length), "/var/qmail/bin/true");
  EXPECT_EQ(last.offset + last.length, text.size() - 3);
}

// A service's own log_on_* lines start from the defaults read before it; a
// service without any takes the defaults as they are after every file
// (xinetd's service_fill), checked against Debian 12's xinetd.
TEST(XinetdResolve, OwnLogLinesStartFromEarlierDefaultsOthersTakeTheFinalOnes) {
  std::vector<XinetdService> services = services_of(
      "service early\n{\n}\n"
      "service early_own\n{\n\tlog_on_success += PID\n}\n"
      "defaults\n{\n\tlog_type = SYSLOG daemon info\n\tlog_on_success = HOST\n"
      "\tlog_on_success = USERID\n}\n"
      "service late\n{\n}\n"
      "service late_own\n{\n\tlog_on_success += PID\n}\n");
  ASSERT_EQ(services.size(), 4u);
  EXPECT_EQ(services[0].ident_attributes, std::vector<std::string>{"log_on_success"});
  EXPECT_EQ(services[1].log_on_success, std::set<std::string>{"PID"});
  EXPECT_TRUE(services[1].ident_attributes.empty());
  // In defaults `=` adds, so both lines count.
  EXPECT_EQ(services[2].log_on_success, (std::set<std::string>{"HOST", "USERID"}));
  EXPECT_EQ(services[2].ident_attributes, std::vector<std::string>{"log_on_success"});
  EXPECT_EQ(services[3].log_on_success, (std::set<std::string>{"HOST", "PID", "USERID"}));
}

struct IdentCase {
  const char* name;
  const char* service_lines;
  std::vector<std::string> ident_attributes;
  const char* defaults_log_type = "\tlog_type = SYSLOG daemon info\n";
};

class XinetdIdent : public ::testing::TestWithParam<IdentCase> {};

TEST_P(XinetdIdent, EffectiveLogSettingsDecide) {
  std::string text = std::string("defaults\n{\n") + GetParam().defaults_log_type +
                     "\tlog_on_success = PID HOST USERID\n\tlog_on_failure = HOST\n}\n"
                     "service smtp\n{\n" +
                     GetParam().service_lines + "}\n";
  std::vector<XinetdService> services = services_of(text);
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].ident_attributes, GetParam().ident_attributes);
  EXPECT_TRUE(services[0].enabled) << services[0].disabled_reason;
}

// xinetd logs nothing, USERID included, without a valid log_type (logctl.c
// log_start: L_NONE gives no log; service.h SVC_LOGS_USERID_ON_*).
INSTANTIATE_TEST_SUITE_P(
    Table, XinetdIdent,
    ::testing::Values(
        IdentCase{"inherited_from_defaults", "", {"log_on_success"}},
        IdentCase{"no_log_type_anywhere", "", {}, ""},
        IdentCase{"log_type_only_in_the_service",
                  "\tlog_type = FILE /var/log/smtp.log\n",
                  {"log_on_success"},
                  ""},
        IdentCase{"log_type_plus_equals_is_ignored", "\tlog_type += SYSLOG mail\n", {}, ""},
        IdentCase{
            "defaults_log_type_with_an_unknown_facility", "", {}, "\tlog_type = SYSLOG mial\n"},
        IdentCase{"defaults_log_type_with_a_level",
                  "",
                  {"log_on_success"},
                  "\tlog_type = SYSLOG local3 warning\n"},
        IdentCase{"defaults_log_type_ignores_case",
                  "",
                  {"log_on_success"},
                  "\tlog_type = syslog DAEMON Info\n"},
        IdentCase{"defaults_log_type_plus_equals_counts",
                  "",
                  {"log_on_success"},
                  "\tlog_type += SYSLOG daemon\n"},
        IdentCase{"service_log_type_file_lower_case",
                  "\tlog_type = file /var/log/x 1k 2M\n",
                  {"log_on_success"},
                  ""},
        IdentCase{"removed_by_minus_equals", "\tlog_on_success -= USERID\n", {}},
        // A line that fails to parse does not count as the service's own: the
        // defaults replace it, unless an earlier line parsed; the words before
        // the bad one apply (parse_value_list). disable = no turns it back on.
        IdentCase{"a_bad_line_leaves_the_defaults",
                  "\tlog_on_success = BOGUS\n\tdisable = no\n",
                  {"log_on_success"}},
        IdentCase{"words_before_a_bad_one_still_apply",
                  "\tlog_on_success = PID\n\tlog_on_success += USERID BOGUS\n\tdisable = no\n",
                  {"log_on_success"}},
        IdentCase{"replaced_by_equals", "\tlog_on_success = PID HOST\n", {}},
        IdentCase{"added_by_plus_equals",
                  "\tlog_on_failure += USERID\n",
                  {"log_on_success", "log_on_failure"}},
        IdentCase{"equals_then_plus_equals",
                  "\tlog_on_success = PID\n\tlog_on_success += userid\n",
                  {"log_on_success"}},
        IdentCase{"both_removed", "\tlog_on_success -= USERID\n\tlog_on_failure -= USERID\n", {}}),
    [](const ::testing::TestParamInfo<IdentCase>& parameter) { return parameter.param.name; });

struct EnableCase {
  const char* name;
  const char* defaults_lines;
  const char* service_lines;
  bool enabled;
  const char* reason;
};

class XinetdEnable : public ::testing::TestWithParam<EnableCase> {};

TEST_P(XinetdEnable, DisabledWithTheReason) {
  const EnableCase& test_case = GetParam();
  std::string text = std::string("defaults\n{\n") + test_case.defaults_lines +
                     "}\nservice smtp\n{\n\tid = smtp-main\n" + test_case.service_lines + "}\n";
  std::vector<XinetdService> services = services_of(text);
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].id, "smtp-main");
  EXPECT_EQ(services[0].enabled, test_case.enabled);
  EXPECT_EQ(services[0].disabled_reason, test_case.reason);
}

INSTANTIATE_TEST_SUITE_P(
    Table, XinetdEnable,
    ::testing::Values(
        EnableCase{"plain", "", "\tdisable = no\n", true, ""},
        // After any line named disable, even one xinetd ignores, a service
        // that is off is dropped for good (helper-43, on the binary).
        EnableCase{"ignored_disable_line_after_a_parse_error", "\tenabled = smtp-main\n",
                   "\tflags = FOO\n\tdisable = no no\n", false,
                   "flags = FOO: xinetd knows no flag FOO; a disable line after it drops the "
                   "service for good"},
        EnableCase{"repeated_disable_line_after_a_parse_error", "\tenabled = smtp-main\n",
                   "\tdisable = no\n\tflags = FOO\n\tdisable = no\n", false,
                   "flags = FOO: xinetd knows no flag FOO; a disable line after it drops the "
                   "service for good"},
        EnableCase{"disable_yes", "", "\tdisable = yes\n", false, "disable = yes"},
        EnableCase{"disable_yes_upper", "", "\tDISABLE = YES\n", false, "disable = YES"},
        EnableCase{"disable_bad_value", "", "\tdisable = maybe\n", false,
                   "disable = maybe is neither yes nor no"},
        EnableCase{"flags_disable", "", "\tflags = REUSE DISABLE\n", false, "flags = DISABLE"},
        EnableCase{"defaults_disabled_by_id", "\tdisabled = ftp smtp-main\n", "", false,
                   "listed in `disabled` of defaults"},
        EnableCase{"defaults_disabled_by_name_does_not_match_id", "\tdisabled = smtp\n", "", true,
                   ""},
        EnableCase{"defaults_enabled_lists_others", "\tenabled = ftp\n", "", false,
                   "not listed in `enabled` of defaults"},
        EnableCase{"defaults_enabled_lists_it", "\tenabled = ftp smtp-main\n", "", true, ""},
        EnableCase{"bad_port", "", "\tport = smtp\n", false, "port = smtp is not a port number"},
        // identify_attribute: "Error parsing attribute log_type - DISABLING SERVICE".
        EnableCase{"log_type_without_facility", "", "\tlog_type = SYSLOG\n", false,
                   "log_type = SYSLOG: SYSLOG takes a facility and at most a level"},
        EnableCase{"log_type_unknown", "", "\tlog_type = NONE\n", false,
                   "log_type = NONE: unknown log type NONE"},
        EnableCase{"log_type_bad_soft_limit", "", "\tlog_type = FILE /x 10x\n", false,
                   "log_type = FILE /x 10x: soft limit 10x is invalid"},
        EnableCase{"log_type_hard_below_soft", "", "\tlog_type = FILE /y 20K 10K\n", false,
                   "log_type = FILE /y 20K 10K: the hard limit is less than the soft limit"},
        // svcdisable_parser's SC_ENABLE undoes an earlier parse error, not a later one.
        EnableCase{"disable_no_after_a_parse_error", "", "\tflags = FOO\n\tdisable = no\n", true,
                   ""},
        EnableCase{"disable_no_before_a_parse_error", "", "\tdisable = no\n\tflags = FOO\n", false,
                   "flags = FOO: xinetd knows no flag FOO"},
        EnableCase{"enabled_list_ignores_case", "\tenabled = SMTP-Main\n", "", true, ""},
        // enabled_parser and disabled_parser add whatever the operator.
        EnableCase{"enabled_minus_equals_adds", "\tenabled = other\n\tenabled -= smtp-main\n", "",
                   true, ""},
        EnableCase{"disabled_minus_equals_adds", "\tdisabled -= smtp-main\n", "", false,
                   "listed in `disabled` of defaults"},
        EnableCase{"an_empty_enabled_list_enables_nothing", "\tenabled =\n", "", false,
                   "not listed in `enabled` of defaults"},
        EnableCase{"log_on_success_unknown_word", "", "\tlog_on_success += USERID BOGUS\n", false,
                   "log_on_success += USERID BOGUS: xinetd knows no log_on_success word BOGUS"},
        EnableCase{"log_on_failure_takes_no_success_word", "", "\tlog_on_failure = HOST DURATION\n",
                   false,
                   "log_on_failure = HOST DURATION: xinetd knows no log_on_failure word DURATION"},
        EnableCase{"flags_without_a_value", "", "\tflags =\n\tflags = REUSE\n", false,
                   "flags has no value"},
        EnableCase{"disabled_list_ignores_case", "\tdisabled = SMTP-MAIN\n", "", false,
                   "listed in `disabled` of defaults"},
        EnableCase{"log_type_file", "", "\tlog_type = FILE /var/log/x 10K 20K\n", true, ""},
        EnableCase{"flags_unknown", "", "\tflags = REUSE FOO\n", false,
                   "flags = REUSE FOO: xinetd knows no flag FOO"},
        EnableCase{"flags_any_case", "", "\tflags = ipv4 Reuse\n", true, ""},
        // Checked against Debian 12's xinetd binary: defaults' `enabled` list
        // turns back on a service a parse error disabled, never `disable = yes`.
        EnableCase{"enabled_list_clears_flags_disable", "\tenabled = smtp-main\n",
                   "\tflags = DISABLE\n", true, ""},
        EnableCase{"enabled_list_clears_a_bad_log_type", "\tenabled = smtp-main\n",
                   "\tlog_type = SYSLOG\n", true, ""},
        EnableCase{"enabled_list_clears_a_bad_port", "\tenabled = smtp-main\n", "\tport = 99999\n",
                   true, ""},
        EnableCase{"enabled_list_keeps_disable_yes", "\tenabled = smtp-main\n", "\tdisable = yes\n",
                   false, "disable = yes"},
        EnableCase{"enabled_list_keeps_a_bad_disable_value", "\tenabled = smtp-main\n",
                   "\tdisable = maybe\n", false, "disable = maybe is neither yes nor no"},
        EnableCase{"disable_yes_after_a_parse_error_is_the_reason", "\tenabled = smtp-main\n",
                   "\tflags = DISABLE\n\tdisable = yes\n", false, "disable = yes"},
        EnableCase{"enabled_list_not_naming_it", "\tenabled = other\n", "\tflags = DISABLE\n",
                   false, "not listed in `enabled` of defaults"},
        // A burst limit that does not parse is a parse error like the others
        // (checked on the binary); one with the wrong number of values is
        // only a warning, and the line is ignored.
        EnableCase{"bad_instances", "", "\tinstances = abc\n", false,
                   "`instances = abc` is neither a number from 0 up nor UNLIMITED (line 7)"},
        EnableCase{"bad_cps_number", "", "\tcps = 10 x\n", false,
                   "`cps = 10 x`: `x` is not a number (line 7)"},
        EnableCase{"cps_with_one_value_is_ignored", "", "\tcps = abc\n", true, ""},
        EnableCase{"disable_no_after_a_bad_limit", "", "\tper_source = -1\n\tdisable = no\n", true,
                   ""},
        EnableCase{"enabled_list_clears_a_bad_limit", "\tenabled = smtp-main\n",
                   "\tinstances = abc\n", true, ""},
        // parsers.c reads limits with EQ(), strtol into an int and strtoull
        // into unsigned ints (checked on the binary: all but the last two live).
        EnableCase{"unlimited_in_any_case", "",
                   "\tinstances = unlimited\n\tper_source = uNlImItEd\n", true, ""},
        EnableCase{"instances_minus_zero", "", "\tinstances = -0\n", true, ""},
        EnableCase{"instances_cut_to_an_int", "", "\tinstances = 4294967301\n", true, ""},
        EnableCase{"cps_negative_wraps", "", "\tcps = -1 10\n", true, ""},
        EnableCase{"instances_cut_below_zero", "", "\tinstances = 2147483648\n", false,
                   "`instances = 2147483648` is neither a number from 0 up nor UNLIMITED (line 7)"},
        // parse_int lets white space follow the number: a CRLF line's \r.
        EnableCase{"instances_before_a_carriage_return", "", "\tinstances = 5\r\n", true, ""},
        EnableCase{"log_type_limit_before_a_carriage_return", "", "\tlog_type = FILE /x 5k\r\n",
                   true, ""},
        EnableCase{"port_with_a_plus", "", "\tport = +25\n", true, ""},
        EnableCase{"port_zero_is_taken", "", "\tport = 0\n", true, ""},
        EnableCase{"cps_beyond_strtoull", "", "\tcps = 18446744073709551616 10\n", false,
                   "`cps = 18446744073709551616 10`: `18446744073709551616` is not a number "
                   "(line 7)"}),
    [](const ::testing::TestParamInfo<EnableCase>& parameter) { return parameter.param.name; });

// port_parser: parse_base10 cut to an int, 0 included; a refused line leaves
// the port unset, so a later one sets it.
TEST(XinetdResolve, PortIsReadAsXinetdReadsIt) {
  auto port_of = [](const std::string& lines) {
    std::vector<XinetdService> services =
        services_of("service smtp\n{\n" + lines + "\tdisable = no\n}\n");
    EXPECT_EQ(services.size(), 1u);
    EXPECT_TRUE(services.at(0).enabled) << services.at(0).disabled_reason;
    return services.at(0).port;
  };
  EXPECT_EQ(port_of("\tport = +2525\n"), 2525);
  EXPECT_EQ(port_of("\tport = 4294969821\n"), 2525);
  EXPECT_EQ(port_of("\tport = 2525\r\n"), 2525);
  EXPECT_EQ(port_of("\tport = 0\n\tport = 2525\n"), 0);
  EXPECT_EQ(port_of("\tport = 99999\n\tport = 2525\n"), 2525);
}

// The numbers xinetd stores, which listener.burst-limits judges.
TEST(XinetdLimits, ValuesAreWhatXinetdStores) {
  using Numbers = std::vector<std::optional<std::int64_t>>;
  EXPECT_EQ(read_xinetd_limit("instances", {"4294967301"}).numbers, Numbers{5});
  EXPECT_EQ(read_xinetd_limit("instances", {"Unlimited"}).numbers, Numbers{std::nullopt});
  EXPECT_EQ(read_xinetd_limit("per_source", {"+7"}).numbers, Numbers{7});
  EXPECT_EQ(read_xinetd_limit("cps", {"-1", "10"}).numbers, (Numbers{4294967295, 10}));
  EXPECT_EQ(read_xinetd_limit("cps", {"0", "0"}).numbers, (Numbers{0, 0}));
  EXPECT_EQ(read_xinetd_limit("cps", {"5"}).problem, "`cps = 5` has the wrong number of values");
  EXPECT_EQ(read_xinetd_limit("instances", {"-1"}).problem,
            "`instances = -1` is neither a number from 0 up nor UNLIMITED");
  EXPECT_EQ(read_xinetd_limit("instances", {"5x"}).problem,
            "`instances = 5x` is neither a number from 0 up nor UNLIMITED");
}

// xinetd copies defaults' log_type when it has read every file (service_fill),
// unlike log_on_success, which reaches only the services read after it.
TEST(XinetdResolve, DefaultsLogTypeReachesServicesReadBeforeIt) {
  std::vector<XinetdService> services = services_of(
      "service early\n{\n\tlog_on_success = USERID\n}\n"
      "defaults\n{\n\tlog_type = SYSLOG daemon info\n}\n");
  ASSERT_EQ(services.size(), 1u);
  EXPECT_TRUE(services[0].logs);
  EXPECT_EQ(services[0].ident_attributes, std::vector<std::string>{"log_on_success"});
}

// Debian 12's xinetd exits while reading defaults for either of these.
TEST(XinetdResolve, DefaultsLogTypeThatStopsXinetdIsAProblem) {
  XinetdServiceResolver twice(
      sections_of("defaults\n{\n\tlog_type = SYSLOG daemon\n\tlog_type += FILE /x\n}\n"));
  ASSERT_EQ(twice.problems().size(), 1u);
  EXPECT_EQ(twice.problems()[0].line, 4);
  EXPECT_NE(twice.problems()[0].message.find("a second log_type"), std::string::npos);
  EXPECT_NE(twice.problems()[0].message.find("xinetd exits at start"), std::string::npos);

  XinetdServiceResolver rejected(sections_of("defaults\n{\n\tlog_type = SYSLOG bogus\n}\n"));
  ASSERT_EQ(rejected.problems().size(), 1u);
  EXPECT_EQ(rejected.problems()[0].message,
            "defaults: log_type = SYSLOG bogus: unknown syslog facility bogus; xinetd exits at "
            "start");
  XinetdServiceResolver fine(sections_of("defaults\n{\n\tlog_type = FILE /var/log/x\n}\n"));
  EXPECT_TRUE(fine.problems().empty());
  XinetdServiceResolver bad_word(sections_of("defaults\n{\n\tlog_on_success = USERID TRAFIC\n}\n"));
  ASSERT_EQ(bad_word.problems().size(), 1u);
  EXPECT_EQ(bad_word.problems()[0].message,
            "defaults: log_on_success: xinetd knows no log_on_success word TRAFIC; xinetd exits "
            "at start");
}

// Each run on Debian 12's xinetd: "A fatal error was encountered while
// parsing the default section. xinetd will exit." for the refused ones.
TEST(XinetdResolve, DefaultsValuesThatStopXinetd) {
  auto problem_of = [](const std::string& lines) {
    XinetdServiceResolver resolver(sections_of("defaults\n{\n" + lines + "}\n"));
    return resolver.problems().empty() ? std::string() : resolver.problems()[0].message;
  };
  EXPECT_EQ(problem_of("\tgroups = maybe\n"),
            "defaults: groups = maybe is neither yes nor no; xinetd exits at start");
  EXPECT_EQ(problem_of("\tv6only = 1\n"),
            "defaults: v6only = 1 is neither yes nor no; xinetd exits at start");
  EXPECT_EQ(problem_of("\tumask = 0778\n"),
            "defaults: umask = 0778 is not an octal mask from 0 to 0777; xinetd exits at start");
  EXPECT_EQ(problem_of("\tmax_load = 0\n"),
            "defaults: max_load = 0 is no load above 0; xinetd exits at start");
  EXPECT_NE(problem_of("\tmax_load = abc\n"), "");
  for (const char* fine :
       {"\tgroups = YES\n", "\tumask = 0777\n", "\tumask = 22 \n", "\tmax_load = 2.5x\n",
        "\tv6only = no\n",
        // ignored with a warning: a second line, += or two values
        "\tgroups = yes\n\tgroups = maybe\n", "\tumask += 999\n", "\tumask = 1 2\n"}) {
    EXPECT_EQ(problem_of(fine), "") << fine;
  }
}

TEST(XinetdResolve, FlagsAfterAnUnknownOneAreNotRead) {
  std::vector<XinetdService> services = services_of(
      "defaults\n{\n\tenabled = a b\n}\n"
      "service a\n{\n\tflags = FOO NAMEINARGS\n}\nservice b\n{\n\tflags = NAMEINARGS FOO\n}\n");
  ASSERT_EQ(services.size(), 2u);
  EXPECT_TRUE(services[0].enabled);
  EXPECT_FALSE(services[0].name_in_args);
  EXPECT_TRUE(services[1].name_in_args);
}

TEST(XinetdResolve, SingleValuedAttributesTakeTheFirstAssignment) {
  std::vector<XinetdService> services = services_of(
      "service smtp\n{\n\tserver = /first\n\tserver = /second\n\tserver_args += -R\n"
      "\tserver_args = a b\n\tport = 2525\n\tenv = A=1 B=2\n\tenv += C=3\n\tenv -= A=1\n}\n");
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].server, "/first");
  EXPECT_EQ(services[0].server_args, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(services[0].port, 2525);
  EXPECT_EQ(services[0].environment, (std::map<std::string, std::string>{{"B", "2"}, {"C", "3"}}));
}

TEST(XinetdResolve, NameInArgsWithTcpdRunsTheFirstArgument) {
  std::vector<XinetdService> services = services_of(
      "service smtp\n{\n\tflags = NAMEINARGS\n\tserver = /usr/sbin/tcpd\n"
      "\tserver_args = /var/qmail/bin/tcp-env -R /var/qmail/bin/qmail-smtpd\n}\n"
      "service other\n{\n\tflags = nameinargs\n\tserver = /usr/bin/prog\n"
      "\tserver_args = prog -x\n}\n");
  ASSERT_EQ(services.size(), 2u);
  XinetdCommandLine wrapped = xinetd_command_line(services[0]);
  EXPECT_EQ(wrapped.argv, (std::vector<std::string>{"/var/qmail/bin/tcp-env", "-R",
                                                    "/var/qmail/bin/qmail-smtpd"}));
  EXPECT_TRUE(wrapped.locations[0]);
  XinetdCommandLine direct = xinetd_command_line(services[1]);
  EXPECT_EQ(direct.argv, (std::vector<std::string>{"/usr/bin/prog", "-x"}));
  EXPECT_FALSE(direct.locations[0]);
}

// A redirected service runs no server: xinetd forwards the connection itself.
TEST(XinetdResolve, RedirectRunsNoServer) {
  std::vector<XinetdService> services = services_of(
      "service smtp\n{\n\tserver = /var/qmail/bin/tcp-env\n\tredirect = 192.0.2.1 25\n}\n"
      "service smtps\n{\n\tserver = /var/qmail/bin/tcp-env\n\tredirect = 192.0.2.1\n}\n");
  ASSERT_EQ(services.size(), 2u);
  EXPECT_TRUE(xinetd_command_line(services[0]).argv.empty());
  // One value is not a redirect: xinetd ignores the line.
  EXPECT_EQ(xinetd_command_line(services[1]).argv,
            std::vector<std::string>{"/var/qmail/bin/tcp-env"});
}

// Files in memory for the loader; a path ending in '/' is a folder.
class MapFileSource final : public XinetdFileSource {
 public:
  std::map<std::string, std::string> files;
  std::map<std::string, std::vector<std::string>> folders;
  std::map<std::string, std::string> identities;

  Expected<std::string> read_file(const std::string& path) const override {
    auto found = files.find(path);
    if (found == files.end()) return fail_with(path + ": No such file or directory");
    return found->second;
  }
  Expected<std::vector<std::string>> list_directory(const std::string& path) const override {
    auto found = folders.find(path);
    if (found == folders.end()) return fail_with(path + ": No such file or directory");
    return found->second;
  }
  Expected<bool> is_regular_file(const std::string& path) const override {
    if (folders.count(path) != 0) return false;
    if (files.count(path) == 0) return fail_with(path + ": Too many levels of symbolic links");
    return true;
  }
  std::string identity(const std::string& path) const override {
    auto found = identities.find(path);
    return found == identities.end() ? path : found->second;
  }
};

TEST(XinetdLoad, IncludedirReadsNamesWithoutDotOrTildeInStrcmpOrder) {
  MapFileSource source;
  source.files["/etc/xinetd.conf"] = "includedir /etc/xinetd.d\n";
  source.folders["/etc/xinetd.d"] = {"smtp_psa~", "smtp_psa_old", "smtp_psa.bak", "smtp_psa",
                                     "Zeta",      "alpha",        ".hidden",      "sub"};
  source.folders["/etc/xinetd.d/sub"] = {};
  for (const char* name :
       {"smtp_psa~", "smtp_psa_old", "smtp_psa.bak", "smtp_psa", "Zeta", "alpha", ".hidden"}) {
    source.files[std::string("/etc/xinetd.d/") + name] =
        std::string("service s_") + name + "\n{\n}\n";
  }
  XinetdConfiguration configuration = load_xinetd_configuration("/etc/xinetd.conf", source);
  EXPECT_EQ(
      configuration.files_read,
      (std::vector<std::string>{"/etc/xinetd.conf", "/etc/xinetd.d/Zeta", "/etc/xinetd.d/alpha",
                                "/etc/xinetd.d/smtp_psa", "/etc/xinetd.d/smtp_psa_old"}));
  ASSERT_EQ(configuration.problems.size(), 1u);
  EXPECT_EQ(configuration.problems[0].file, "/etc/xinetd.d/sub");
  EXPECT_EQ(configuration.problems[0].message, "not a regular file; xinetd skips it");
  ASSERT_EQ(configuration.sections.size(), 4u);
  EXPECT_EQ(configuration.sections[3].name, "s_smtp_psa_old");
  EXPECT_EQ(configuration.sections[3].file, "/etc/xinetd.d/smtp_psa_old");
}

TEST(XinetdLoad, IncludeCyclesAndRepeatsAreCaughtWhereTheyAreWritten) {
  MapFileSource source;
  source.files["/etc/xinetd.conf"] =
      "include /etc/a\ninclude /etc/link-to-main\nservice main\n{\n}\n";
  source.files["/etc/a"] = "service a\n{\n}\ninclude /etc/a\ninclude /etc/xinetd.conf\n";
  source.files["/etc/link-to-main"] = "never read under this name";
  source.identities["/etc/link-to-main"] = "/etc/xinetd.conf";
  XinetdConfiguration configuration = load_xinetd_configuration("/etc/xinetd.conf", source);
  std::vector<std::pair<std::string, int>> sites;
  for (const XinetdProblem& problem : configuration.problems) {
    sites.emplace_back(problem.file, problem.line);
    EXPECT_NE(problem.message.find("include cycle"), std::string::npos) << problem.message;
  }
  EXPECT_EQ(sites, (std::vector<std::pair<std::string, int>>{
                       {"/etc/a", 4}, {"/etc/a", 5}, {"/etc/xinetd.conf", 2}}));
  ASSERT_EQ(configuration.sections.size(), 2u);
  EXPECT_EQ(configuration.sections[0].name, "a");
  EXPECT_EQ(configuration.sections[1].name, "main");
}

TEST(XinetdLoad, DeepIncludeChainStopsAtTheCap) {
  MapFileSource source;
  source.files["/etc/xinetd.conf"] = "include /f1\n";
  for (int depth = 1; depth <= 40; ++depth) {
    source.files["/f" + std::to_string(depth)] = "include /f" + std::to_string(depth + 1) + "\n";
  }
  XinetdConfiguration configuration = load_xinetd_configuration("/etc/xinetd.conf", source);
  ASSERT_EQ(configuration.problems.size(), 1u);
  EXPECT_EQ(configuration.problems[0].file, "/f" + std::to_string(kXinetdMaximumIncludeDepth));
  EXPECT_NE(configuration.problems[0].message.find("nested more than"), std::string::npos);
  EXPECT_EQ(configuration.files_read.size(), std::size_t(kXinetdMaximumIncludeDepth) + 1);
}

TEST(XinetdLoad, UnreadableIncludesAreProblemsAndReadingGoesOn) {
  MapFileSource source;
  source.files["/etc/xinetd.conf"] =
      "include /etc/missing\nincludedir /etc/nodir\nservice after\n{\n}\n";
  XinetdConfiguration configuration = load_xinetd_configuration("/etc/xinetd.conf", source);
  ASSERT_EQ(configuration.problems.size(), 2u);
  EXPECT_EQ(configuration.problems[0].file, "/etc/missing");
  EXPECT_EQ(configuration.problems[0].line, 0);
  EXPECT_EQ(configuration.problems[0].message, "No such file or directory");
  EXPECT_EQ(configuration.problems[1].file, "/etc/xinetd.conf");
  EXPECT_EQ(configuration.problems[1].line, 2);
  ASSERT_EQ(configuration.sections.size(), 1u);
  EXPECT_EQ(configuration.sections[0].name, "after");
}

}  // namespace
}  // namespace qharden
