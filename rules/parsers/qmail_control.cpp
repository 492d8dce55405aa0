#include "parsers/qmail_control.h"

#include "host/host.h"

namespace qharden {
namespace {

void strip_trailing_whitespace(std::string& line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ' || line.back() == '\t')) {
    line.pop_back();
  }
}

}  // namespace

std::vector<std::string> control_file_lines(std::string_view text) {
  std::vector<std::string> entries;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    strip_trailing_whitespace(line);
    // qmail tests the first byte after NUL-terminating the line, so a line
    // that starts with NUL is skipped like an empty one.
    if (line.empty() || line.front() == '#' || line.front() == '\0') continue;
    // The list is kept NUL-separated, so a NUL inside a line splits the entry.
    std::size_t piece_start = 0;
    while (piece_start < line.size()) {
      std::size_t piece_end = line.find('\0', piece_start);
      if (piece_end == std::string::npos) piece_end = line.size();
      if (piece_end > piece_start)
        entries.push_back(line.substr(piece_start, piece_end - piece_start));
      piece_start = piece_end + 1;
    }
  }
  return entries;
}

std::string control_first_line(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  strip_trailing_whitespace(line);
  return line;
}

ControlFile read_control_file(const Host& host, const std::string& host_path) {
  ControlFile file;
  file.path = host_path;
  Expected<FileStatus> status = host.status(host_path, true);
  if (status && status->kind == FileKind::missing) return file;
  Expected<std::string> text = host.read_file(host_path);
  if (!text) {
    file.state = ControlState::unreadable;
    file.error = text.error().message;
    return file;
  }
  file.state = ControlState::present;
  file.lines = control_file_lines(*text);
  return file;
}

std::string lower_case_ascii(std::string_view text) {
  std::string lower(text);
  for (char& character : lower) {
    if (character >= 'A' && character <= 'Z') character = static_cast<char>(character - 'A' + 'a');
  }
  return lower;
}

std::vector<std::string> virtualdomains_domains(const std::vector<std::string>& lines) {
  std::vector<std::string> domains;
  for (const std::string& line : lines) {
    std::size_t colon = line.find(':');
    std::string key = line.substr(0, colon);
    if (key.empty() || key.find('@') != std::string::npos) continue;
    domains.push_back(lower_case_ascii(key));
  }
  return domains;
}

}  // namespace qharden
