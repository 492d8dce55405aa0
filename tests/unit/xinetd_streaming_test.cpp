// The inventory parses xinetd files keeping only the attributes it resolves,
// and resolves one section at a time (issue 15: audit memory). Both must give
// what the whole parse and the vector resolvers give.
#include <gtest/gtest.h>

#include <map>

#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"

namespace qharden {
namespace {

class TextSource final : public XinetdFileSource {
 public:
  TextSource(std::string path, std::string text) {
    files_.emplace(std::move(path), std::move(text));
  }
  Expected<std::string> read_file(const std::string& path) const override {
    auto found = files_.find(path);
    if (found == files_.end()) return fail_with(path + ": no such file");
    return found->second;
  }
  Expected<std::vector<std::string>> list_directory(const std::string& path) const override {
    return fail_with(path + ": not a directory");
  }
  Expected<bool> is_regular_file(const std::string& path) const override {
    return files_.count(path) != 0;
  }

 private:
  std::map<std::string, std::string> files_;
};

// Every attribute the resolvers read, set, added to and removed from, around
// attributes they do not read, with a second defaults value and a bad line.
const char* kRichConfiguration = R"(defaults
{
	log_type        = SYSLOG daemon info
	log_on_success  = PID HOST
	log_on_failure  = HOST USERID
	passenv         = PATH
	cps             = 100 5
	instances       = 60
	disabled        = echo
}
service smtp
{
	id              = smtp_psa
	socket_type     = stream
	protocol        = tcp
	wait            = no
	user            = root
	only_from       = 127.0.0.1
	nice            = 10
	redirect        = 192.0.2.1 25
	instances       = UNLIMITED
	per_source      = 10
	log_on_failure  -= USERID
	env             = RELAYCLIENT= LANG=C
	env             += TZ=UTC
	passenv         += HOME
	server          = /var/qmail/bin/tcp-env
	server          = /ignored/second/server
	server_args     = -R /var/qmail/bin/qmail-smtpd
	port            = 25
	flags           = IPv4 NOLIBWRAP
}
service echo
{
	type            = INTERNAL
	socket_type     = stream
	wait            = no
	cps             = 5 x
}
service submission
{
	disable         = no
	port            = 587
	log_on_success  += USERID
	server          = /usr/sbin/tcpd
	server_args     = /var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd
	flags           = NAMEINARGS
	passenv         =
}
)";

XinetdConfiguration load(const XinetdAttributeFilter& keep) {
  return load_xinetd_configuration("/etc/xinetd.conf",
                                   TextSource("/etc/xinetd.conf", kRichConfiguration), keep);
}

TEST(XinetdStreaming, FilterKeepsOnlyResolvedAttributesAndResolvesTheSame) {
  XinetdConfiguration whole = load({});
  XinetdConfiguration kept = load(xinetd_attribute_is_resolved);
  ASSERT_EQ(whole.sections.size(), 4u);
  ASSERT_EQ(kept.sections.size(), 4u);
  EXPECT_EQ(whole.problems.size(), kept.problems.size());
  std::size_t whole_attributes = 0, kept_attributes = 0;
  for (const XinetdSection& section : whole.sections) whole_attributes += section.attributes.size();
  for (const XinetdSection& section : kept.sections) {
    kept_attributes += section.attributes.size();
    for (const XinetdAttribute& attribute : section.attributes) {
      EXPECT_TRUE(xinetd_attribute_is_resolved(attribute.name)) << attribute.name;
    }
  }
  EXPECT_LT(kept_attributes, whole_attributes);  // only_from, nice, ... are dropped

  std::vector<XinetdService> whole_services = resolve_xinetd_services(whole.sections);
  std::vector<XinetdService> kept_services = resolve_xinetd_services(kept.sections);
  ASSERT_EQ(whole_services.size(), 3u);
  ASSERT_EQ(kept_services.size(), 3u);
  for (std::size_t index = 0; index < whole_services.size(); ++index) {
    const XinetdService& left = whole_services[index];
    const XinetdService& right = kept_services[index];
    SCOPED_TRACE(left.id);
    EXPECT_EQ(left.id, right.id);
    EXPECT_EQ(left.enabled, right.enabled);
    EXPECT_EQ(left.disabled_reason, right.disabled_reason);
    EXPECT_EQ(left.server, right.server);
    EXPECT_EQ(left.server_args, right.server_args);
    EXPECT_EQ(left.port, right.port);
    EXPECT_EQ(left.environment, right.environment);
    EXPECT_EQ(left.log_on_success, right.log_on_success);
    EXPECT_EQ(left.log_on_failure, right.log_on_failure);
    EXPECT_EQ(left.ident_attributes, right.ident_attributes);
    EXPECT_EQ(left.name_in_args, right.name_in_args);
    EXPECT_EQ(left.types, right.types);
    EXPECT_EQ(left.socket_type, right.socket_type);
    EXPECT_EQ(left.protocol, right.protocol);
    EXPECT_EQ(left.wait, right.wait);
    EXPECT_EQ(left.user_set, right.user_set);
    EXPECT_EQ(left.redirected, right.redirected);
  }
  // What the rich file sets, so that a filter dropping a resolved attribute fails here.
  EXPECT_EQ(kept_services[0].id, "smtp_psa");
  EXPECT_EQ(kept_services[0].server, "/var/qmail/bin/tcp-env");
  EXPECT_EQ(kept_services[0].environment.at("TZ"), "UTC");
  EXPECT_EQ(kept_services[0].port, 25);
  EXPECT_EQ(kept_services[0].protocol, "tcp");
  EXPECT_EQ(kept_services[0].wait, false);
  EXPECT_TRUE(kept_services[0].user_set);
  EXPECT_TRUE(kept_services[0].redirected);
  EXPECT_TRUE(kept_services[0].ident_attributes.empty());
  EXPECT_FALSE(kept_services[1].enabled);  // echo: listed in `disabled`
  EXPECT_EQ(kept_services[2].ident_attributes.size(), 2u);
  EXPECT_TRUE(kept_services[2].name_in_args);

  XinetdLimits whole_limits = resolve_xinetd_limits(whole.sections);
  XinetdLimits kept_limits = resolve_xinetd_limits(kept.sections);
  ASSERT_EQ(kept_limits.services.size(), 3u);
  for (std::size_t index = 0; index < whole_limits.services.size(); ++index) {
    EXPECT_EQ(whole_limits.services[index].rejected, kept_limits.services[index].rejected);
    ASSERT_EQ(kept_limits.services[index].settings.size(), 3u);
    for (std::size_t setting = 0; setting < 3; ++setting) {
      EXPECT_EQ(whole_limits.services[index].settings[setting].words,
                kept_limits.services[index].settings[setting].words);
      EXPECT_EQ(whole_limits.services[index].settings[setting].from,
                kept_limits.services[index].settings[setting].from);
    }
  }
  EXPECT_EQ(kept_limits.services[0].settings[1].words, std::vector<std::string>{"UNLIMITED"});
  EXPECT_EQ(kept_limits.services[0].settings[0].from, "defaults");
  EXPECT_TRUE(kept_limits.services[1].rejected.has_value());  // cps = 5 x
}

TEST(XinetdStreaming, OneSectionAtATimeEqualsTheVectorResolvers) {
  XinetdConfiguration configuration = load({});
  std::vector<XinetdService> services = resolve_xinetd_services(configuration.sections);
  XinetdLimits limits = resolve_xinetd_limits(configuration.sections);
  XinetdServiceResolver service_resolver(configuration.sections);
  XinetdLimitsResolver limits_resolver(configuration.sections);
  EXPECT_EQ(limits_resolver.problems().size(), limits.problems.size());
  std::size_t service_index = 0;
  for (const XinetdSection& section : configuration.sections) {
    std::optional<XinetdService> service = service_resolver.resolve(section);
    if (section.kind == XinetdSectionKind::defaults) {
      EXPECT_FALSE(service.has_value());
      continue;
    }
    ASSERT_TRUE(service.has_value());
    ASSERT_LT(service_index, services.size());
    EXPECT_EQ(service->id, services[service_index].id);
    EXPECT_EQ(service->enabled, services[service_index].enabled);
    EXPECT_EQ(service->disabled_reason, services[service_index].disabled_reason);
    EXPECT_EQ(service->log_on_failure, services[service_index].log_on_failure);
    XinetdServiceLimits one = limits_resolver.resolve(section);
    EXPECT_EQ(one.rejected, limits.services[service_index].rejected);
    ASSERT_EQ(one.settings.size(), limits.services[service_index].settings.size());
    for (std::size_t setting = 0; setting < one.settings.size(); ++setting) {
      EXPECT_EQ(one.settings[setting].words,
                limits.services[service_index].settings[setting].words);
    }
    ++service_index;
  }
  EXPECT_EQ(service_index, services.size());
}

// `disabled` in a defaults read after the service still reaches it: the
// one-at-a-time resolver reads every defaults first.
TEST(XinetdStreaming, DefaultsAfterTheServiceStillDisableIt) {
  XinetdConfiguration configuration = load_xinetd_configuration(
      "/etc/xinetd.conf",
      TextSource("/etc/xinetd.conf",
                 "service smtp\n{\n\tserver = /bin/true\n}\ndefaults\n{\n\tdisabled = smtp\n"
                 "\tcps = 7 2\n}\n"));
  XinetdServiceResolver service_resolver(configuration.sections);
  XinetdLimitsResolver limits_resolver(configuration.sections);
  std::optional<XinetdService> service = service_resolver.resolve(configuration.sections[0]);
  ASSERT_TRUE(service.has_value());
  EXPECT_FALSE(service->enabled);
  EXPECT_EQ(service->disabled_reason, "listed in `disabled` of defaults");
  XinetdServiceLimits limits = limits_resolver.resolve(configuration.sections[0]);
  EXPECT_EQ(limits.settings[0].words, (std::vector<std::string>{"7", "2"}));
}

// The visitor gets what the loader returns, in the same order: the included
// file's sections in place of the include line.
TEST(XinetdStreaming, VisitorGetsTheLoadersSectionsInReadingOrder) {
  class TwoFiles final : public XinetdFileSource {
   public:
    Expected<std::string> read_file(const std::string& path) const override {
      if (path == "/etc/xinetd.conf") {
        return std::string(
            "service a\n{\n\tserver = /bin/a\n}\ninclude /etc/more\n"
            "defaults\n{\n\tcps = 3 1\n}\nservice c\n{\n\tserver = /bin/c\n\tbad line\n}\n");
      }
      if (path == "/etc/more") return std::string("service b\n{\n\tserver = /bin/b\n}\n");
      return fail_with(path + ": no such file");
    }
    Expected<std::vector<std::string>> list_directory(const std::string& path) const override {
      return fail_with(path + ": not a directory");
    }
    Expected<bool> is_regular_file(const std::string&) const override { return true; }
  } source;
  XinetdConfiguration loaded = load_xinetd_configuration("/etc/xinetd.conf", source);
  std::vector<std::string> visited;
  XinetdConfiguration rest = visit_xinetd_configuration(
      "/etc/xinetd.conf", source, {}, [&visited](XinetdSection&& section) {
        visited.push_back(section.file + ":" + section.name + ":" +
                          std::to_string(section.attributes.size()));
      });
  std::vector<std::string> expected;
  for (const XinetdSection& section : loaded.sections) {
    expected.push_back(section.file + ":" + section.name + ":" +
                       std::to_string(section.attributes.size()));
  }
  EXPECT_EQ(visited, expected);
  EXPECT_EQ(visited, (std::vector<std::string>{"/etc/xinetd.conf:a:1", "/etc/more:b:1",
                                               "/etc/xinetd.conf::1"}));
  EXPECT_TRUE(rest.sections.empty());
  EXPECT_EQ(rest.files_read, loaded.files_read);
  ASSERT_EQ(rest.problems.size(), 1u);  // service c's bad line: the service is dropped
  EXPECT_EQ(rest.problems[0].line, 13);
}

}  // namespace
}  // namespace qharden
