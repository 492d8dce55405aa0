// How xinetd compares and reads the words of its configuration, shared by
// the parsers of its attributes so that all follow the same C library calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qharden {

// xinetd's EQ(): strcasecmp.
bool xinetd_equals(std::string_view left, std::string_view right);

// parse_int and parse_ull (util.c): strtol or strtoull over the whole word,
// base 10, refused on overflow. strtoull takes a sign too and negates in
// unsigned arithmetic, so "-1" is its largest value.
std::optional<long> xinetd_strtol(const std::string& word);
std::optional<unsigned long long> xinetd_strtoull(const std::string& word);

}  // namespace qharden
