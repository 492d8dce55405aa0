// What reaches the fixer from its socket must never crash it: any byte string
// is either refused with a message or decoded into a request that encodes and
// decodes to itself. The responses the agent reads are held to the same.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fixer/protocol.h"

namespace {

bool same(const qharden::fixer::Request& left, const qharden::fixer::Request& right) {
  return left.operation == right.operation && left.root == right.root &&
         left.config_file == right.config_file && left.caller == right.caller &&
         left.rules == right.rules && left.rules_named == right.rules_named &&
         left.only_kept == right.only_kept && left.reload == right.reload &&
         left.change_id == right.change_id && left.commands == right.commands &&
         left.timeout_ms == right.timeout_ms && left.inode_groups == right.inode_groups &&
         left.pid == right.pid;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::Expected<qharden::fixer::Request> request = qharden::fixer::decode_request(text);
  if (!request) {
    if (request.error().message.empty()) __builtin_trap();
  } else {
    qharden::Expected<qharden::fixer::Request> again =
        qharden::fixer::decode_request(qharden::fixer::encode_request(*request));
    if (!again || !same(*request, *again)) __builtin_trap();
  }
  // The agent's side: each decoder refuses or succeeds, never crashes.
  (void)qharden::fixer::decode_apply_result(text);
  (void)qharden::fixer::decode_rollback_result(text);
  (void)qharden::fixer::decode_command_results(text);
  (void)qharden::fixer::decode_owner_scan(text);
  (void)qharden::fixer::decode_process_details(text);
  return 0;
}
