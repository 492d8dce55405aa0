// Any byte string must parse without crashing; a parsed count is never
// negative, and an error always names the file.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "host/sockstat.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::Expected<qharden::SockstatTcp> counts = qharden::parse_sockstat(text, "sockstat");
  if (counts) {
    if (counts->time_wait < 0 || counts->in_use < 0 || counts->orphan < 0 ||
        counts->allocated < 0) {
      __builtin_trap();
    }
  } else if (counts.error().message.rfind("sockstat", 0) != 0) {
    __builtin_trap();
  }
  return 0;
}
