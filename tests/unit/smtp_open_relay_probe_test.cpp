// The live RCPT probe against a scripted SMTP server on loopback: which reply
// decides, and that DATA is never sent.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "smtp_open_relay/live.h"

namespace qharden {
namespace {

// Answers each command line with the next scripted reply; records what came.
class ScriptedServer {
 public:
  ScriptedServer(std::string greeting, std::vector<std::string> replies)
      : greeting_(std::move(greeting)), replies_(std::move(replies)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 4);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }

  RelayProbeTarget target() const {
    RelayProbeTarget target;
    target.label = "127.0.0.1:" + std::to_string(port_);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(&target.address, &address, sizeof address);
    target.address_length = sizeof address;
    return target;
  }
  std::string received() {
    thread_.join();
    thread_ = std::thread([] {});
    return received_;
  }

 private:
  void serve() {
    int client = ::accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    if (!greeting_.empty()) (void)::send(client, greeting_.data(), greeting_.size(), MSG_NOSIGNAL);
    std::size_t next = 0;
    char buffer[1024];
    std::string pending;
    while (true) {
      ssize_t count = ::recv(client, buffer, sizeof buffer, 0);
      if (count <= 0) break;
      pending.append(buffer, static_cast<std::size_t>(count));
      std::size_t end;
      while ((end = pending.find('\n')) != std::string::npos) {
        received_ += pending.substr(0, end + 1);
        pending.erase(0, end + 1);
        if (next < replies_.size()) {
          (void)::send(client, replies_[next].data(), replies_[next].size(), MSG_NOSIGNAL);
          ++next;
        }
      }
    }
    ::close(client);
  }

  std::string greeting_;
  std::vector<std::string> replies_;
  int listener_ = -1;
  int port_ = 0;
  std::string received_;
  std::thread thread_;
};

TEST(SmtpOpenRelayProbe, RefusedRcptPassesAndIsQuoted) {
  ScriptedServer server(
      "220-mail.example\r\n220 ESMTP\r\n",
      {"250-mail.example\r\n250 PIPELINING\r\n", "250 ok\r\n",
       "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n", "221 bye\r\n"});
  std::vector<RelayProbeResult> results =
      probe_relays({server.target()}, 10000, "probe@relay-test.invalid");
  ASSERT_EQ(results.size(), 1U);
  EXPECT_EQ(results[0].outcome, RelayProbeOutcome::refused) << results[0].error;
  EXPECT_EQ(results[0].stage, "RCPT");
  EXPECT_EQ(results[0].reply_code, 553);
  EXPECT_EQ(results[0].greeting, "220-mail.example");
  std::string received = server.received();
  EXPECT_NE(received.find("RCPT TO:<probe@relay-test.invalid>\r\n"), std::string::npos);
  EXPECT_EQ(received.find("DATA"), std::string::npos);
}

TEST(SmtpOpenRelayProbe, AcceptedRcptIsARelayAndNoDataIsSent) {
  ScriptedServer server(
      "220 mail.example ESMTP\r\n",
      {"250 mail.example\r\n", "250 ok\r\n", "250 ok\r\n", "250 flushed\r\n", "221 bye\r\n"});
  std::vector<RelayProbeResult> results = probe_relays({server.target()}, 10000, "a@b.invalid");
  EXPECT_EQ(results[0].outcome, RelayProbeOutcome::accepted);
  EXPECT_EQ(results[0].reply_code, 250);
  std::string received = server.received();
  EXPECT_NE(received.find("MAIL FROM:<>\r\n"), std::string::npos);
  EXPECT_NE(received.find("RSET\r\n"), std::string::npos);
  EXPECT_EQ(received.find("DATA"), std::string::npos);
}

TEST(SmtpOpenRelayProbe, RefusedGreetingDecidesBeforeRcpt) {
  ScriptedServer server("451 Error: open resolver\r\n", {});
  std::vector<RelayProbeResult> results = probe_relays({server.target()}, 10000, "a@b.invalid");
  EXPECT_EQ(results[0].outcome, RelayProbeOutcome::refused);
  EXPECT_EQ(results[0].stage, "greeting");
  EXPECT_EQ(server.received().find("RCPT"), std::string::npos);
}

struct VerdictCase {
  const char* name;
  const char* greeting;
  const char* stage;
  int code;
  const char* why;  // "" when the refusal is a relay verdict
};

class RelayVerdict : public ::testing::TestWithParam<VerdictCase> {};

TEST_P(RelayVerdict, OnlyAPermanentRcptRefusalByTheDaemonIsAVerdict) {
  const VerdictCase& each = GetParam();
  RelayProbeResult result;
  result.outcome = RelayProbeOutcome::refused;
  result.greeting = each.greeting;
  result.stage = each.stage;
  result.reply_code = each.code;
  std::optional<std::string> why = why_not_a_relay_verdict(result);
  if (std::string(each.why).empty()) {
    EXPECT_FALSE(why) << *why;
  } else {
    ASSERT_TRUE(why);
    EXPECT_NE(why->find(each.why), std::string::npos) << *why;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RelayVerdict,
    ::testing::Values(
        VerdictCase{"qmail_553", "220 mx.example ESMTP", "RCPT", 553, ""},
        VerdictCase{"other_550", "220 mx.example ESMTP", "RCPT", 550, ""},
        VerdictCase{"rblsmtpd_451", "220 rblsmtpd.local", "RCPT", 451, "rblsmtpd answered"},
        VerdictCase{"rblsmtpd_553", "220 rblsmtpd.local", "RCPT", 553, "rblsmtpd answered"},
        VerdictCase{"temporary", "220 mx.example ESMTP", "RCPT", 451, "temporary refusal (451)"},
        VerdictCase{"greeting_421", "421 busy", "greeting", 421, "refused at greeting"},
        VerdictCase{"mail_550", "220 mx.example ESMTP", "MAIL", 550, "refused at MAIL"}),
    [](const ::testing::TestParamInfo<VerdictCase>& each) { return std::string(each.param.name); });

TEST(SmtpOpenRelayProbe, SilentServerIsInconclusive) {
  ScriptedServer server("", {});
  std::vector<RelayProbeResult> results = probe_relays({server.target()}, 300, "a@b.invalid");
  EXPECT_EQ(results[0].outcome, RelayProbeOutcome::inconclusive);
  EXPECT_NE(results[0].error.find("greeting"), std::string::npos) << results[0].error;
}

TEST(SmtpOpenRelayProbe, CompleteReplyWaitsForTheLastLine) {
  std::size_t consumed = 0;
  EXPECT_EQ(complete_reply("250-a\r\n250-b\r\n", consumed), "");
  EXPECT_EQ(complete_reply("250-a\r\n250 b\r\nrest", consumed), "250-a");
  EXPECT_EQ(consumed, 14U);
}

}  // namespace
}  // namespace qharden
