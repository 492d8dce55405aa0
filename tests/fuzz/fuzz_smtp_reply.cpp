// Any bytes from an SMTP server (a local listener is untrusted input too):
// the probe's reply splitter must never read past them, and a reply it
// returns is always followed by what it consumed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "smtp_open_relay/live.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string received(reinterpret_cast<const char*>(data), size);
  for (int replies = 0; replies < 64; ++replies) {
    std::size_t consumed = 0;
    std::string reply = qharden::complete_reply(received, consumed);
    if (reply.empty()) break;
    if (consumed == 0 || consumed > received.size()) __builtin_trap();
    if (received[consumed - 1] != '\n') __builtin_trap();
    if (reply.size() > consumed) __builtin_trap();
    received.erase(0, consumed);
  }
  return 0;
}
