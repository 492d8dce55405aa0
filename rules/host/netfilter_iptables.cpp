// iptables-save text: "*table", ":CHAIN POLICY [p:b]", "-A CHAIN match... -j TARGET
// options", "COMMIT". Each rule's matches are judged for an ident connect.
#include <algorithm>
#include <charconv>

#include "host/netfilter.h"
#include "host/netfilter_match.h"

namespace qharden {
namespace {

int table_priority(std::string_view table) {
  if (table == "raw") return -300;
  if (table == "mangle") return -150;
  if (table == "nat") return -100;
  if (table == "security") return 50;
  return 0;
}

// Splits a line the way iptables-save quotes it: double quotes, backslash escapes.
std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::size_t position = 0;
  while (position < line.size()) {
    while (position < line.size() && (line[position] == ' ' || line[position] == '\t')) ++position;
    if (position >= line.size()) break;
    std::string word;
    bool quoted = false;
    while (position < line.size() &&
           (quoted || (line[position] != ' ' && line[position] != '\t'))) {
      char character = line[position++];
      if (character == '"') {
        quoted = !quoted;
      } else if (character == '\\' && position < line.size()) {
        word += line[position++];
      } else {
        word += character;
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

bool takes_no_argument(std::string_view option) {
  return option == "--syn" || option == "-f" || option == "--fragment" || option == "--rcheck" ||
         option == "--update" || option == "--set" || option == "--remove" ||
         option == "--rsource" || option == "--rdest";
}

struct RuleReader {
  IpFamily family;
  NetfilterRule rule;
  std::string module;
  Applies applies = Applies::always;

  void judge(Applies one) { applies = combine(applies, one); }

  // Reads one match option at words[index] (negated when `negate`); returns the
  // index of the last word it used.
  std::size_t read_match(const std::vector<std::string>& words, std::size_t index, bool negate) {
    const std::string& option = words[index];
    auto argument = [&](std::size_t offset) -> std::string {
      return index + offset < words.size() ? words[index + offset] : std::string();
    };
    if (option == "-p" || option == "--protocol") {
      judge(negated(protocol_applies(argument(1)), negate));
      return index + 1;
    }
    if (option == "-d" || option == "--destination") {
      judge(negated(destination_applies(argument(1), family), negate));
      return index + 1;
    }
    if (option == "-s" || option == "--source") {
      judge(
          negated(address_is_anything(argument(1)) ? Applies::always : Applies::sometimes, negate));
      return index + 1;
    }
    if (option == "-o" || option == "--out-interface") {
      judge(negated(interface_applies(argument(1)), negate));
      return index + 1;
    }
    if (option == "-i" || option == "--in-interface") {
      // A locally generated packet has no input interface.
      judge(negated(argument(1) == "+" ? Applies::always : Applies::never, negate));
      return index + 1;
    }
    if (option == "-f" || option == "--fragment") {
      judge(negated(Applies::never, negate));
      return index;
    }
    if (option == "-m" || option == "--match") {
      module = argument(1);
      return index + 1;
    }
    if (option == "--dport" || option == "--destination-port") {
      judge(negated(port_list_applies(argument(1)), negate));
      return index + 1;
    }
    if ((option == "--dports" || option == "--destination-ports") && module == "multiport") {
      judge(negated(port_list_applies(argument(1)), negate));
      return index + 1;
    }
    if (option == "--ports" && module == "multiport") {
      // Either port may match: dport 113 makes it certain, otherwise only the
      // ephemeral source port could.
      Applies by_destination = port_list_applies(argument(1));
      judge(negated(by_destination == Applies::always ? Applies::always : Applies::sometimes,
                    negate));
      return index + 1;
    }
    if (option == "--syn") {
      judge(negated(Applies::always, negate));
      return index;
    }
    if (option == "--tcp-flags") {
      judge(negated(syn_flags_apply(argument(1), argument(2)), negate));
      return index + 2;
    }
    if (option == "--state" || option == "--ctstate") {
      judge(negated(connection_state_applies(argument(1)), negate));
      return index + 1;
    }
    if (option == "--comment") {
      if (argument(1) == kOwnedComment) rule.owned = true;
      return index + 1;
    }
    // Anything else (owner, limit, mark, set, ...): this reader cannot tell.
    judge(Applies::sometimes);
    if (takes_no_argument(option)) return index;
    std::size_t last = index;
    while (last + 1 < words.size() && words[last + 1].rfind("-", 0) != 0 &&
           words[last + 1] != "!") {
      ++last;
    }
    return last;
  }

  void read_target(const std::vector<std::string>& words, std::size_t index, bool go_to,
                   const NetfilterTable& table) {
    std::string target = index + 1 < words.size() ? words[index + 1] : "";
    if (go_to) {
      rule.verdict = VerdictKind::go_to;
      rule.target = target;
      return;
    }
    bool declared_chain =
        std::any_of(table.chains.begin(), table.chains.end(),
                    [&](const NetfilterChain& chain) { return chain.name == target; });
    rule.target = target;
    if (target == "ACCEPT" || is_nat_target(target)) {
      rule.verdict = VerdictKind::accept;
    } else if (target == "DROP") {
      rule.verdict = VerdictKind::drop;
    } else if (target == "REJECT") {
      rule.verdict = VerdictKind::reject;
    } else if (target == "RETURN") {
      rule.verdict = VerdictKind::back;
    } else if (declared_chain) {
      rule.verdict = VerdictKind::jump;
    } else if (is_non_terminating_target(target)) {
      rule.verdict = VerdictKind::next;
    } else {
      // An extension target that decides (QUEUE, NFQUEUE, ...), or a chain
      // that is not declared: not modelled.
      rule.verdict = VerdictKind::unknown;
    }
    for (std::size_t option = index + 2; option + 1 < words.size(); ++option) {
      if (words[option] == "--reject-with") rule.reject_with = words[option + 1];
    }
  }
};

}  // namespace

std::optional<std::string> iptables_save_backend(std::string_view text) {
  std::size_t marker = text.find("# Generated by ");
  if (marker == std::string_view::npos) return std::nullopt;
  std::size_t end = text.find('\n', marker);
  std::string_view line =
      text.substr(marker, end == std::string_view::npos ? text.npos : end - marker);
  if (line.find("(nf_tables)") != std::string_view::npos) return std::string("nf_tables");
  if (line.find("(legacy)") != std::string_view::npos) return std::string("legacy");
  return std::string("legacy");  // before 1.8, iptables-save named no backend: only legacy existed
}

Expected<std::vector<NetfilterTable>> parse_iptables_save(std::string_view text, IpFamily family,
                                                          const std::string& source) {
  std::vector<NetfilterTable> tables;
  int line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#' || line == "COMMIT") continue;
    auto problem = [&](const std::string& what) {
      return fail_with(source + "-save line " + std::to_string(line_number) + ": " + what);
    };
    if (line.front() == '*') {
      NetfilterTable table;
      table.source = source;
      table.family = family == IpFamily::ipv4 ? "ip" : "ip6";
      table.name = std::string(line.substr(1));
      tables.push_back(std::move(table));
      continue;
    }
    if (tables.empty()) return problem("a rule or chain before any *table line");
    NetfilterTable& table = tables.back();
    std::vector<std::string> words = split_words(line);
    if (line.front() == ':') {
      if (words.size() < 2) return problem("a chain line without a policy");
      NetfilterChain chain;
      chain.name = words[0].substr(1);
      chain.output_base = chain.name == "OUTPUT";
      chain.priority = table_priority(table.name);
      chain.policy = words[1] == "DROP" ? VerdictKind::drop : VerdictKind::accept;
      table.chains.push_back(std::move(chain));
      continue;
    }
    // A line may start with an empty quoted word (`""`): no counters then.
    std::size_t first =
        !words.empty() && !words[0].empty() && words[0].front() == '[' ? 1 : 0;  // -c counters
    if (words.size() < first + 2 || words[first] != "-A") {
      return problem("not a chain, rule or table line: " + std::string(line.substr(0, 80)));
    }
    auto chain =
        std::find_if(table.chains.begin(), table.chains.end(),
                     [&](const NetfilterChain& each) { return each.name == words[first + 1]; });
    if (chain == table.chains.end())
      return problem("a rule for the undeclared chain " + words[first + 1]);
    RuleReader reader{family, {}, {}, Applies::always};
    // "-A" may be written with quotes or escapes (`-""A`), so it need not
    // appear as such in the line; the rule's text is then the whole line.
    std::size_t append_at = line.find("-A");
    reader.rule.text =
        std::string(append_at == std::string_view::npos ? line : line.substr(append_at));
    bool negate = false;
    for (std::size_t index = first + 2; index < words.size(); ++index) {
      const std::string& word = words[index];
      if (word == "!") {
        negate = true;
        continue;
      }
      if (word == "-j" || word == "--jump" || word == "-g" || word == "--goto") {
        reader.read_target(words, index, word == "-g" || word == "--goto", table);
        break;
      }
      index = reader.read_match(words, index, negate);
      negate = false;
    }
    reader.rule.applies = reader.applies;
    chain->rules.push_back(std::move(reader.rule));
  }
  return tables;
}

}  // namespace qharden
