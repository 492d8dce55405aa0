// Any byte string must read without crashing as iptables-save text and as nft
// JSON, for both families, and the verdict built from whatever was read must
// be self-consistent: a deciding REJECT or DROP names its rule and chain, the
// owned nft chain's priority is below every output chain, and a fix, when one
// is chosen, carries commands whose undo is not empty.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "firewall_ident_reject/ident_fix.h"
#include "firewall_ident_reject/reachability.h"
#include "host/netfilter.h"

namespace {

void check_tables(const std::vector<qharden::NetfilterTable>& tables, qharden::IpFamily family) {
  qharden::IdentVerdict verdict = qharden::evaluate_ident(tables);
  bool decided =
      verdict.fate == qharden::IdentFate::rejected || verdict.fate == qharden::IdentFate::dropped;
  if (decided && (verdict.rule.empty() || verdict.where.empty())) __builtin_trap();
  if (verdict.fate == qharden::IdentFate::rejected && !verdict.shadows.empty()) __builtin_trap();
  if (verdict.lowest_output_priority > 0) __builtin_trap();
  int owned_priority = qharden::owned_nft_priority(tables);
  if (owned_priority >= 0 || owned_priority >= verdict.lowest_output_priority) __builtin_trap();
  qharden::NetfilterSnapshot snapshot;
  snapshot.family = family;
  snapshot.tables = tables;
  snapshot.iptables_program = "iptables";
  snapshot.nft_available = true;
  qharden::Expected<qharden::IdentFix> fix = qharden::choose_ident_fix(snapshot);
  if (fix) {
    if (fix->commands.empty()) __builtin_trap();
    for (const qharden::CommandRun& command : fix->commands) {
      if (command.argv.empty() || command.undo_argv.empty()) __builtin_trap();
    }
  } else if (fix.error().message.empty()) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (qharden::IpFamily family : {qharden::IpFamily::ipv4, qharden::IpFamily::ipv6}) {
    auto saved = qharden::parse_iptables_save(text, family, "iptables-nft");
    if (saved) check_tables(*saved, family);
    auto listed = qharden::parse_nft_json(text, family, {"ip filter"});
    if (listed) check_tables(*listed, family);
  }
  (void)qharden::iptables_save_backend(text);
  return 0;
}
