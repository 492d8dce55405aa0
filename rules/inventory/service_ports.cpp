#include "inventory/service_ports.h"

#include <charconv>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "host/host.h"
#include "parsers/text_lines.h"

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
  std::vector<std::string> words;
  for (const TextLine& line : split_lines(text)) {
    std::string_view content = std::string_view(text).substr(line.offset, line.length);
    content = content.substr(0, content.find('#'));
    words.clear();
    for (LocatedWord& word :
         split_located_words(text, TextLine{line.offset, content.size(), line.number})) {
      words.push_back(std::move(word.text));
    }
    if (!words.empty()) visit(words);
  }
}

namespace {

// nss_files' services parser: strtoul with base 0 (so 0x, octal and a '+'
// sign), the low 16 bits kept, a '-' refused, then one or more slashes.
// Seen through Debian 12's xinetd by helper-44.
std::optional<std::pair<int, std::string>> read_port_and_protocol(const std::string& field) {
  if (field.empty() || field.front() == '-') return std::nullopt;
  char* end = nullptr;
  unsigned long value = std::strtoul(field.c_str(), &end, 0);
  if (end == field.c_str() || *end != '/') return std::nullopt;
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
