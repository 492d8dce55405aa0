#include "firewall_ident_reject/ident_fix.h"

#include <algorithm>
#include <optional>

#include "firewall_ident_reject/reachability.h"
#include "host/command.h"

namespace qharden {
namespace {

const char* kSurvival =
    "; it is runtime state: qhardend re-asserts it at start and every netfilter_check_s, "
    "so it survives a reboot or a reload without a saved ruleset";

NetfilterRule owned_reject(const std::string& text) {
  NetfilterRule rule;
  rule.applies = Applies::always;
  rule.verdict = VerdictKind::reject;
  rule.reject_with = "tcp-reset";
  rule.text = text;
  rule.owned = true;
  return rule;
}

bool owned_present(const NetfilterSnapshot& snapshot) {
  for (const NetfilterTable& table : snapshot.tables) {
    if (table.source == "nft" && table.family == "inet" && table.name == kOwnedNftTable)
      return true;
    for (const NetfilterChain& chain : table.chains) {
      for (const NetfilterRule& rule : chain.rules) {
        if (rule.owned) return true;
      }
    }
  }
  return false;
}

std::vector<NetfilterTable> with_iptables_rule(std::vector<NetfilterTable> tables,
                                               const std::string& source, IpFamily family,
                                               const std::string& text) {
  std::string table_family = family == IpFamily::ipv4 ? "ip" : "ip6";
  auto table = std::find_if(tables.begin(), tables.end(), [&](const NetfilterTable& each) {
    return each.source == source && each.name == "filter" && each.family == table_family;
  });
  if (table == tables.end()) {
    tables.push_back({source, table_family, "filter", {}});
    table = tables.end() - 1;
  }
  auto chain = std::find_if(table->chains.begin(), table->chains.end(),
                            [](const NetfilterChain& each) { return each.name == "OUTPUT"; });
  if (chain == table->chains.end()) {
    NetfilterChain output;
    output.name = "OUTPUT";
    output.output_base = true;
    table->chains.push_back(output);
    chain = table->chains.end() - 1;
  }
  chain->rules.insert(chain->rules.begin(), owned_reject(text));
  return tables;
}

std::string nft_script(int priority) {
  return "add table inet " + std::string(kOwnedNftTable) +
         " { chain output { type filter hook output priority " + std::to_string(priority) +
         "; policy accept; tcp dport 113 reject with tcp reset comment \"" +
         std::string(kOwnedComment) + "\"; }; }";
}

std::string describe_fate(const IdentVerdict& verdict) {
  std::string text = std::string(to_string(verdict.fate));
  if (!verdict.shadows.empty()) text += ": " + verdict.shadows.front();
  return text;
}

}  // namespace

std::vector<std::string> owned_iptables_rule_words() {
  return {"-p", "tcp",     "--dport",       "113",
          "-m", "comment", "--comment",     std::string(kOwnedComment),
          "-j", "REJECT",  "--reject-with", "tcp-reset"};
}

int owned_nft_priority(const std::vector<NetfilterTable>& tables) {
  int lowest = 0;
  for (const NetfilterTable& table : tables) {
    for (const NetfilterChain& chain : table.chains) {
      if (chain.output_base) lowest = std::min(lowest, chain.priority);
    }
  }
  return lowest - 1;
}

Expected<IdentFix> choose_ident_fix(const NetfilterSnapshot& snapshot) {
  std::string family_word = snapshot.family == IpFamily::ipv4 ? "ipv4" : "ipv6";
  if (owned_present(snapshot)) {
    IdentVerdict now = evaluate_ident(snapshot.tables);
    return fail_with("qharden's own rule (" + std::string(kOwnedComment) +
                     ") is already there for " + family_word + " but does not decide (" +
                     describe_fate(now) +
                     "); adding another would duplicate it: remove or move what runs first, "
                     "or roll back qharden's change and apply again");
  }
  std::vector<std::string> rule_words = owned_iptables_rule_words();
  std::vector<std::string> problems;

  if (snapshot.firewalld_running) {
    std::vector<std::string> add = {"firewall-cmd", "--direct", "--add-rule", family_word,
                                    "filter",       "OUTPUT",   "0"};
    add.insert(add.end(), rule_words.begin(), rule_words.end());
    std::vector<std::string> remove = add;
    remove[2] = "--remove-rule";
    std::vector<std::string> add_permanent = add;
    add_permanent.insert(add_permanent.begin() + 1, "--permanent");
    std::vector<std::string> remove_permanent = remove;
    remove_permanent.insert(remove_permanent.begin() + 1, "--permanent");
    IdentFix fix;
    fix.backend = "firewalld";
    // firewall-cmd --remove-rule of a rule that is gone warns and exits 0:
    // no listing is needed to undo it.
    fix.commands = {{add, remove, {}, ""}, {add_permanent, remove_permanent, {}, ""}};
    fix.summary =
        "add a direct rule through firewalld (runtime and permanent, so a firewalld "
        "reload keeps it): REJECT TCP to port 113 with tcp-reset in OUTPUT (" +
        family_word + ")";
    return fix;
  }

  bool native_output_chains = false;
  bool iptables_rules = false;
  for (const NetfilterTable& table : snapshot.tables) {
    bool has_output = std::any_of(table.chains.begin(), table.chains.end(),
                                  [](const NetfilterChain& chain) { return chain.output_base; });
    if (table.source == "nft" && has_output) native_output_chains = true;
    if (table.source != "nft" && !table.empty_of_rules()) iptables_rules = true;
  }
  auto try_iptables = [&]() -> std::optional<IdentFix> {
    if (snapshot.iptables_program.empty()) return std::nullopt;
    bool legacy = snapshot.iptables_program.find("legacy") != std::string::npos ||
                  std::find(snapshot.backends.begin(), snapshot.backends.end(),
                            "iptables-legacy") != snapshot.backends.end();
    std::vector<std::string> insert = {snapshot.iptables_program, "-I", "OUTPUT", "1"};
    insert.insert(insert.end(), rule_words.begin(), rule_words.end());
    std::vector<std::string> remove = {snapshot.iptables_program, "-D", "OUTPUT"};
    remove.insert(remove.end(), rule_words.begin(), rule_words.end());
    std::string source = legacy ? "iptables-legacy" : "iptables-nft";
    IdentVerdict simulated = evaluate_ident(
        with_iptables_rule(snapshot.tables, source, snapshot.family, describe_argv(insert)));
    if (simulated.fate != IdentFate::rejected) {
      problems.push_back(snapshot.iptables_program +
                         " at the top of filter OUTPUT would still be " + describe_fate(simulated));
      return std::nullopt;
    }
    IdentFix fix;
    fix.backend = "iptables";
    fix.commands = {
        {insert, remove, {snapshot.iptables_program, "-S", "OUTPUT"}, std::string(kOwnedComment)}};
    fix.summary = "insert at the top of OUTPUT (" + snapshot.iptables_program +
                  "): REJECT TCP to port 113 with tcp-reset, comment " +
                  std::string(kOwnedComment) + kSurvival;
    return fix;
  };
  auto try_nft = [&]() -> std::optional<IdentFix> {
    if (!snapshot.nft_available) return std::nullopt;
    int priority = owned_nft_priority(snapshot.tables);
    std::vector<NetfilterTable> simulated_tables = snapshot.tables;
    NetfilterTable owned{"nft", "inet", std::string(kOwnedNftTable), {}};
    NetfilterChain output;
    output.name = "output";
    output.output_base = true;
    output.priority = priority;
    output.rules.push_back(owned_reject(nft_script(priority)));
    owned.chains.push_back(output);
    simulated_tables.push_back(owned);
    IdentVerdict simulated = evaluate_ident(simulated_tables);
    if (simulated.fate != IdentFate::rejected) {
      problems.push_back("an nft table at priority " + std::to_string(priority) +
                         " would still be " + describe_fate(simulated));
      return std::nullopt;
    }
    IdentFix fix;
    fix.backend = "nft";
    fix.commands = {{{"nft", nft_script(priority)},
                     {"nft", "delete", "table", "inet", std::string(kOwnedNftTable)},
                     {"nft", "list", "tables"},
                     "table inet " + std::string(kOwnedNftTable)}};
    fix.summary = "add the nft table inet " + std::string(kOwnedNftTable) +
                  " with an output chain at priority " + std::to_string(priority) +
                  " (before every other output chain) that REJECTs TCP to port 113 with tcp-reset "
                  "for IPv4 and IPv6" +
                  kSurvival;
    return fix;
  };
  // Where the operator's rules already live in nft alone, the owned rule goes
  // there too; otherwise iptables, which is what such hosts are managed with.
  bool nft_first = native_output_chains && !iptables_rules;
  std::optional<IdentFix> fix = nft_first ? try_nft() : try_iptables();
  if (!fix) fix = nft_first ? try_iptables() : try_nft();
  if (fix) return *fix;
  std::string reasons;
  for (const std::string& problem : problems) reasons += (reasons.empty() ? "" : "; ") + problem;
  if (reasons.empty()) reasons = "no iptables or nft binary to add it with";
  return fail_with("no rule qharden could add would be reached for " + family_word + ": " +
                   reasons);
}

}  // namespace qharden
