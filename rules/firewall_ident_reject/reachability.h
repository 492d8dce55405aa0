// Where an ident connect (locally generated TCP SYN to port 113 of a remote
// client) ends up in netfilter: base chains hooked at output run in priority
// order; inside one, rules run in order, through jumps and gotos. ACCEPT ends
// only its own base chain (the next one still runs); DROP and REJECT end the
// packet. The rule passes when every such packet meets a REJECT.
#pragma once

#include <string>
#include <vector>

#include "host/netfilter.h"

namespace qharden {

enum class IdentFate {
  rejected,      // every ident connect meets a REJECT first
  dropped,       // a DROP (or drop policy) decides first: the connect waits
  not_rejected,  // nothing rejects it (it leaves)
  shadowed,      // a REJECT exists, but something earlier accepts or drops some of it
  uncertain,     // a decision this reader does not model comes first
};

struct IdentVerdict {
  IdentFate fate = IdentFate::not_rejected;
  std::string rule;                  // the deciding rule (or "policy drop of ...")
  std::string where;                 // "iptables-nft ip filter OUTPUT (priority 0)"
  std::string reject_with;           // of a REJECT that decides
  bool owned = false;                // the deciding REJECT is qharden's own
  std::vector<std::string> shadows;  // what runs earlier and decides for some of it
  std::vector<std::string> partial_rejects;
  int lowest_output_priority = 0;  // of every output base chain seen (0 when none)
};

IdentVerdict evaluate_ident(const std::vector<NetfilterTable>& tables);

std::string_view to_string(IdentFate fate);

}  // namespace qharden
