#include "inventory/service_ports.h"

#include <charconv>
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

std::vector<std::vector<std::string>> name_file_entries(const std::string& text) {
  std::vector<std::vector<std::string>> entries;
  for (const TextLine& line : split_lines(text)) {
    std::string_view content = std::string_view(text).substr(line.offset, line.length);
    content = content.substr(0, content.find('#'));
    std::vector<std::string> words;
    for (LocatedWord& word :
         split_located_words(text, TextLine{line.offset, content.size(), line.number})) {
      words.push_back(std::move(word.text));
    }
    if (!words.empty()) entries.push_back(std::move(words));
  }
  return entries;
}

ServicePorts::ServicePorts(const Host& host)
    : ServicePorts(read_name_file(host, "/etc/services")) {}

ServicePorts::ServicePorts(const std::optional<std::string>& text) {
  if (!text) return;
  file_read_ = true;
  for (const std::vector<std::string>& words : name_file_entries(*text)) {
    if (words.size() < 2) continue;
    std::size_t slash = words[1].find('/');
    if (slash == std::string::npos) continue;
    std::optional<int> port = find(words[1].substr(0, slash));
    if (!port) continue;
    std::string protocol = words[1].substr(slash + 1);
    for (std::size_t index = 0; index < words.size(); ++index) {
      if (index == 1) continue;
      listed_.emplace(std::pair{words[index], protocol}, *port);
      if (protocol == "tcp") ports_.emplace(words[index], *port);
    }
  }
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
  if (auto found = ports_.find(name_or_number); found != ports_.end()) return found->second;
  if (auto found = mail_ports().find(name_or_number); found != mail_ports().end()) {
    return found->second;
  }
  return std::nullopt;
}

}  // namespace qharden
