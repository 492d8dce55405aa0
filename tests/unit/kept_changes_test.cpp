// Which applied fixes the agent keeps, from journals written by hand: apply
// opts a (rule, subject) in, rollback opts it out, in the order they happened.
#include <gtest/gtest.h>

#include "engine/kept_changes.h"

namespace qharden {
namespace {

JournalEntry entry(std::string rule, std::string subject, std::string state) {
  JournalEntry made;
  made.rule = std::move(rule);
  made.subject = std::move(subject);
  made.state = std::move(state);
  return made;
}

JournalChange change(std::string id, std::string status, std::vector<JournalEntry> entries,
                     std::string rolled_back_after = "") {
  JournalChange made;
  made.id = std::move(id);
  made.created_at = "2026-12-01T10:00:0" + made.id.substr(made.id.size() - 1) + "Z";
  made.status = std::move(status);
  made.entries = std::move(entries);
  made.rolled_back_after = std::move(rolled_back_after);
  return made;
}

constexpr const char* kFirst = "20261201T100001Z-0001";
constexpr const char* kSecond = "20261201T100002Z-0002";
constexpr const char* kThird = "20261201T100003Z-0003";

struct Case {
  const char* name;
  std::vector<JournalChange> journal;
  std::vector<KeptChange> kept;
};

TEST(KeptChanges, ReplaysTheJournalInTheOrderThingsHappened) {
  std::vector<Case> cases = {
      {"an empty journal keeps nothing", {}, {}},
      {"an applied change is kept",
       {change(kFirst, "applied", {entry("tcp-env.flags", "/etc/xinetd.d/smtp_psa", "applied")})},
       {{kFirst, "tcp-env.flags", "/etc/xinetd.d/smtp_psa"}}},
      {"a fix its own verification undid is not",
       {change(kFirst, "partial",
               {entry("tcp-env.flags", "/etc/xinetd.d/smtp_psa", "undone"),
                entry("sysctl.tcp-fin-timeout", "/proc/sys/net/ipv4/tcp_fin_timeout", "applied")})},
       {{kFirst, "sysctl.tcp-fin-timeout", "/proc/sys/net/ipv4/tcp_fin_timeout"}}},
      {"failed, refused and unknown entries are not",
       {change(kFirst, "failed",
               {entry("a", "1", "failed"), entry("b", "2", "unknown"),
                entry("c", "3", "not-applied"), entry("d", "4", "pending")})},
       {}},
      {"a rolled-back change is not kept",
       {change(kFirst, "rolled-back", {entry("firewall.ident-reject", "ipv4", "rolled-back")},
               kFirst)},
       {}},
      {"a later re-apply is the change that keeps it",
       {change(kFirst, "applied", {entry("tcp-env.flags", "/f", "applied")}),
        change(kSecond, "applied", {entry("tcp-env.flags", "/f", "applied")})},
       {{kSecond, "tcp-env.flags", "/f"}}},
      {"rolling back the re-apply opts out, although the first apply still stands",
       {change(kFirst, "applied", {entry("tcp-env.flags", "/f", "applied")}),
        change(kSecond, "rolled-back", {entry("tcp-env.flags", "/f", "rolled-back")}, kSecond)},
       {}},
      {"an apply after a rollback opts in again",
       {change(kFirst, "rolled-back", {entry("tcp-env.flags", "/f", "rolled-back")}, kFirst),
        change(kSecond, "applied", {entry("tcp-env.flags", "/f", "applied")})},
       {{kSecond, "tcp-env.flags", "/f"}}},
      {"a rollback made after a later apply opts out that later one's subject too",
       {change(kFirst, "rolled-back", {entry("tcp-env.flags", "/f", "rolled-back")}, kSecond),
        change(kSecond, "applied", {entry("tcp-env.flags", "/f", "applied")})},
       {}},
      {"a rollback only opts out its own subjects",
       {change(kFirst, "applied",
               {entry("tcp-env.flags", "/f", "applied"),
                entry("firewall.ident-reject", "ipv4", "applied")}),
        change(kSecond, "rolled-back", {entry("tcp-env.flags", "/f", "rolled-back")}, kSecond)},
       {{kFirst, "firewall.ident-reject", "ipv4"}}},
      {"a fix undone by verification in a change rolled back later opts nothing out",
       {change(kFirst, "applied", {entry("tcp-env.flags", "/f", "applied")}),
        change(kSecond, "rolled-back",
               {entry("tcp-env.flags", "/f", "undone"), entry("sysctl.x", "/s", "rolled-back")},
               kSecond)},
       {{kFirst, "tcp-env.flags", "/f"}}},
      {"a rollback that stopped half-way opts out what it restored",
       {change(kFirst, "applied", {entry("a", "1", "rolled-back"), entry("b", "2", "applied")},
               kThird),
        change(kThird, "applied", {entry("c", "3", "applied")})},
       {{kFirst, "b", "2"}, {kThird, "c", "3"}}},
      {"journals from before entries were marked rolled-back: the change status tells",
       {change(kFirst, "applied", {entry("a", "1", "applied")}),
        change(kSecond, "rolled-back", {entry("a", "1", "undone")})},
       {}},
  };
  for (const Case& each : cases) {
    EXPECT_EQ(kept_changes(each.journal), each.kept) << each.name;
  }
}

TEST(KeptChanges, ARollbackAfterARemovedChangeKeepsItsPlace) {
  // Journal retention may remove the change a rollback names as the newest at
  // its time; ids sort in time order, so the rollback still falls after the
  // changes made before it and before the ones made after it.
  std::vector<JournalChange> journal = {
      change(kFirst, "rolled-back", {entry("tcp-env.flags", "/f", "rolled-back")},
             "20261201T100002Z-0002b"),
      change(kSecond, "applied", {entry("tcp-env.flags", "/f", "applied")}),
      change(kThird, "applied", {entry("tcpserver.flags", "/run", "applied")})};
  // kSecond < the removed id < kThird: the rollback opts /f out after the
  // second change applied it.
  EXPECT_EQ(kept_changes(journal), (std::vector<KeptChange>{{kThird, "tcpserver.flags", "/run"}}));
}

TEST(KeptChanges, OldJournalsPlaceARollbackByItsTime) {
  JournalChange first = change(kFirst, "rolled-back", {entry("a", "1", "undone")});
  first.rolled_back_at = "2026-12-01T10:00:05Z";  // after the second change was made
  JournalChange second = change(kSecond, "applied", {entry("a", "1", "applied")});
  EXPECT_TRUE(kept_changes({first, second}).empty());
  first.rolled_back_at = "2026-12-01T10:00:01Z";  // before it
  std::vector<KeptChange> expected{{kSecond, "a", "1"}};
  EXPECT_EQ(kept_changes({first, second}), expected);
}

TEST(KeptChanges, OrderOfTheListDoesNotMatter) {
  std::vector<JournalChange> journal = {
      change(kSecond, "applied", {entry("a", "1", "applied")}),
      change(kFirst, "applied", {entry("a", "1", "applied")}),
  };
  std::vector<KeptChange> expected{{kSecond, "a", "1"}};
  EXPECT_EQ(kept_changes(journal), expected);
  EXPECT_EQ(kept_subjects(expected).count({"a", "1"}), 1u);
}

}  // namespace
}  // namespace qharden
