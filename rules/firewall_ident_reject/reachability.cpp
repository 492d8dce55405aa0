#include "firewall_ident_reject/reachability.h"

#include <algorithm>

namespace qharden {
namespace {

constexpr int kMaximumDepth = 64;
// Rules visited per base chain: chains that jump to each other repeatedly could
// otherwise take exponential time on a hostile or broken ruleset.
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

struct Walker {
  const NetfilterTable& table;
  mutable int steps = 0;

  const NetfilterChain* find_chain(const std::string& name) const {
    for (const NetfilterChain& chain : table.chains) {
      if (chain.name == name) return &chain;
    }
    return nullptr;
  }

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

  Walk walk(const NetfilterChain& chain, bool certain, int depth) const {
    Walk result;
    for (const NetfilterRule& rule : chain.rules) {
      if (++steps > kMaximumSteps) {
        result.ending = Ending::unknown;
        result.rule = &rule;
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
          if (target == nullptr || depth >= kMaximumDepth) {
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
    Walk walk = Walker{*base.table}.walk(*base.chain, true, 0);
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
      Walk tied = Walker{*bases[other].table}.walk(*bases[other].chain, true, 0);
      bool drops = tied.ending == Ending::drop || !tied.partial_drops.empty() ||
                   ((tied.ending == Ending::none || tied.ending == Ending::back) &&
                    bases[other].chain->policy == VerdictKind::drop);
      if (drops) {
        earlier_problems.push_back("may drop it first: " + describe(bases[other]) +
                                   " runs at the same priority, in no promised order");
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
        const NetfilterChain* target = Walker{*base.table}.find_chain(rule.target);
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
