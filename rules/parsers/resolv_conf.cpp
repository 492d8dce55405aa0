#include "parsers/resolv_conf.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <climits>

namespace qharden {
namespace {

bool is_blank(char character) {
  return character == ' ' || character == '\t';
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) newline = text.size();
    lines.push_back(text.substr(start, newline - start));
    start = newline + 1;
  }
  return lines;
}

std::vector<std::string_view> split_blanks(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t position = 0;
  while (position < text.size()) {
    while (position < text.size() && is_blank(text[position])) ++position;
    std::size_t start = position;
    while (position < text.size() && !is_blank(text[position])) ++position;
    if (position > start) words.push_back(text.substr(start, position - start));
  }
  return words;
}

// Control characters shown escaped, so a stray CR is visible in a message.
std::string printable(std::string_view text) {
  std::string shown;
  for (char character : text) {
    auto byte = static_cast<unsigned char>(character);
    if (character == '\r') {
      shown += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      shown += "\\x";
      shown += kHex[byte >> 4];
      shown += kHex[byte & 0xf];
    } else {
      shown += character;
    }
  }
  return shown;
}

bool has_space_character(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char character) {
    return std::isspace(static_cast<unsigned char>(character));
  });
}

// glibc accepts what inet_aton accepts ("127.1", octal, hex) but nothing after
// it; IPv6 may carry a %scope, whose errors glibc ignores.
std::optional<ResolvNameserver> read_address(std::string_view written) {
  if (written.empty() || has_space_character(written)) return std::nullopt;
  std::string text(written);
  char buffer[INET6_ADDRSTRLEN] = {};
  in_addr ipv4{};
  if (::inet_aton(text.c_str(), &ipv4) != 0) {
    ::inet_ntop(AF_INET, &ipv4, buffer, sizeof buffer);
    return ResolvNameserver{buffer, 0, false};
  }
  std::size_t percent = text.find('%');
  std::string address_part = text.substr(0, percent);
  in6_addr ipv6{};
  if (address_part.empty() || ::inet_pton(AF_INET6, address_part.c_str(), &ipv6) != 1) {
    return std::nullopt;
  }
  ::inet_ntop(AF_INET6, &ipv6, buffer, sizeof buffer);
  std::string canonical = buffer;
  if (percent != std::string::npos && percent + 1 < text.size()) {
    canonical += text.substr(percent);
  }
  return ResolvNameserver{canonical, 0, true};
}

// atoi as glibc uses it on option values; nullopt when no digit is there.
std::optional<int> read_leading_number(std::string_view text) {
  std::size_t position = 0;
  bool negative = false;
  if (position < text.size() && (text[position] == '-' || text[position] == '+')) {
    negative = text[position] == '-';
    ++position;
  }
  std::size_t digits_start = position;
  long long value = 0;
  while (position < text.size() && std::isdigit(static_cast<unsigned char>(text[position]))) {
    value = std::min<long long>(value * 10 + (text[position] - '0'), INT_MAX);
    ++position;
  }
  if (position == digits_start) return std::nullopt;
  return static_cast<int>(negative ? -value : value);
}

bool is_known_flag_option(std::string_view option) {
  for (std::string_view known :
       {"rotate", "edns0", "single-request-reopen", "single-request", "no_tld_query",
        "no-tld-query", "no-reload", "use-vc", "trust-ad", "no-aaaa", "strict-error", "debug",
        "inet6", "ip6-bytestring", "ip6-dotint", "no-ip6-dotint", "insecure1", "insecure2",
        "no-check-names"}) {
    if (option == known) return true;
  }
  return false;
}

class ResolvConfReader {
 public:
  explicit ResolvConfReader(ResolvConf& conf) : conf_(conf) {}

  void read_line(std::string_view line, int number) {
    line_ = number;
    std::size_t first = line.find_first_not_of(" \t\r\f\v");
    if (first == std::string_view::npos) return;
    if (line[0] == '#' || line[0] == ';') {
      conf_.comments.emplace_back(line);
      return;
    }
    if (line[first] == '#' || line[first] == ';') return;
    if (first > 0) {
      problem("starts with a blank, so glibc ignores the whole line");
      return;
    }
    std::size_t keyword_end = 0;
    while (keyword_end < line.size() && !is_blank(line[keyword_end])) ++keyword_end;
    std::string_view keyword = line.substr(0, keyword_end);
    std::string_view value = line.substr(keyword_end);
    while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
    bool known = keyword == "nameserver" || keyword == "domain" || keyword == "search" ||
                 keyword == "sortlist" || keyword == "options";
    if (!known) {
      problem("unknown keyword '" + printable(keyword) + "': glibc ignores the line");
    } else if (keyword_end == line.size() || value.empty()) {
      problem("'" + std::string(keyword) + "' without a value: glibc ignores the line");
    } else if (keyword == "nameserver") {
      read_nameserver(split_blanks(value).front());
    } else if (keyword == "domain") {
      conf_.search = {std::string(split_blanks(value).front())};
    } else if (keyword == "search") {
      conf_.search.clear();
      for (std::string_view domain : split_blanks(value)) conf_.search.emplace_back(domain);
    } else if (keyword == "options") {
      for (std::string_view option : split_blanks(value)) read_option(option);
    }
  }

 private:
  void read_nameserver(std::string_view written) {
    std::optional<ResolvNameserver> nameserver = read_address(written);
    if (!nameserver) {
      if (written.size() > 1 && written.back() == '\r' &&
          read_address(written.substr(0, written.size() - 1))) {
        problem("'" + printable(written) +
                "' ends in a carriage return (CRLF): glibc ignores "
                "the line, djbdns's library still reads it");
      } else {
        problem("'" + printable(written) +
                "' is not an IPv4 or IPv6 address: glibc ignores the line");
      }
      return;
    }
    bool dotted_decimal_form = nameserver->ipv6 || nameserver->address == written;
    if (!dotted_decimal_form) {
      problem("'" + std::string(written) + "' is not in dotted-decimal form: glibc reads it as " +
              nameserver->address + ", djbdns's library differently or not at all");
    }
    nameserver->line = line_;
    conf_.nameservers.push_back(std::move(*nameserver));
  }

  void read_option(std::string_view option) {
    conf_.options.emplace_back(option);
    for (std::string_view prefix : {"ndots:", "timeout:", "attempts:"}) {
      if (option.rfind(prefix, 0) != 0) continue;
      std::optional<int> number = read_leading_number(option.substr(prefix.size()));
      if (!number) {
        problem("'" + printable(option) + "' is not a number: glibc reads it as 0");
      }
      int value = number.value_or(0);
      if (prefix == "ndots:") conf_.ndots = std::min(value, 15);
      if (prefix == "timeout:")
        conf_.timeout_seconds = std::min(value, kGlibcMaximumTimeoutSeconds);
      if (prefix == "attempts:") conf_.attempts = std::min(value, kGlibcMaximumAttempts);
      return;
    }
    if (option == "rotate") conf_.rotate = true;
    if (!is_known_flag_option(option)) {
      problem("unknown option '" + printable(option) + "': glibc ignores it");
    }
  }

  void problem(std::string message) {
    conf_.problems.push_back(ResolvProblem{line_, std::move(message)});
  }

  ResolvConf& conf_;
  int line_ = 0;
};

// djbdns's ip4_scan: four decimal numbers with dots between, each kept modulo
// 256, reading stops after the fourth; returns the characters read, or 0.
std::size_t scan_djbdns_ipv4(std::string_view text, std::string& dotted) {
  std::size_t position = 0;
  dotted.clear();
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (position >= text.size() || text[position] != '.') return 0;
      ++position;
      dotted += '.';
    }
    std::size_t start = position;
    unsigned int value = 0;
    while (position < text.size() && std::isdigit(static_cast<unsigned char>(text[position]))) {
      value = (value * 10 + static_cast<unsigned int>(text[position] - '0')) % 256;
      ++position;
    }
    if (position == start) return 0;
    dotted += std::to_string(value);
  }
  return position;
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text) {
  ResolvConf conf;
  ResolvConfReader reader(conf);
  int number = 0;
  for (std::string_view line : split_lines(text)) reader.read_line(line, ++number);
  return conf;
}

std::vector<std::string> glibc_nameservers(const ResolvConf& conf) {
  std::vector<std::string> used;
  for (const ResolvNameserver& nameserver : conf.nameservers) {
    if (used.size() == kGlibcMaximumNameservers) break;
    used.push_back(nameserver.address);
  }
  if (used.empty()) used.push_back("127.0.0.1");
  return used;
}

std::vector<std::string> djbdns_nameservers(std::string_view resolv_conf_text) {
  std::vector<std::string> used;
  for (std::string_view line : split_lines(resolv_conf_text)) {
    if (line.rfind("nameserver", 0) != 0 || line.size() < 11 || !is_blank(line[10])) continue;
    std::string_view value = line.substr(10);
    while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
    std::string dotted;
    if (scan_djbdns_ipv4(value, dotted) == 0) continue;
    if (dotted == "0.0.0.0") dotted = "127.0.0.1";
    if (used.size() < kDjbdnsMaximumNameservers) used.push_back(dotted);
  }
  if (used.empty()) used.push_back("127.0.0.1");
  return used;
}

std::vector<std::string> djbdns_nameservers_from_dnscacheip(std::string_view value) {
  std::vector<std::string> used;
  while (used.size() < kDjbdnsMaximumNameservers) {
    if (!value.empty() && value.front() == '.') {
      value.remove_prefix(1);
      continue;
    }
    std::string dotted;
    std::size_t length = scan_djbdns_ipv4(value, dotted);
    if (length == 0) break;
    used.push_back(dotted);
    value.remove_prefix(length);
  }
  return used;
}

int glibc_worst_case_seconds(int timeout_seconds, int attempts, int nameserver_count) {
  if (attempts <= 0) return 0;
  int count = std::clamp(nameserver_count, 1, kGlibcMaximumNameservers);
  int timeout = std::clamp(timeout_seconds, 0, kGlibcMaximumTimeoutSeconds);
  int per_attempt = 0;
  for (int index = 0; index < count; ++index) {
    int seconds = timeout << index;
    if (index > 0) seconds /= count;
    per_attempt += std::max(seconds, 1);
  }
  return std::min(attempts, kGlibcMaximumAttempts) * per_attempt;
}

int djbdns_worst_case_seconds(int nameserver_count) {
  return 59 * std::clamp(nameserver_count, 1, kDjbdnsMaximumNameservers);
}

}  // namespace qharden
