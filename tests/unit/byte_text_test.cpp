#include <gtest/gtest.h>

#include "parsers/byte_text.h"

namespace qharden {
namespace {

TEST(ByteText, Base64RoundTripsEveryLengthAndByte) {
  std::string bytes;
  for (int value = 0; value < 256; ++value) bytes += static_cast<char>(value);
  for (std::size_t length = 0; length <= bytes.size(); length += 7) {
    std::string part = bytes.substr(0, length);
    std::optional<std::string> decoded = base64_decode(base64_encode(part));
    ASSERT_TRUE(decoded) << length;
    EXPECT_EQ(*decoded, part) << length;
  }
  EXPECT_EQ(base64_encode("qharden"), "cWhhcmRlbg==");
}

TEST(ByteText, Base64RejectsWhatIsNotCanonical) {
  for (const char* bad : {"cWhhcmRlbg=", "cWhhcmRlbh==", "cWh!cmRl", "====", "cW=hcmRl"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

TEST(ByteText, Utf8ValidityFollowsWhatJsonAccepts) {
  EXPECT_TRUE(is_valid_utf8("plain /etc/xinetd.d/smtp_psa"));
  EXPECT_TRUE(is_valid_utf8("Gr\xc3\xbc\xc3\x9f\x65 \xe2\x82\xac \xf0\x9f\x93\xa7"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // cut short
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
}

}  // namespace
}  // namespace qharden
