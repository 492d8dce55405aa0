#include "inventory/service_ports.h"

#include <charconv>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "host/host.h"

namespace qharden {
namespace {

// Known even without /etc/services, as on minimal containers.
const std::map<std::string, int>& mail_ports() {
  static const std::map<std::string, int> ports{
      {"smtp", 25}, {"smtps", 465}, {"ssmtp", 465}, {"submissions", 465}, {"submission", 587}};
  return ports;
}

}  // namespace

std::optional<std::string> read_name_file(const Host& host, const char* path) {
  Expected<std::string> text = host.read_file(path);
  if (!text) return std::nullopt;
  return std::move(*text);
}

void visit_name_file_entries(const std::string& text,
                             const std::function<void(const std::vector<std::string>&)>& visit) {
  // nss_files: a line ends at '\n' (so a CR-only file is one line), a C
  // string at NUL, the entry at '#'; words part at any isspace() byte.
  constexpr std::string_view kSpace = " \t\r\v\f";
  std::vector<std::string> words;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::string_view line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    line = line.substr(0, line.find_first_of(std::string_view("#\0", 2)));
    words.clear();
    while (true) {
      std::size_t start = line.find_first_not_of(kSpace);
      if (start == std::string_view::npos) break;
      line.remove_prefix(start);
      std::size_t end = std::min(line.size(), line.find_first_of(kSpace));
      words.emplace_back(line.substr(0, end));
      line.remove_prefix(end);
    }
    if (!words.empty()) visit(words);
  }
}

namespace {

// nss_files' services parser: strtoul with base 0 (so 0x, octal and a '+'
// sign) up to 32 bits, the low 16 kept, a '-' refused, then slashes.
// Seen through Debian 12's xinetd by helper-44.
std::optional<std::pair<int, std::string>> read_port_and_protocol(const std::string& field) {
  if (field.empty() || field.front() == '-') return std::nullopt;
  char* end = nullptr;
  unsigned long value = std::strtoul(field.c_str(), &end, 0);
  // glibc refuses what does not fit 32 bits (helper-45, glibc 2.36).
  if (end == field.c_str() || *end != '/' || value > 0xffffffffUL) return std::nullopt;
  while (*end == '/') ++end;
  return std::pair{static_cast<int>(value & 0xffffUL), std::string(end)};
}

}  // namespace

ServicePorts::ServicePorts(const Host& host)
    : ServicePorts(read_name_file(host, "/etc/services")) {}

ServicePorts::ServicePorts(const std::optional<std::string>& text) {
  if (!text) return;
  file_read_ = true;
  visit_name_file_entries(*text, [&](const std::vector<std::string>& words) {
    if (words.size() < 2) return;
    std::optional<std::pair<int, std::string>> port = read_port_and_protocol(words[1]);
    if (!port || port->second.empty()) return;
    for (std::size_t index = 0; index < words.size(); ++index) {
      if (index != 1) listed_.emplace(std::pair{words[index], port->second}, port->first);
    }
  });
}

std::optional<int> ServicePorts::find_listed(const std::string& name,
                                             const std::string& protocol) const {
  if (!file_read_) {
    auto found = mail_ports().find(name);
    if (protocol == "tcp" && found != mail_ports().end()) return found->second;
    return std::nullopt;
  }
  if (auto found = listed_.find({name, protocol}); found != listed_.end()) return found->second;
  return std::nullopt;
}

std::optional<int> ServicePorts::find(const std::string& name_or_number) const {
  int number = 0;
  const char* end = name_or_number.data() + name_or_number.size();
  auto parsed = std::from_chars(name_or_number.data(), end, number);
  if (!name_or_number.empty() && parsed.ec == std::errc() && parsed.ptr == end) {
    if (number > 0 && number <= 65535) return number;
    return std::nullopt;
  }
  // Port 0 binds where the kernel picks: no port known here.
  if (auto found = listed_.find({name_or_number, "tcp"}); found != listed_.end()) {
    if (found->second == 0) return std::nullopt;
    return found->second;
  }
  if (auto found = mail_ports().find(name_or_number); found != mail_ports().end()) {
    return found->second;
  }
  return std::nullopt;
}

}  // namespace qharden
