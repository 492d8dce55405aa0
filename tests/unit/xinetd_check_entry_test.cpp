#include <gtest/gtest.h>

#include <string>

#include "host/host.h"
#include "inventory/xinetd_check_entry.h"
#include "parsers/xinetd.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

// Excerpts of Debian's netbase files.
constexpr const char* kServices =
    "smtp\t\t25/tcp\t\tmail\n"
    "submissions\t465/tcp\t\tssmtp smtps\n"
    "submission\t587/tcp\n"
    "pop3\t\t110/tcp\t\tpop-3\n"
    "syslog\t\t514/udp\n";
constexpr const char* kProtocols =
    "ip\t0\tIP\ntcp\t6\tTCP\t# transmission control protocol\n"
    "udp\t17\tUDP\nmptcp\t262\tMPTCP\n";

struct RefusalCase {
  const char* name;
  const char* service;        // `service NAME` and lines, with wait, user and server added
  const char* refusal_start;  // how xinetd's first quoted log line starts; "" when it keeps it
  bool add_required_lines = true;
};

std::string refusal_for(const RefusalCase& test_case, bool with_name_files) {
  testing::TemporaryTree tree;
  if (with_name_files) {
    tree.write("/etc/services", kServices);
    tree.write("/etc/protocols", kProtocols);
  }
  RootedHost host = *RootedHost::open(tree.root());
  XinetdNameFiles names(host);
  std::string text = test_case.service;
  std::size_t body = text.find("{\n") + 2;
  if (test_case.add_required_lines) {
    text.insert(body, " wait = no\n user = qmaild\n server = /var/qmail/bin/tcp-env\n");
  }
  std::vector<XinetdSection> sections;
  for (XinetdItem& item : parse_xinetd_text("/etc/xinetd.d/test", text).items) {
    if (auto* section = std::get_if<XinetdSection>(&item)) sections.push_back(std::move(*section));
  }
  std::vector<XinetdService> services = resolve_xinetd_services(sections, names.lookups());
  if (services.size() != 1) return "(not one service)";
  return xinetd_start_refusal(services[0], names).value_or("");
}

class XinetdStartRefusal : public ::testing::TestWithParam<RefusalCase> {};

// Each message is xinetd's own, as Debian 12's xinetd 2.3.15.3 logs it.
TEST_P(XinetdStartRefusal, DropsWhatXinetdDrops) {
  const RefusalCase& test_case = GetParam();
  std::string refusal = refusal_for(test_case, true);
  if (std::string(test_case.refusal_start).empty()) {
    EXPECT_EQ(refusal, "");
  } else {
    EXPECT_EQ(refusal.rfind("xinetd ", 0), 0u) << refusal;
    EXPECT_NE(refusal.find(std::string("(\"") + test_case.refusal_start), std::string::npos)
        << refusal;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, XinetdStartRefusal,
    ::testing::Values(
        RefusalCase{"Plesk", "service smtp\n{\n socket_type = stream\n protocol = tcp\n}\n", ""},
        RefusalCase{"SocketTypeGivesTheProtocol", "service smtp\n{\n socket_type = STREAM\n}\n",
                    ""},
        RefusalCase{"ListedPortThatMatches",
                    "service smtp\n{\n socket_type = stream\n port = 25\n}\n", ""},
        RefusalCase{"AliasIsListed", "service mail\n{\n socket_type = stream\n port = 25\n}\n", ""},
        RefusalCase{"ListedNameOnAnotherPort",
                    "service smtp\n{\n socket_type = stream\n port = 2525\n}\n",
                    "Service smtp expects port 25, not 2525"},
        RefusalCase{"UnlistedOnAnotherPort",
                    "service smtp\n{\n type = UNLISTED\n socket_type = stream\n port = 2525\n}\n",
                    ""},
        RefusalCase{"UnlistedWithoutAPort",
                    "service smtp2\n{\n type = unlisted\n socket_type = stream\n}\n",
                    "Unlisted service: smtp2 must have a port entry"},
        RefusalCase{"NeitherProtocolNorSocketType", "service smtp\n{\n server = /bin/true\n}\n",
                    "Port not specified for service: smtp and no protocol given"},
        RefusalCase{"NoProtocolWithAPort", "service smtp\n{\n port = 25\n}\n",
                    "A protocol or a socket_type must be specified for service: smtp."},
        RefusalCase{"RawSocketGivesNoProtocol", "service smtp\n{\n socket_type = raw\n}\n",
                    "Port not specified for service: smtp and no protocol given"},
        RefusalCase{"NameNotListedWithoutAPort", "service smtp2525\n{\n socket_type = stream\n}\n",
                    "Port not specified and can't find service: smtp2525 with getservbyname"},
        RefusalCase{"NameNotListedWithAPort",
                    "service smtp2525\n{\n socket_type = stream\n port = 2525\n}\n",
                    "service/protocol combination not in /etc/services: smtp2525/tcp"},
        RefusalCase{"ListedForAnotherProtocolOnly",
                    "service syslog\n{\n socket_type = stream\n port = 514\n}\n",
                    "service/protocol combination not in /etc/services: syslog/tcp"},
        // getprotobyname knows the alias TCP; getservbyname compares it with
        // /etc/services' "tcp" with case.
        RefusalCase{"ProtocolAliasIsNotWhatServicesSays",
                    "service smtp\n{\n protocol = TCP\n port = 25\n}\n",
                    "service/protocol combination not in /etc/services: smtp/TCP"},
        RefusalCase{"PortZeroIsAPort",
                    "service submission\n{\n socket_type = stream\n port = 0\n}\n",
                    "Service submission expects port 587, not 0"},
        RefusalCase{"UnlistedOnPortZero",
                    "service smtp2\n{\n type = UNLISTED\n socket_type = stream\n port = 0\n}\n",
                    ""},
        RefusalCase{"ProtocolGivesTheSocketType", "service smtp\n{\n protocol = tcp\n}\n", ""},
        RefusalCase{"NoServer", "service smtp\n{\n socket_type = stream\n wait = no\n}\n",
                    "Must specify a server in smtp", false},
        RefusalCase{"RedirectNeedsNoServer",
                    "service smtp\n{\n socket_type = stream\n wait = no\n user = nobody\n"
                    " redirect = 192.0.2.1 25\n}\n",
                    "", false},
        RefusalCase{"NameInArgsWithoutServerArgs",
                    "service smtp\n{\n socket_type = stream\n flags = NAMEINARGS\n}\n",
                    "Must specify server args if using NAMEINARGS flag"},
        // 2.3.15.3 has no "has socket_type dgram, but does not wait" check (helper-42).
        RefusalCase{"DgramWithoutWaitIsKept",
                    "service syslog\n{\n socket_type = dgram\n protocol = udp\n}\n", ""},
        RefusalCase{"TrafficWithoutRedirect",
                    "service smtp\n{\n socket_type = stream\n log_on_success = HOST TRAFFIC\n}\n",
                    "Service smtp should not have TRAFFIC flag set since its not redirected"},
        RefusalCase{"TrafficWithRedirect",
                    "service smtp\n{\n socket_type = stream\n log_on_success = TRAFFIC\n"
                    " redirect = 192.0.2.1 smtp\n}\n",
                    ""},
        RefusalCase{"RedirectThatWaits",
                    "service smtp\n{\n socket_type = stream\n wait = yes\n user = nobody\n"
                    " redirect = 192.0.2.1 25\n}\n",
                    "Redirected service smtp must not wait", false},
        RefusalCase{"RedirectStillNeedsServerArgsUnderNameInArgs",
                    "service smtp\n{\n socket_type = stream\n wait = no\n user = nobody\n"
                    " flags = NAMEINARGS\n redirect = 192.0.2.1 25\n}\n",
                    "Must specify server args if using NAMEINARGS flag", false},
        RefusalCase{"LabeledThatWaits",
                    "service smtp\n{\n id = smtp-main\n socket_type = stream\n wait = yes\n"
                    " user = qmaild\n server = /bin/true\n flags = LABELED\n}\n",
                    "Tcp wait services cannot support labeled networking: smtp-main", false},
        RefusalCase{"StreamOverUdpCannotOpenItsSocket",
                    "service smtp2\n{\n type = UNLISTED\n port = 2525\n socket_type = stream\n"
                    " protocol = udp\n}\n",
                    "socket creation failed"},
        RefusalCase{"MissingWaitAndUser",
                    "service smtp\n{\n id = smtp-main\n socket_type = stream\n"
                    " server = /var/qmail/bin/tcp-env\n}\n",
                    "Service smtp-main missing attribute wait - DISABLING\", "
                    "\"Service smtp-main missing attribute user - DISABLING",
                    false},
        RefusalCase{"UnlistedNeedsAProtocol",
                    "service smtp2\n{\n type = UNLISTED\n socket_type = raw\n port = 2525\n}\n",
                    "Service smtp2 missing attribute protocol - DISABLING"},
        RefusalCase{"BadWaitIsAParseError",
                    "service smtp\n{\n id = smtp-main\n socket_type = stream\n wait = maybe\n"
                    " user = qmaild\n server = /bin/true\n}\n",
                    "Service smtp-main missing attribute wait - DISABLING", false},
        RefusalCase{"MptcpOverStreamIsKept",
                    "service smtp2\n{\n type = UNLISTED\n port = 2525\n socket_type = stream\n"
                    " protocol = mptcp\n}\n",
                    ""},
        RefusalCase{"SeqpacketOverTcpCannotOpenItsSocket",
                    "service smtp2\n{\n type = UNLISTED\n port = 2525\n socket_type = seqpacket\n"
                    " protocol = tcp\n}\n",
                    "socket creation failed"},
        RefusalCase{"NameInArgsAfterServerArgsRunsNoServer",
                    "service smtp\n{\n socket_type = stream\n server_args = tcp-env -R\n"
                    " flags = NAMEINARGS\n}\n",
                    "Unexpected signal: 11"},
        RefusalCase{"NameInArgsBeforeServerArgs",
                    "service smtp\n{\n socket_type = stream\n flags = NAMEINARGS\n"
                    " server_args = tcp-env -R\n}\n",
                    ""},
        RefusalCase{"RedirectToANameMayNotHappen",
                    "service smtp\n{\n socket_type = stream\n log_on_success = TRAFFIC\n"
                    " redirect = mailhub.example 25\n}\n",
                    ""},
        RefusalCase{"TcpmuxIsNotJudged", "service smtp\n{\n type = TCPMUX\n}\n", ""},
        RefusalCase{"InternalIsNotJudged", "service echo\n{\n type = INTERNAL\n}\n", ""}),
    [](const ::testing::TestParamInfo<RefusalCase>& parameter) {
      return std::string(parameter.param.name);
    });

// Without /etc/services (a bare --root tree, a minimal container) only the
// mail names are known: nothing is claimed about the others.
TEST(XinetdStartRefusal, WithoutTheNameFilesOnlyMailNamesAreJudged) {
  EXPECT_EQ(
      refusal_for({"", "service pop3\n{\n socket_type = stream\n port = 2110\n}\n", ""}, false),
      "");
  EXPECT_NE(
      refusal_for({"", "service smtp\n{\n socket_type = stream\n port = 2525\n}\n", ""}, false)
          .find("Service smtp expects port 25, not 2525"),
      std::string::npos);
}

// A parse error in type, like any, disables the service; the words before
// the bad one still count.
TEST(XinetdStartRefusal, BadTypeOrSocketTypeIsAParseError) {
  std::vector<XinetdSection> sections;
  for (XinetdItem& item :
       parse_xinetd_text("/etc/xinetd.d/test",
                         "service a\n{\n type = UNLISTED bogus\n}\n"
                         "service b\n{\n socket_type = strem\n socket_type = stream\n}\n")
           .items) {
    if (auto* section = std::get_if<XinetdSection>(&item)) sections.push_back(std::move(*section));
  }
  std::vector<XinetdService> services = resolve_xinetd_services(sections);
  ASSERT_EQ(services.size(), 2u);
  EXPECT_FALSE(services[0].enabled);
  EXPECT_EQ(services[0].disabled_reason, "type = UNLISTED bogus: xinetd knows no type bogus");
  EXPECT_EQ(services[0].types.count("UNLISTED"), 1u);
  EXPECT_FALSE(services[1].enabled);
  EXPECT_EQ(services[1].disabled_reason, "socket_type = strem: xinetd knows no such socket type");
  EXPECT_EQ(services[1].socket_type, "stream") << "the refused line leaves it unset";
}

// Lookups xinetd's parsers make: a name the host lacks is a parse error,
// which a later line, `disable = no` or defaults' `enabled` list can undo.
TEST(XinetdStartRefusal, NamesTheHostLacksAreParseErrors) {
  XinetdNameFiles names(XinetdNameTexts{kServices, kProtocols, "root:x:0:0::/root:/bin/sh\n",
                                        "passwd: files systemd\ngroup: files\n"});
  auto service_of = [&](const std::string& lines) {
    std::vector<XinetdSection> sections;
    for (XinetdItem& item :
         parse_xinetd_text("/etc/xinetd.d/test", "service smtp\n{\n" + lines + "}\n").items) {
      if (auto* section = std::get_if<XinetdSection>(&item)) {
        sections.push_back(std::move(*section));
      }
    }
    std::vector<XinetdService> services = resolve_xinetd_services(sections, names.lookups());
    EXPECT_EQ(services.size(), 1u);
    return services.at(0);
  };
  XinetdService bad_protocol = service_of(" protocol = tpc\n");
  EXPECT_FALSE(bad_protocol.enabled);
  EXPECT_EQ(bad_protocol.disabled_reason, "protocol = tpc: not in /etc/protocols");
  XinetdService undone = service_of(" protocol = tpc\n protocol = tcp\n disable = no\n");
  EXPECT_TRUE(undone.enabled) << undone.disabled_reason;
  EXPECT_EQ(undone.protocol, "tcp");

  EXPECT_EQ(service_of(" user = qmaild\n").disabled_reason, "user = qmaild: no such user");
  EXPECT_TRUE(service_of(" user = nobody\n").enabled) << "nss-systemd always has nobody";
  EXPECT_TRUE(service_of(" user = 1001\n").enabled) << "digits are a uid, not looked up";

  EXPECT_EQ(service_of(" redirect = 127.0.0.1 0\n").disabled_reason,
            "redirect = 127.0.0.1 0: xinetd finds no port 0");
  EXPECT_FALSE(service_of(" redirect = 127.0.0.1 65536\n").enabled);
  EXPECT_TRUE(service_of(" redirect = 127.0.0.1 smtp\n").redirected);
  XinetdService bad_redirect = service_of(" redirect = 127.0.0.1 0\n disable = no\n");
  EXPECT_TRUE(bad_redirect.enabled);
  EXPECT_FALSE(bad_redirect.redirected) << "the refused line sets nothing";

  XinetdService named = service_of(" server = /x/tcp-env\n redirect = mailhub.example 25\n");
  EXPECT_FALSE(named.redirected);
  EXPECT_TRUE(named.redirect_to_a_name);
  EXPECT_FALSE(xinetd_command_line(named).argv.empty()) << "its server may run: judged";
  EXPECT_TRUE(service_of(" redirect = 127.1 25\n").redirected) << "inet_aton's short form";
  EXPECT_TRUE(service_of(" redirect = ::1 25\n").redirected);
  EXPECT_EQ(service_of(" redirect = 300.1.1.1 25\n").disabled_reason,
            "redirect = 300.1.1.1 25: xinetd finds no address 300.1.1.1");

  EXPECT_EQ(service_of(" server_args =\n").disabled_reason, "server_args has no value");
  EXPECT_FALSE(service_of(" server_args =\n disable = no\n").server_args_end)
      << "unset, so NAMEINARGS then finds none";
}

// Users from LDAP, NIS or sssd cannot be listed: nothing is claimed about them.
TEST(XinetdStartRefusal, UsersAreJudgedOnlyWhenFilesAloneHoldThem) {
  auto lookups_with = [](std::optional<std::string> passwd, std::optional<std::string> nsswitch) {
    XinetdNameFiles names(XinetdNameTexts{std::nullopt, std::nullopt, passwd, nsswitch});
    return names.lookups();
  };
  EXPECT_TRUE(lookups_with("root:x:0:0::/:\n", "passwd: files\n").user_exists);
  EXPECT_TRUE(lookups_with("root:x:0:0::/:\n", std::nullopt).user_exists);
  // An action changes which sources are asked: nothing is claimed.
  EXPECT_FALSE(
      lookups_with("root:x:0:0::/:\n", "passwd: compat [NOTFOUND=return] files\n").user_exists);
  EXPECT_FALSE(lookups_with("root:x:0:0::/:\n", "passwd: files ldap\n").user_exists);
  EXPECT_FALSE(lookups_with("root:x:0:0::/:\n", "passwd: sss files\n").user_exists);
  EXPECT_FALSE(lookups_with("root:x:0:0::/:\n+::::::\n", "passwd: compat\n").user_exists);
  EXPECT_FALSE(lookups_with(std::nullopt, "passwd: files\n").user_exists);
  // nss_files skips leading blanks and comments.
  XinetdLookups blanks = lookups_with("# local\n  \tspaced:x:4321:4321::/:\n", "passwd: files\n");
  ASSERT_TRUE(blanks.user_exists);
  EXPECT_TRUE(blanks.user_exists("spaced"));
  EXPECT_FALSE(blanks.user_exists("# local"));
  // userdb records reach nss-systemd: any name may exist.
  XinetdNameFiles userdb(XinetdNameTexts{std::nullopt, std::nullopt, "root:x:0:0::/:\n",
                                         "passwd: files systemd\n", true});
  EXPECT_FALSE(userdb.lookups().user_exists);
  // Without the files, nothing else is looked up either.
  XinetdLookups none = lookups_with(std::nullopt, std::nullopt);
  EXPECT_FALSE(none.protocol_exists);
  EXPECT_FALSE(none.tcp_service_exists);
}

// nss_files' services parser, as seen through Debian 12's xinetd (helper-44).
TEST(XinetdStartRefusal, ServicesAreReadAsGlibcReadsThem) {
  ServicePorts ports(std::optional<std::string>(
      "foo1 0xBB9/tcp\nfoo2 +3002/tcp\nfoo3 99999/tcp\nfoo5 3005//tcp\nfoo6 0/tcp\n"
      "foo4 03004/tcp\nfoo9 -1/tcp\nfoo8 smtp/tcp\nfoo7 25\n"));
  EXPECT_EQ(ports.find_listed("foo1", "tcp"), 3001);
  EXPECT_EQ(ports.find_listed("foo2", "tcp"), 3002);
  EXPECT_EQ(ports.find_listed("foo3", "tcp"), 99999 % 65536);
  EXPECT_EQ(ports.find_listed("foo5", "tcp"), 3005);
  EXPECT_EQ(ports.find_listed("foo6", "tcp"), 0);
  EXPECT_EQ(ports.find_listed("foo4", "tcp"), 03004);
  EXPECT_EQ(ports.find_listed("foo9", "tcp"), std::nullopt);
  EXPECT_EQ(ports.find_listed("foo8", "tcp"), std::nullopt);
  EXPECT_EQ(ports.find_listed("foo7", "tcp"), std::nullopt);
  EXPECT_EQ(ports.find("foo6"), std::nullopt) << "port 0: the kernel picks one";
  EXPECT_EQ(ports.find("foo1"), 3001);

  // Any isspace() byte parts words: a CRLF file, a vertical tab, a form feed.
  ServicePorts spaced(std::optional<std::string>(std::string(
      "smtp 25/tcp mail\r\nqmtp\v209/tcp\fqmtp-alias\r\nbig 4294967321/tcp\nnul 26/tcp\0x\n", 75)));
  EXPECT_EQ(spaced.find_listed("smtp", "tcp"), 25);
  EXPECT_EQ(spaced.find_listed("mail", "tcp"), 25);
  EXPECT_EQ(spaced.find_listed("qmtp", "tcp"), 209);
  EXPECT_EQ(spaced.find_listed("qmtp-alias", "tcp"), 209);
  EXPECT_EQ(spaced.find_listed("big", "tcp"), std::nullopt) << "more than 32 bits";
  EXPECT_EQ(spaced.find_listed("nul", "tcp"), 26) << "a C string ends at NUL";
  // A CR-only file is one line: the later names are aliases of the first.
  ServicePorts one_line(std::optional<std::string>("smtp 25/tcp\rfoo 26/tcp\r"));
  EXPECT_EQ(one_line.find_listed("foo", "tcp"), 25);
}

// nss_database.c's line format: a name up to a blank or ':', the last line
// for a database counts, and a '#' among the sources is a module, not a comment.
TEST(XinetdStartRefusal, NsswitchIsReadAsGlibcReadsIt) {
  auto judged = [](const char* nsswitch, bool userdb = false) {
    XinetdNameFiles names(
        XinetdNameTexts{std::nullopt, std::nullopt, "root:x:0:0::/:\n", nsswitch, userdb});
    return static_cast<bool>(names.lookups().user_exists);
  };
  EXPECT_TRUE(judged("passwd:files systemd\n"));
  EXPECT_TRUE(judged("passwd files\n"));
  EXPECT_FALSE(judged("passwd: files [NOTFOUND=return] systemd\n"));
  EXPECT_TRUE(judged("\vpasswd\r: files systemd\r\n")) << "any isspace() byte is a space";
  EXPECT_TRUE(judged("passwd: ldap\npasswd: files\n"));
  EXPECT_TRUE(judged("# passwd: ldap\npasswd: files\n"));
  EXPECT_FALSE(judged("passwd:files ldap\n"));
  EXPECT_FALSE(judged("passwd files sss\n"));
  EXPECT_FALSE(judged("passwd: files # systemd\n"));
  EXPECT_FALSE(judged("passwd: files\npasswd: files winbind\n"));
  EXPECT_FALSE(judged("passwd:files systemd\n", true));

  // helper-45, on glibc 2.36: an empty list has no source, so no user exists;
  // systemd alone has root and nobody only; seven fields and numeric ids.
  auto user_exists = [](const char* passwd, const char* nsswitch, const char* name) {
    XinetdNameFiles names(XinetdNameTexts{std::nullopt, std::nullopt, passwd, nsswitch, false});
    return names.lookups().user_exists(name);
  };
  const char* bob = "bob:x:1000:1000::/home/bob:/bin/sh\r\n";
  EXPECT_TRUE(user_exists(bob, "passwd: files\n", "bob"));
  EXPECT_FALSE(user_exists(bob, "passwd:\n", "bob"));
  EXPECT_FALSE(user_exists(bob, "passwd: systemd\n", "bob"));
  EXPECT_TRUE(user_exists(bob, "passwd: systemd\n", "nobody"));
  EXPECT_TRUE(user_exists("\v\rbob:x:1000:1000::/:/bin/sh\n", "passwd: files\n", "bob"));
  for (const char* broken : {"bob\n", "bob:x:1000:1000\r\n", "bob:x:abc:1::/:/bin/sh\n",
                             "bob:x::1::/:/bin/sh\n", "bob:x:-1:1::/:/bin/sh\n",
                             "bob:x:99999999999:1::/:/bin/sh\n", "bob:x:1000x:1::/:/bin/sh\n"}) {
    EXPECT_FALSE(user_exists(broken, "passwd: files\n", "bob")) << broken;
  }
}

// The drop-in folders of systemd 252 and homed's socket reach nss-systemd.
TEST(XinetdStartRefusal, UserdbRecordsAnywhereMakeUsersUnknowable) {
  for (const char* record : {"/etc/userdb/a.user", "/run/userdb/a.user", "/run/host/userdb/a.user",
                             "/usr/local/lib/userdb/a.user", "/usr/lib/userdb/a.user",
                             "/run/systemd/userdb/io.systemd.Home"}) {
    testing::TemporaryTree tree;
    tree.write("/etc/passwd", "root:x:0:0::/:\n");
    tree.write("/etc/nsswitch.conf", "passwd: files systemd\n");
    RootedHost host = *RootedHost::open(tree.root());
    EXPECT_TRUE(XinetdNameFiles(host).lookups().user_exists) << "before " << record;
    tree.write(record, "{}\n");
    EXPECT_FALSE(XinetdNameFiles(host).lookups().user_exists) << record;
  }
}

}  // namespace
}  // namespace qharden
