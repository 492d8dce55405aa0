// The config loader must turn any byte string into a Config or a clear error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::Expected<qharden::Config> config = qharden::load_config_from_text(text, "fuzz.toml");
  if (!config && config.error().message.empty()) __builtin_trap();
  return 0;
}
