// smtp.greeting's parts on real loopback sockets and parsed command lines: the
// probe against tiny servers that greet late, wrongly or never; the chain
// analysis as a table of command lines.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "smtp_greeting/chain.h"
#include "smtp_greeting/listeners.h"
#include "smtp_greeting/probe.h"

namespace qharden {
namespace {

// A one-connection server on 127.0.0.1: waits delay_ms after accept, writes
// reply, and keeps the connection open until the client closes it.
class TinyServer {
 public:
  TinyServer(std::string reply, int delay_ms, bool close_after = false) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 4), 0);
    socklen_t length = sizeof address_;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address_), &length);
    thread_ = std::thread([this, reply = std::move(reply), delay_ms, close_after] {
      int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      if (!reply.empty()) (void)::send(connection, reply.data(), reply.size(), MSG_NOSIGNAL);
      if (!close_after) {
        char buffer[512];
        while (::recv(connection, buffer, sizeof buffer, 0) > 0) {
        }
      }
      ::close(connection);
    });
  }
  ~TinyServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  GreetingTarget target(bool tls = false) const {
    GreetingTarget target;
    target.label = "127.0.0.1:" + std::to_string(ntohs(address_.sin_port));
    std::memcpy(&target.address, &address_, sizeof address_);
    target.address_length = sizeof address_;
    target.implicit_tls = tls;
    return target;
  }

 private:
  int listener_ = -1;
  sockaddr_in address_{};
  std::thread thread_;
};

struct ProbeCase {
  const char* name;
  const char* reply;
  int delay_ms;
  bool close_after;
  bool tls;
  GreetingOutcome outcome;
  const char* first_line;
  double minimum_ms;
};

class GreetingProbe : public ::testing::TestWithParam<ProbeCase> {};

TEST_P(GreetingProbe, TimesTheReply) {
  const ProbeCase& row = GetParam();
  TinyServer server(row.reply, row.delay_ms, row.close_after);
  std::vector<GreetingResult> results = probe_greetings({server.target(row.tls)}, 2000);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, row.outcome) << results[0].error;
  EXPECT_EQ(results[0].reply, row.first_line);
  EXPECT_GE(results[0].milliseconds, row.minimum_ms);
  // Before the 2000 ms give-up limit, whatever the machine's load.
  EXPECT_LT(results[0].milliseconds, 2000);
}

INSTANTIATE_TEST_SUITE_P(
    Table, GreetingProbe,
    ::testing::Values(ProbeCase{"immediate", "220 mx ESMTP\r\n", 0, false, false,
                                GreetingOutcome::greeted, "220 mx ESMTP", 0},
                      ProbeCase{"late", "220 mx ESMTP\r\n", 300, false, false,
                                GreetingOutcome::greeted, "220 mx ESMTP", 290},
                      ProbeCase{"multiline", "220-mx hello\r\n220-more\r\n220 ready\r\n", 0, false,
                                false, GreetingOutcome::greeted, "220-mx hello", 0},
                      ProbeCase{"bare_newline", "220 mx\n", 0, false, false,
                                GreetingOutcome::greeted, "220 mx", 0},
                      ProbeCase{"refusal", "554 no service\r\n", 0, false, false,
                                GreetingOutcome::other_reply, "554 no service", 0},
                      ProbeCase{"rblsmtpd_451", "451 listed\r\n", 0, false, false,
                                GreetingOutcome::other_reply, "451 listed", 0},
                      ProbeCase{"closed_silently", "", 0, true, false, GreetingOutcome::closed, "",
                                0},
                      ProbeCase{"closed_mid_reply", "220-mx\r\n", 0, true, false,
                                GreetingOutcome::closed, "220-mx", 0},
                      ProbeCase{"tls_first_byte", "\x16\x03\x03", 200, false, true,
                                GreetingOutcome::tls_answered, "", 190}),
    [](const ::testing::TestParamInfo<ProbeCase>& row) { return std::string(row.param.name); });

TEST(GreetingProbe, GivesUpAtTheLimit) {
  TinyServer server("", 1500);
  auto started = std::chrono::steady_clock::now();
  std::vector<GreetingResult> results = probe_greetings({server.target()}, 300);
  double elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, GreetingOutcome::gave_up);
  EXPECT_GE(elapsed, 290);
  // The server answers at 1500 ms: the probe must have stopped before that.
  EXPECT_LT(elapsed, 1500);
}

TEST(GreetingProbe, RefusedPortIsSaid) {
  GreetingTarget target;
  {
    TinyServer closed("", 0, true);
    target = closed.target();
    // Connect once so the server thread exits; the port is then closed.
    probe_greetings({target}, 500);
  }
  std::vector<GreetingResult> results = probe_greetings({target}, 500);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, GreetingOutcome::refused);
  EXPECT_NE(results[0].error.find("refused"), std::string::npos) << results[0].error;
}

TEST(GreetingProbe, ProbesRunTogether) {
  TinyServer first("220 a\r\n", 700);
  TinyServer second("220 b\r\n", 700);
  TinyServer third("220 c\r\n", 700);
  auto started = std::chrono::steady_clock::now();
  std::vector<GreetingResult> results =
      probe_greetings({first.target(), second.target(), third.target()}, 3000);
  double elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].reply, "220 a");
  EXPECT_EQ(results[2].reply, "220 c");
  // Probes one after the other cannot take less than the three delays (2.1 s);
  // together they take one, which leaves room for a loaded machine.
  EXPECT_LT(elapsed, 3 * 700);
}

TEST(GreetingProbe, ProgressIsReportedWhileWaiting) {
  TinyServer server("220 late\r\n", 1300);
  int calls = 0;
  probe_greetings({server.target()}, 3000, [&](const std::string& label, double seconds) {
    ++calls;
    EXPECT_NE(label.find("127.0.0.1:"), std::string::npos);
    EXPECT_GE(seconds, 0.9);
  });
  EXPECT_GE(calls, 1);
}

struct ChainCase {
  const char* name;
  std::vector<std::string> argv;
  std::vector<std::string> xinetd_ident_attributes;
  int ident_wait_seconds;
  std::vector<std::string> fixed_by;
  std::size_t dns_lookups;
  std::vector<std::string> zones;
};

class GreetingChain : public ::testing::TestWithParam<ChainCase> {};

TEST_P(GreetingChain, FindsIdentAndDns) {
  const ChainCase& row = GetParam();
  ServiceCommand command;
  command.argv = row.argv;
  command.details->xinetd_ident_attributes = row.xinetd_ident_attributes;
  ChainFacts facts = analyse_chain(command);
  EXPECT_EQ(total_ident_wait_seconds(facts), row.ident_wait_seconds);
  std::vector<std::string> fixed_by;
  for (const IdentWait& wait : facts.ident_waits) fixed_by.push_back(wait.fixed_by);
  EXPECT_EQ(fixed_by, row.fixed_by);
  EXPECT_EQ(facts.dns_lookups.size(), row.dns_lookups);
  EXPECT_EQ(facts.dnsbl_zones, row.zones);
}

INSTANTIATE_TEST_SUITE_P(
    Table, GreetingChain,
    ::testing::Values(ChainCase{"tcpserver_default",
                                {"tcpserver", "-v", "0", "25", "qmail-smtpd"},
                                {},
                                26,
                                {"tcpserver.flags"},
                                2,
                                {}},
                      ChainCase{"tcpserver_fixed",
                                {"/usr/bin/tcpserver", "-vRHl0", "0", "smtp", "qmail-smtpd"},
                                {},
                                0,
                                {},
                                0,
                                {}},
                      ChainCase{"tcpserver_r_undoes_R",
                                {"tcpserver", "-R", "-r", "-t5", "0", "25", "x"},
                                {},
                                5,
                                {"tcpserver.flags"},
                                2,
                                {}},
                      ChainCase{"tcpserver_rblsmtpd",
                                {"tcpserver", "-RHl0", "0", "25", "rblsmtpd", "-r", "bl.lab.test",
                                 "-a", "white.lab.test", "qmail-smtpd"},
                                {},
                                0,
                                {},
                                1,
                                {"bl.lab.test", "white.lab.test"}},
                      ChainCase{"tcp_env_plesk",
                                {"/var/qmail/bin/tcp-env", "/var/qmail/bin/qmail-smtpd"},
                                {},
                                30,
                                {"tcp-env.flags"},
                                1,
                                {}},
                      ChainCase{"tcp_env_fixed",
                                {"/var/qmail/bin/tcp-env", "-Rt0", "/var/qmail/bin/qmail-smtpd"},
                                {},
                                0,
                                {},
                                1,
                                {}},
                      ChainCase{"xinetd_userid",
                                {"/var/qmail/bin/tcp-env", "-R", "qmail-smtpd"},
                                {"log_on_success"},
                                30,
                                {"tcp-env.flags"},
                                1,
                                {}},
                      ChainCase{"xinetd_userid_and_tcp_env",
                                {"/var/qmail/bin/tcp-env", "qmail-smtpd"},
                                {"log_on_success", "log_on_failure"},
                                60,
                                {"tcp-env.flags", "tcp-env.flags"},
                                1,
                                {}},
                      // Refused connections only: no greeting waits for it.
                      ChainCase{"xinetd_userid_on_failure_only",
                                {"/var/qmail/bin/tcp-env", "-R", "qmail-smtpd"},
                                {"log_on_failure"},
                                0,
                                {},
                                1,
                                {}},
                      ChainCase{"plain_daemon", {"/usr/sbin/exim4", "-bd"}, {}, 0, {}, 0, {}}),
    [](const ::testing::TestParamInfo<ChainCase>& row) { return std::string(row.param.name); });

TEST(GreetingListeners, SplitsCommandLines) {
  using namespace std::string_literals;
  EXPECT_EQ(split_command_line("tcpserver\0-v\0000\00025\0"s),
            (std::vector<std::string>{"tcpserver", "-v", "0", "25"}));
  EXPECT_EQ(split_command_line(""), std::vector<std::string>{});
}

TEST(GreetingListeners, SubjectsNameAddressAndPort) {
  SmtpListener listener;
  listener.family = AF_INET;
  listener.port = 25;
  EXPECT_EQ(listener.subject(), "0.0.0.0:25");
  listener.family = AF_INET6;
  listener.port = 587;
  EXPECT_EQ(listener.subject(), "[::]:587");
  listener.address = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  listener.interface_index = 3;
  EXPECT_EQ(listener.subject(), "[fe80::1%3]:587");
}

}  // namespace
}  // namespace qharden
