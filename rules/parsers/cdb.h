// A read-only reader for djb's constant database format (cdb), which tcprules
// and qmail-newmrh write: a 2048-byte header of 256 (table position, slot
// count) pairs, the records from byte 2048 on (key length, data length, key,
// data; lengths are little-endian 32-bit), then the hash tables. Every offset
// is checked against the file's size, so a truncated or hostile file is an
// error naming the file, never a read out of bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"

namespace qharden {

struct CdbRecord {
  std::string key;
  std::string data;
};

inline constexpr std::size_t kCdbHeaderBytes = 2048;
inline constexpr std::size_t kCdbMaximumRecords = 1000000;

std::uint32_t cdb_hash(std::string_view key);

// Every record in file order (a key may repeat; lookups see the first one).
Expected<std::vector<CdbRecord>> read_cdb_records(std::string_view bytes, const std::string& name);

// The data of the first record with this key, found through the hash tables as
// cdb_find does; nullopt when there is none.
Expected<std::optional<std::string>> cdb_find(std::string_view bytes, std::string_view key,
                                              const std::string& name);

}  // namespace qharden
