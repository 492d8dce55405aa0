#include "firewall_ident_reject/reachability.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace qharden {
namespace {

constexpr int kMaximumDepth = 64;
// Rules visited per base chain. Each chain is walked at most twice (from a
// certain and from an uncertain point), so only a ruleset of about this many
// rules reaches it; what is left unwalked is then unknown.
constexpr int kMaximumSteps = 100000;
constexpr std::size_t kMaximumListed = 16;

enum class Ending { none, back, accept, drop, reject, unknown };

struct Walk {
  Ending ending = Ending::none;  // decided for every packet that reached this point
  const NetfilterRule* rule = nullptr;
  std::vector<std::string> partial_accepts;  // decide for some packets only
  std::vector<std::string> partial_drops;
  std::vector<std::string> partial_unknowns;
  std::vector<std::string> partial_rejects;
  std::vector<std::string> returned_by;  // RETURNs that send every packet back
};

// Walks the chains of one table. A chain's walk depends only on the chain and
// on whether every packet reaching it is certain to, so each is walked once and
// remembered: chains that jump to each other repeatedly (3 jumps to the next of
// 40 chains is 3^40 paths) are walked in time linear in the ruleset's size.
class Walker {
 public:
  explicit Walker(const NetfilterTable& table) {
    for (const NetfilterChain& chain : table.chains) chains_by_name_.emplace(chain.name, &chain);
  }

  // The first chain of that name, as netfilter has only one.
  const NetfilterChain* find_chain(const std::string& name) const {
    auto found = chains_by_name_.find(name);
    return found == chains_by_name_.end() ? nullptr : found->second;
  }

  Walk walk(const NetfilterChain& chain, bool certain, int depth) {
    auto key = std::make_pair(&chain, certain);
    if (auto known = walked_.find(key); known != walked_.end()) return known->second;
    Walk result = walk_rules(chain, certain, depth);
    // A walk cut short by depth or a loop is remembered too: it holds an
    // unknown ending, which stays on the safe side wherever it is reused,
    // and the kernel loads neither a loop nor such depth anyway.
    walked_.emplace(key, result);
    return result;
  }

 private:
  std::unordered_map<std::string_view, const NetfilterChain*> chains_by_name_;
  std::map<std::pair<const NetfilterChain*, bool>, Walk> walked_;
  std::vector<const NetfilterChain*> in_progress_;
  int steps_ = 0;

  static void merge_partials(Walk& into, const Walk& from) {
    auto append = [](std::vector<std::string>& to, const std::vector<std::string>& more) {
      for (const std::string& each : more) {
        if (to.size() >= kMaximumListed) return;
        if (std::find(to.begin(), to.end(), each) == to.end()) to.push_back(each);
      }
    };
    append(into.partial_accepts, from.partial_accepts);
    append(into.partial_drops, from.partial_drops);
    append(into.partial_unknowns, from.partial_unknowns);
    append(into.partial_rejects, from.partial_rejects);
    append(into.returned_by, from.returned_by);
  }

  static void record_partial(Walk& walk, Ending ending, const std::string& text) {
    std::vector<std::string>* list = nullptr;
    if (ending == Ending::accept) list = &walk.partial_accepts;
    if (ending == Ending::drop) list = &walk.partial_drops;
    if (ending == Ending::reject) list = &walk.partial_rejects;
    if (ending == Ending::unknown) list = &walk.partial_unknowns;
    if (list == nullptr || list->size() >= kMaximumListed) return;
    if (std::find(list->begin(), list->end(), text) == list->end()) list->push_back(text);
  }

  Walk walk_rules(const NetfilterChain& chain, bool certain, int depth) {
    in_progress_.push_back(&chain);
    Walk result = walk_rules_in_progress(chain, certain, depth);
    in_progress_.pop_back();
    return result;
  }

  Walk walk_rules_in_progress(const NetfilterChain& chain, bool certain, int depth) {
    Walk result;
    for (const NetfilterRule& rule : chain.rules) {
      if (++steps_ > kMaximumSteps) {
        // Out of budget: the rest decides nothing this reader knows of, for
        // every packet here when it is certain to be here, else for some.
        if (certain) {
          result.ending = Ending::unknown;
          result.rule = &rule;
        } else {
          record_partial(result, Ending::unknown, rule.text);
        }
        return result;
      }
      if (rule.applies == Applies::never) continue;
      bool sure = certain && rule.applies == Applies::always;
      Ending ending = Ending::none;
      switch (rule.verdict) {
        case VerdictKind::next:
          continue;
        case VerdictKind::accept:
          ending = Ending::accept;
          break;
        case VerdictKind::drop:
          ending = Ending::drop;
          break;
        case VerdictKind::reject:
          ending = Ending::reject;
          break;
        case VerdictKind::unknown:
          ending = Ending::unknown;
          break;
        case VerdictKind::back:
          ending = Ending::back;
          break;
        case VerdictKind::jump:
        case VerdictKind::go_to: {
          const NetfilterChain* target = find_chain(rule.target);
          bool loops =
              std::find(in_progress_.begin(), in_progress_.end(), target) != in_progress_.end();
          if (target == nullptr || loops || depth >= kMaximumDepth) {
            ending = Ending::unknown;
            break;
          }
          Walk inner = walk(*target, sure, depth + 1);
          merge_partials(result, inner);
          bool decided = inner.ending != Ending::none && inner.ending != Ending::back;
          if (sure && decided) {
            result.ending = inner.ending;
            result.rule = inner.rule;
            return result;
          }
          if (sure && rule.verdict == VerdictKind::go_to) {
            result.ending = Ending::back;
            result.rule = &rule;
            return result;
          }
          continue;
        }
      }
      if (ending == Ending::back) {
        if (sure) {
          result.ending = Ending::back;
          result.rule = &rule;
          if (result.returned_by.size() < kMaximumListed) result.returned_by.push_back(rule.text);
          return result;
        }
        // Some packets return here: nothing later in this chain is certain.
        certain = false;
        continue;
      }
      if (sure) {
        result.ending = ending;
        result.rule = &rule;
        return result;
      }
      record_partial(result, ending, rule.text);
    }
    return result;
  }
};

struct BaseChain {
  const NetfilterTable* table;
  const NetfilterChain* chain;
};

std::string describe(const BaseChain& base) {
  return base.table->source + " " + base.table->family + " " + base.table->name + " " +
         base.chain->name + " (priority " + std::to_string(base.chain->priority) + ")";
}

}  // namespace

std::string_view to_string(IdentFate fate) {
  switch (fate) {
    case IdentFate::rejected:
      return "reject";
    case IdentFate::dropped:
      return "drop";
    case IdentFate::not_rejected:
      return "none";
    case IdentFate::shadowed:
      return "shadowed";
    case IdentFate::uncertain:
      return "uncertain";
  }
  return "uncertain";
}

IdentVerdict evaluate_ident(const std::vector<NetfilterTable>& tables) {
  std::vector<BaseChain> bases;
  for (const NetfilterTable& table : tables) {
    for (const NetfilterChain& chain : table.chains) {
      if (chain.output_base) bases.push_back({&table, &chain});
    }
  }
  std::stable_sort(bases.begin(), bases.end(), [](const BaseChain& left, const BaseChain& right) {
    return left.chain->priority < right.chain->priority;
  });
  IdentVerdict verdict;
  for (const BaseChain& base : bases) {
    verdict.lowest_output_priority = std::min(verdict.lowest_output_priority, base.chain->priority);
  }
  std::vector<std::string> earlier_problems;  // drops and unknowns in earlier base chains
  std::vector<std::string> accepted_by;       // certain ACCEPTs that end a base chain
  for (std::size_t index = 0; index < bases.size(); ++index) {
    const BaseChain& base = bases[index];
    Walk walk = Walker(*base.table).walk(*base.chain, true, 0);
    std::string where = describe(base);
    for (const std::string& rejecting : walk.partial_rejects) {
      verdict.partial_rejects.push_back(rejecting + " in " + where);
    }
    Ending ending = walk.ending;
    const NetfilterRule* rule = walk.rule;
    if (ending == Ending::none || ending == Ending::back) {
      ending = base.chain->policy == VerdictKind::drop ? Ending::drop : Ending::accept;
      rule = nullptr;
    }
    for (const std::string& text : walk.partial_drops)
      earlier_problems.push_back("drops some of it: " + text + " in " + where);
    for (const std::string& text : walk.partial_unknowns)
      earlier_problems.push_back("may decide first: " + text + " in " + where);
    if (ending == Ending::accept) {
      // The next base chain still sees the packet.
      if (rule != nullptr)
        accepted_by.push_back("accepts it first: " + rule->text + " in " + where);
      for (const std::string& text : walk.returned_by) {
        accepted_by.push_back("returns it first: " + text + " in " + where);
      }
      continue;
    }
    verdict.where = where;
    verdict.rule = rule != nullptr ? rule->text : "the chain's policy DROP";
    if (ending == Ending::drop) {
      verdict.fate = IdentFate::dropped;
      verdict.shadows = earlier_problems;
      return verdict;
    }
    if (ending == Ending::unknown) {
      verdict.fate = IdentFate::uncertain;
      verdict.shadows = earlier_problems;
      return verdict;
    }
    verdict.reject_with = rule->reject_with;
    verdict.owned = rule->owned;
    for (const std::string& text : walk.partial_accepts) {
      earlier_problems.push_back("accepts some of it first: " + text + " in " + where);
    }
    // Base chains of one priority run in an order netfilter does not promise.
    for (std::size_t other = index + 1; other < bases.size(); ++other) {
      if (bases[other].chain->priority != base.chain->priority) break;
      Walk tied = Walker(*bases[other].table).walk(*bases[other].chain, true, 0);
      bool drops = tied.ending == Ending::drop || !tied.partial_drops.empty() ||
                   ((tied.ending == Ending::none || tied.ending == Ending::back) &&
                    bases[other].chain->policy == VerdictKind::drop);
      bool unknown = tied.ending == Ending::unknown || !tied.partial_unknowns.empty();
      if (drops) {
        earlier_problems.push_back("may drop it first: " + describe(bases[other]) +
                                   " runs at the same priority, in no promised order");
      } else if (unknown) {
        earlier_problems.push_back("may decide first: " + describe(bases[other]) +
                                   " runs at the same priority, in no promised order, with a "
                                   "verdict this reader does not model");
      }
    }
    verdict.shadows = earlier_problems;
    verdict.fate = earlier_problems.empty() ? IdentFate::rejected : IdentFate::shadowed;
    return verdict;
  }
  verdict.shadows = earlier_problems;
  verdict.fate = IdentFate::not_rejected;
  // A REJECT that an ACCEPT keeps ident connects from is shadowed, not absent.
  // Only chains that output base chains lead to count: INPUT's REJECTs do not.
  if (accepted_by.empty()) return verdict;
  for (const BaseChain& base : bases) {
    Walker chains(*base.table);
    std::vector<const NetfilterChain*> reachable{base.chain};
    for (std::size_t next = 0; next < reachable.size() && reachable.size() < 256; ++next) {
      for (const NetfilterRule& rule : reachable[next]->rules) {
        if (rule.verdict == VerdictKind::reject && rule.applies == Applies::always) {
          verdict.fate = IdentFate::shadowed;
          verdict.rule = rule.text;
          verdict.where = base.table->source + " " + base.table->family + " " + base.table->name +
                          " " + reachable[next]->name;
          verdict.reject_with = rule.reject_with;
          verdict.owned = rule.owned;
          verdict.shadows.insert(verdict.shadows.end(), accepted_by.begin(), accepted_by.end());
          return verdict;
        }
        if (rule.verdict != VerdictKind::jump && rule.verdict != VerdictKind::go_to) continue;
        const NetfilterChain* target = chains.find_chain(rule.target);
        if (target != nullptr &&
            std::find(reachable.begin(), reachable.end(), target) == reachable.end()) {
          reachable.push_back(target);
        }
      }
    }
  }
  return verdict;
}

}  // namespace qharden
