// The pure parts of the DNS prober: server addresses, name checks, reverse and
// DNSBL names. The live part runs against real unbound servers in
// dns_probe_live_test.cpp, driven by tests/integration/dns_probe_test.sh.
#include "host/dns_probe.h"

#include <gtest/gtest.h>

namespace qharden {
namespace {

TEST(DnsNames, ReverseNameOfIpv4) {
  EXPECT_EQ(*reverse_lookup_name("127.0.0.2"), "2.0.0.127.in-addr.arpa");
  EXPECT_EQ(*reverse_lookup_name("192.0.2.10"), "10.2.0.192.in-addr.arpa");
}

TEST(DnsNames, ReverseNameOfIpv6IsNibbles) {
  EXPECT_EQ(*reverse_lookup_name("2001:db8::567:89ab"),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(*reverse_lookup_name("::1"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
}

TEST(DnsNames, ReverseNameIgnoresTheScopeId) {
  EXPECT_EQ(*reverse_lookup_name("fe80::1%eth0"), *reverse_lookup_name("fe80::1"));
}

TEST(DnsNames, ReverseNameRejectsNonAddresses) {
  EXPECT_FALSE(reverse_lookup_name("localhost"));
  EXPECT_FALSE(reverse_lookup_name("127.0.0.256"));
  EXPECT_FALSE(reverse_lookup_name(""));
}

TEST(DnsNames, DnsblQueryName) {
  EXPECT_EQ(*dnsbl_query_name("127.0.0.2", "zen.spamhaus.org"), "2.0.0.127.zen.spamhaus.org");
  EXPECT_EQ(*dnsbl_query_name("127.0.0.1", "bl.example."), "1.0.0.127.bl.example");
  EXPECT_FALSE(dnsbl_query_name("::1", "bl.example"));
  EXPECT_FALSE(dnsbl_query_name("127.0.0.2", "bad..zone"));
}

TEST(DnsNames, ValidNames) {
  EXPECT_EQ(dns_name_problem("zen.spamhaus.org"), std::nullopt);
  EXPECT_EQ(dns_name_problem("zen.spamhaus.org."), std::nullopt);
  EXPECT_EQ(dns_name_problem("_dmarc.example"), std::nullopt);
  EXPECT_EQ(dns_name_problem("localhost."), std::nullopt);
  EXPECT_EQ(dns_name_problem(std::string(63, 'a') + ".example"), std::nullopt);
}

TEST(DnsNames, InvalidNamesSayWhy) {
  EXPECT_NE(dns_name_problem("")->find("empty"), std::string::npos);
  EXPECT_NE(dns_name_problem(".")->find("empty"), std::string::npos);
  EXPECT_NE(dns_name_problem("a..b")->find("empty label"), std::string::npos);
  EXPECT_NE(dns_name_problem(".example")->find("empty label"), std::string::npos);
  EXPECT_NE(dns_name_problem("bl example")->find("0x20"), std::string::npos);
  EXPECT_NE(dns_name_problem("bl.exa$mple")->find("0x24"), std::string::npos);
  EXPECT_NE(dns_name_problem("-bl.example")->find("'-'"), std::string::npos);
  EXPECT_NE(dns_name_problem("bl-.example")->find("'-'"), std::string::npos);
  EXPECT_NE(dns_name_problem(std::string(64, 'a') + ".example")->find("63"), std::string::npos);
  std::string long_name;
  for (int index = 0; index < 50; ++index) long_name += "abcd.";
  long_name += "example";
  EXPECT_NE(dns_name_problem(long_name)->find("253"), std::string::npos);
  EXPECT_TRUE(dns_name_problem(std::string("bl\0x.example", 12)));
}

TEST(DnsServers, ParsesAddressesPortsAndScopes) {
  Expected<DnsServer> plain = parse_dns_server("127.0.0.10");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->address, "127.0.0.10");
  EXPECT_EQ(plain->port, 53);
  EXPECT_EQ(plain->describe(), "127.0.0.10");
  Expected<DnsServer> ported = parse_dns_server("127.0.0.10:5353");
  ASSERT_TRUE(ported);
  EXPECT_EQ(ported->port, 5353);
  EXPECT_EQ(ported->describe(), "127.0.0.10:5353");
  Expected<DnsServer> ipv6 = parse_dns_server("[::1]:5300");
  ASSERT_TRUE(ipv6);
  EXPECT_EQ(ipv6->address, "::1");
  EXPECT_EQ(ipv6->port, 5300);
  EXPECT_EQ(ipv6->describe(), "[::1]:5300");
  Expected<DnsServer> scoped = parse_dns_server("fe80::1%eth0");
  ASSERT_TRUE(scoped);
  EXPECT_EQ(scoped->address, "fe80::1");
  EXPECT_EQ(scoped->scope, "eth0");
  EXPECT_EQ(scoped->port, 53);
  EXPECT_EQ(scoped->describe(), "fe80::1%eth0");
  EXPECT_EQ(parse_dns_server("2001:db8::1")->address, "2001:db8::1");
}

TEST(DnsServers, RejectsWhatIsNoServer) {
  EXPECT_FALSE(parse_dns_server(""));
  EXPECT_FALSE(parse_dns_server("dns.example"));
  EXPECT_FALSE(parse_dns_server("127.0.0.1:0"));
  EXPECT_FALSE(parse_dns_server("127.0.0.1:65536"));
  EXPECT_FALSE(parse_dns_server("127.0.0.1:53x"));
  EXPECT_FALSE(parse_dns_server("[127.0.0.1]:53"));
  EXPECT_FALSE(parse_dns_server("[::1"));
  EXPECT_FALSE(parse_dns_server("fe80::1%"));
  EXPECT_FALSE(parse_dns_server("127.0.0.1%eth0"));
}

TEST(DnsProbe, InvalidNamesAndServersAreNeverSent) {
  std::vector<DnsServer> servers = {*parse_dns_server("127.0.0.1:9"),
                                    DnsServer{"fe80::1", 53, "no-such-interface-qh"}};
  std::vector<DnsQuery> queries = {{0, "bad..zone", DnsRecordType::txt},
                                   {1, "localhost.", DnsRecordType::a},
                                   {7, "localhost.", DnsRecordType::a}};
  Expected<std::vector<DnsResult>> results = probe_dns(servers, queries, DnsProbeOptions{});
  ASSERT_TRUE(results);
  ASSERT_EQ(results->size(), 3u);
  EXPECT_EQ((*results)[0].outcome, DnsOutcome::other);
  EXPECT_NE((*results)[0].detail.find("not queried"), std::string::npos);
  EXPECT_EQ((*results)[0].latency_ms, 0);
  EXPECT_EQ((*results)[1].outcome, DnsOutcome::other);
  EXPECT_NE((*results)[1].detail.find("no-such-interface-qh"), std::string::npos);
  EXPECT_EQ((*results)[2].outcome, DnsOutcome::other);
}

TEST(DnsProbe, OutcomeNames) {
  EXPECT_EQ(dns_outcome_name(DnsOutcome::servfail), "servfail");
  EXPECT_EQ(dns_outcome_name(DnsOutcome::unreachable), "unreachable");
  EXPECT_EQ(dns_record_type_name(DnsRecordType::txt), "TXT");
}

}  // namespace
}  // namespace qharden
