#include "parsers/xinetd_words.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace qharden {

bool xinetd_equals(std::string_view left, std::string_view right) {
  return left.size() == right.size() &&
         std::equal(left.begin(), left.end(), right.begin(), [](char one, char other) {
           return std::tolower(static_cast<unsigned char>(one)) ==
                  std::tolower(static_cast<unsigned char>(other));
         });
}

namespace {

// parse_int's term of -1: white space may follow the number.
bool only_space_from(const char* end) {
  while (*end != '\0' && std::isspace(static_cast<unsigned char>(*end))) ++end;
  return *end == '\0';
}

}  // namespace

std::optional<long> xinetd_strtol(const std::string& word) {
  if (word.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long value = std::strtol(word.c_str(), &end, 10);
  if (errno != 0 || !only_space_from(end)) return std::nullopt;
  return value;
}

std::optional<unsigned long long> xinetd_strtoull(const std::string& word) {
  if (word.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(word.c_str(), &end, 10);
  if (errno != 0 || !only_space_from(end)) return std::nullopt;
  return value;
}

std::optional<int> xinetd_base10_int(const std::string& word) {
  std::optional<long> value = xinetd_strtol(word);
  if (!value) return std::nullopt;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(*value));
}

}  // namespace qharden
