#include "parsers/cdb.h"

#include <algorithm>

namespace qharden {
namespace {

std::uint32_t unpack(std::string_view bytes, std::size_t offset) {
  auto byte = [&](std::size_t index) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[offset + index]));
  };
  return byte(0) | (byte(1) << 8) | (byte(2) << 16) | (byte(3) << 24);
}

// Reads the (first, second) 32-bit pair at offset, if it lies inside bytes.
bool read_pair(std::string_view bytes, std::uint64_t offset, std::uint32_t& first,
               std::uint32_t& second) {
  if (offset > bytes.size() || bytes.size() - offset < 8) return false;
  first = unpack(bytes, static_cast<std::size_t>(offset));
  second = unpack(bytes, static_cast<std::size_t>(offset) + 4);
  return true;
}

Unexpected corrupt(const std::string& name, const std::string& why) {
  return fail_with(name + ": not a readable cdb: " + why);
}

}  // namespace

std::uint32_t cdb_hash(std::string_view key) {
  std::uint32_t hash = 5381;
  for (char character : key) {
    hash = ((hash << 5) + hash) ^ static_cast<unsigned char>(character);
  }
  return hash;
}

Expected<std::vector<CdbRecord>> read_cdb_records(std::string_view bytes, const std::string& name) {
  if (bytes.size() < kCdbHeaderBytes) return corrupt(name, "shorter than its 2048-byte header");
  std::uint64_t records_end = bytes.size();
  for (std::size_t table = 0; table < 256; ++table) {
    std::uint32_t position = unpack(bytes, table * 8);
    std::uint32_t slots = unpack(bytes, table * 8 + 4);
    if (position < kCdbHeaderBytes ||
        static_cast<std::uint64_t>(position) + static_cast<std::uint64_t>(slots) * 8 >
            bytes.size()) {
      return corrupt(name, "hash table " + std::to_string(table) + " lies outside the file");
    }
    records_end = std::min<std::uint64_t>(records_end, position);
  }
  std::vector<CdbRecord> records;
  std::uint64_t offset = kCdbHeaderBytes;
  while (offset < records_end) {
    std::uint32_t key_length = 0;
    std::uint32_t data_length = 0;
    if (!read_pair(bytes, offset, key_length, data_length) || offset + 8 > records_end) {
      return corrupt(name, "record at byte " + std::to_string(offset) + " is cut off");
    }
    std::uint64_t key_start = offset + 8;
    std::uint64_t record_end = key_start + key_length + data_length;
    if (record_end > records_end) {
      return corrupt(name, "record at byte " + std::to_string(offset) + " runs past the records");
    }
    if (records.size() >= kCdbMaximumRecords) {
      return corrupt(name, "more than " + std::to_string(kCdbMaximumRecords) + " records");
    }
    records.push_back(CdbRecord{std::string(bytes.substr(key_start, key_length)),
                                std::string(bytes.substr(key_start + key_length, data_length))});
    offset = record_end;
  }
  return records;
}

Expected<std::optional<std::string>> cdb_find(std::string_view bytes, std::string_view key,
                                              const std::string& name) {
  if (bytes.size() < kCdbHeaderBytes) return corrupt(name, "shorter than its 2048-byte header");
  std::uint32_t hash = cdb_hash(key);
  std::uint32_t table_position = 0;
  std::uint32_t slots = 0;
  read_pair(bytes, (hash & 255) * 8, table_position, slots);
  if (slots == 0) return std::optional<std::string>{};
  if (static_cast<std::uint64_t>(table_position) + static_cast<std::uint64_t>(slots) * 8 >
      bytes.size()) {
    return corrupt(name, "hash table " + std::to_string(hash & 255) + " lies outside the file");
  }
  std::uint32_t slot = (hash >> 8) % slots;
  for (std::uint32_t tried = 0; tried < slots; ++tried) {
    std::uint32_t slot_hash = 0;
    std::uint32_t record_position = 0;
    read_pair(bytes, static_cast<std::uint64_t>(table_position) + slot * 8ULL, slot_hash,
              record_position);
    if (record_position == 0) return std::optional<std::string>{};
    if (slot_hash == hash) {
      std::uint32_t key_length = 0;
      std::uint32_t data_length = 0;
      if (!read_pair(bytes, record_position, key_length, data_length)) {
        return corrupt(name, "a slot points past the end of the file");
      }
      std::uint64_t key_start = static_cast<std::uint64_t>(record_position) + 8;
      if (key_start + key_length + data_length > bytes.size()) {
        return corrupt(name, "record at byte " + std::to_string(record_position) +
                                 " runs past the end of the file");
      }
      if (bytes.substr(key_start, key_length) == key) {
        return std::optional<std::string>(
            std::string(bytes.substr(key_start + key_length, data_length)));
      }
    }
    slot = slot + 1 == slots ? 0 : slot + 1;
  }
  return std::optional<std::string>{};
}

}  // namespace qharden
