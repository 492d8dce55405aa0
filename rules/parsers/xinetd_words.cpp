#include "parsers/xinetd_words.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace qharden {

bool xinetd_equals(std::string_view left, std::string_view right) {
  return left.size() == right.size() &&
         std::equal(left.begin(), left.end(), right.begin(), [](char one, char other) {
           return std::tolower(static_cast<unsigned char>(one)) ==
                  std::tolower(static_cast<unsigned char>(other));
         });
}

// The C library's own calls, as xinetd makes them. A word never holds the
// blanks strtol would skip, and the empty word is refused as xinetd does.
std::optional<long> xinetd_strtol(const std::string& word) {
  if (word.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(word.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return value;
}

std::optional<unsigned long long> xinetd_strtoull(const std::string& word) {
  if (word.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(word.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return value;
}

}  // namespace qharden
