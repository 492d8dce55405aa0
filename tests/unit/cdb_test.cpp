#include <gtest/gtest.h>

#include <cstring>

#include "parsers/cdb.h"

namespace qharden {
namespace {

void put(std::string& bytes, std::size_t offset, std::uint32_t value) {
  for (int index = 0; index < 4; ++index) {
    bytes[offset + index] = static_cast<char>((value >> (8 * index)) & 0xff);
  }
}

// A cdb built the way cdbmake lays it out, for the given records.
std::string make_cdb(const std::vector<CdbRecord>& records) {
  std::string bytes(kCdbHeaderBytes, '\0');
  std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> buckets(256);
  for (const CdbRecord& record : records) {
    std::uint32_t position = static_cast<std::uint32_t>(bytes.size());
    std::string head(8, '\0');
    put(head, 0, static_cast<std::uint32_t>(record.key.size()));
    put(head, 4, static_cast<std::uint32_t>(record.data.size()));
    bytes += head + record.key + record.data;
    std::uint32_t hash = cdb_hash(record.key);
    buckets[hash & 255].push_back({hash, position});
  }
  for (std::size_t table = 0; table < 256; ++table) {
    std::uint32_t slots = static_cast<std::uint32_t>(buckets[table].size() * 2);
    put(bytes, table * 8, static_cast<std::uint32_t>(bytes.size()));
    put(bytes, table * 8 + 4, slots);
    std::string area(slots * 8, '\0');
    for (const auto& [hash, position] : buckets[table]) {
      std::uint32_t slot = (hash >> 8) % slots;
      while (area[slot * 8 + 4] != 0 || area[slot * 8 + 5] != 0 || area[slot * 8 + 6] != 0 ||
             area[slot * 8 + 7] != 0) {
        slot = (slot + 1) % slots;
      }
      put(area, slot * 8, hash);
      put(area, slot * 8 + 4, position);
    }
    bytes += area;
  }
  return bytes;
}

TEST(Cdb, ReadsRecordsInOrderAndFindsTheFirst) {
  std::string bytes = make_cdb({{"127.", "+RELAYCLIENT="}, {"", "D"}, {"127.", "second"}});
  Expected<std::vector<CdbRecord>> records = read_cdb_records(bytes, "t.cdb");
  ASSERT_TRUE(records) << records.error().message;
  ASSERT_EQ(records->size(), 3U);
  EXPECT_EQ((*records)[1].key, "");
  Expected<std::optional<std::string>> found = cdb_find(bytes, "127.", "t.cdb");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->value_or("none"), "+RELAYCLIENT=");
  Expected<std::optional<std::string>> missing = cdb_find(bytes, "10.", "t.cdb");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(Cdb, EmptyDatabase) {
  Expected<std::vector<CdbRecord>> records = read_cdb_records(make_cdb({}), "t.cdb");
  ASSERT_TRUE(records);
  EXPECT_TRUE(records->empty());
}

TEST(Cdb, EveryTruncationIsAnErrorNotACrash) {
  std::string bytes = make_cdb({{"1.2.3.4", "+RELAYCLIENT="}, {"=", ""}});
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    std::string cut = bytes.substr(0, size);
    Expected<std::vector<CdbRecord>> records = read_cdb_records(cut, "t.cdb");
    EXPECT_FALSE(records) << size;
    if (!records) {
      EXPECT_NE(records.error().message.find("t.cdb: "), std::string::npos);
    }
    (void)cdb_find(cut, "1.2.3.4", "t.cdb");
  }
}

TEST(Cdb, RecordLengthPastTheEndIsAnError) {
  std::string bytes = make_cdb({{"k", "v"}});
  put(bytes, kCdbHeaderBytes + 4, 0xfffffff0U);  // the data length
  EXPECT_FALSE(read_cdb_records(bytes, "t.cdb"));
  EXPECT_FALSE(cdb_find(bytes, "k", "t.cdb"));
}

}  // namespace
}  // namespace qharden
