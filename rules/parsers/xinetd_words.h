// How xinetd compares and reads the words of its configuration, shared by
// the parsers of its attributes so that all follow the same C library calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qharden {

// xinetd's EQ(): strcasecmp.
bool xinetd_equals(std::string_view left, std::string_view right);

// parse_int and parse_ull (util.c) as parse_base10 and parse_ubase10 call
// them: strtol or strtoull, base 10, refused on overflow or when anything but
// white space follows (a line's \r, \v or \f stays in its last word).
// strtoull takes a sign too and negates in unsigned arithmetic, so "-1" is
// its largest value.
std::optional<long> xinetd_strtol(const std::string& word);
std::optional<unsigned long long> xinetd_strtoull(const std::string& word);

// parse_base10 into an int, as port_parser, instances_parser and
// per_source_parser store it: the long cut to 32 bits.
std::optional<int> xinetd_base10_int(const std::string& word);

}  // namespace qharden
