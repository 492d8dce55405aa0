#include "host/sockstat.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

namespace qharden {
namespace {

std::optional<std::int64_t> to_count(std::string_view word) {
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (error != std::errc() || end != word.data() + word.size() || value < 0) return std::nullopt;
  return value;
}

std::string_view next_word(std::string_view& rest) {
  std::size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  std::size_t end = rest.find(' ');
  std::string_view word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return word;
}

}  // namespace

Expected<SockstatTcp> parse_sockstat(std::string_view text, std::string_view source) {
  int line_number = 0;
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    if (line.substr(0, 4) != "TCP:") continue;
    std::string_view rest = line.substr(4);
    SockstatTcp counts;
    bool seen_time_wait = false;
    // Pairs of "name value"; names the kernel may add later are skipped.
    for (;;) {
      std::string_view name = next_word(rest);
      if (name.empty()) break;
      std::string_view word = next_word(rest);
      std::optional<std::int64_t> value = to_count(word);
      if (!value) {
        return fail_with(std::string(source) + ":" + std::to_string(line_number) + ": \"" +
                         std::string(name) + "\" is followed by \"" + std::string(word) +
                         "\", not a count");
      }
      if (name == "inuse") counts.in_use = *value;
      if (name == "orphan") counts.orphan = *value;
      if (name == "alloc") counts.allocated = *value;
      if (name == "tw") {
        counts.time_wait = *value;
        seen_time_wait = true;
      }
    }
    if (!seen_time_wait) {
      return fail_with(std::string(source) + ":" + std::to_string(line_number) +
                       ": the TCP line has no \"tw\" count");
    }
    return counts;
  }
  return fail_with(std::string(source) + ": no \"TCP:\" line");
}

Expected<SockstatTcp> read_sockstat() {
  static constexpr const char* kPath = "/proc/self/net/sockstat";
  int descriptor = ::open(kPath, O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return fail_with(std::string(kPath) + ": " + std::strerror(errno));
  // The file is a few hundred bytes; one page holds all of it.
  char buffer[4096];
  std::size_t filled = 0;
  for (;;) {
    ssize_t received = ::read(descriptor, buffer + filled, sizeof buffer - filled);
    if (received < 0 && errno == EINTR) continue;
    if (received < 0) {
      int number = errno;
      ::close(descriptor);
      return fail_with(std::string(kPath) + ": " + std::strerror(number));
    }
    if (received == 0 || filled + static_cast<std::size_t>(received) == sizeof buffer) {
      filled += static_cast<std::size_t>(received);
      break;
    }
    filled += static_cast<std::size_t>(received);
  }
  ::close(descriptor);
  return parse_sockstat(std::string_view(buffer, filled), kPath);
}

}  // namespace qharden
