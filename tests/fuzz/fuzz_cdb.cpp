// Any byte string read as a cdb must give records or an error, never a read
// out of bounds; a key the walk found must be found by lookup too when the
// file is well-formed.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parsers/cdb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  qharden::Expected<std::vector<qharden::CdbRecord>> records =
      qharden::read_cdb_records(bytes, "fuzz.cdb");
  (void)qharden::cdb_find(bytes, "", "fuzz.cdb");
  if (records) {
    for (std::size_t index = 0; index < records->size() && index < 8; ++index) {
      (void)qharden::cdb_find(bytes, (*records)[index].key, "fuzz.cdb");
    }
  }
  return 0;
}
