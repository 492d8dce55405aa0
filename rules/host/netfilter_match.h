// Judging single matches for an ident connect: a locally generated TCP SYN,
// connection state NEW, from an ephemeral port to port 113 of a remote client,
// leaving through some interface other than lo. Shared by the iptables-save and
// nft readers.
#pragma once

#include <string>
#include <string_view>

#include "host/netfilter.h"

namespace qharden {

// Both must hold.
Applies combine(Applies first, Applies second);
Applies negated(Applies applies, bool negate);

Applies protocol_applies(std::string_view protocol);
// "113", "100:200", "25,113,200:300", "auth"; anything unreadable is `sometimes`.
Applies port_list_applies(std::string_view ports);
bool port_set_has_ident(std::string_view ports, bool& readable);
// "10.0.0.0/8", "::/0", "127.0.0.1"
bool address_is_anything(std::string_view address);
Applies destination_applies(std::string_view address, IpFamily family);
Applies interface_applies(std::string_view name);
// "SYN,RST,ACK,FIN" "SYN": does a bare SYN match?
Applies syn_flags_apply(std::string_view mask, std::string_view compare);
// "NEW,ESTABLISHED", "new", "RELATED,ESTABLISHED"
Applies connection_state_applies(std::string_view states);

bool is_non_terminating_target(std::string_view target);
bool is_nat_target(std::string_view target);
std::string upper_case(std::string_view text);

}  // namespace qharden
