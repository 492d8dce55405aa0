#include "parsers/sysctl_conf.h"

namespace qharden {
namespace {

// Both tools strip exactly these before looking at a line or a value.
constexpr std::string_view kWhitespace = " \t\r\n\f\v";
constexpr std::size_t kShownLineBytes = 80;

std::string_view trim(std::string_view text) {
  std::size_t start = text.find_first_not_of(kWhitespace);
  if (start == std::string_view::npos) return {};
  std::size_t end = text.find_last_not_of(kWhitespace);
  return text.substr(start, end - start + 1);
}

// Messages end up in terminals and JSON; a binary file must not smuggle
// control bytes or kilobytes of junk into them.
std::string printable_excerpt(std::string_view text) {
  std::string shown;
  std::size_t limit = text.size() < kShownLineBytes ? text.size() : kShownLineBytes;
  for (std::size_t index = 0; index < limit; ++index) {
    unsigned char byte = static_cast<unsigned char>(text[index]);
    if (byte >= 0x20 && byte < 0x7f) {
      shown += static_cast<char>(byte);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      shown += "\\x";
      shown += kHex[byte >> 4];
      shown += kHex[byte & 0x0f];
    }
  }
  if (text.size() > limit) shown += "...";
  return shown;
}

void add_malformed(SysctlConfFile& file, int line_number, std::string_view line,
                   std::string_view reason) {
  SysctlMalformedLine malformed;
  malformed.line = line_number;
  malformed.text = printable_excerpt(line);
  malformed.message = file.file_name + ":" + std::to_string(line_number) + ": " +
                      std::string(reason) + ", ignored: " + malformed.text;
  file.malformed.push_back(std::move(malformed));
}

bool is_glob_key(std::string_view key) {
  return key.find_first_of("*?[") != std::string::npos;
}

void parse_line(SysctlConfFile& file, int line_number, std::string_view raw_line) {
  if (raw_line.size() > kMaximumSysctlLineBytes) {
    add_malformed(file, line_number, raw_line, "line longer than 1 MiB");
    return;
  }
  if (raw_line.find('\0') != std::string_view::npos) {
    add_malformed(file, line_number, raw_line, "line holds NUL bytes (binary data?)");
    return;
  }
  std::string_view line = trim(raw_line);
  if (line.empty() || line.front() == '#' || line.front() == ';') return;

  SysctlAssignment assignment;
  assignment.line = line_number;
  std::size_t equals = line.find('=');
  std::string_view key_text = equals == std::string_view::npos ? line : line.substr(0, equals);
  if (!key_text.empty() && key_text.front() == '-') {
    assignment.ignore_failure = true;
    key_text.remove_prefix(1);
  }
  if (equals == std::string_view::npos) {
    if (!assignment.ignore_failure) {
      add_malformed(file, line_number, line, "not an assignment (no '=')");
      return;
    }
    assignment.has_value = false;
  } else {
    assignment.value = std::string(trim(line.substr(equals + 1)));
  }
  assignment.key = normalize_sysctl_key(trim(key_text));
  if (assignment.key.empty()) {
    add_malformed(file, line_number, line, "no key before '='");
    return;
  }
  assignment.is_glob = is_glob_key(assignment.key);
  file.assignments.push_back(std::move(assignment));
}

}  // namespace

SysctlConfFile parse_sysctl_conf(std::string_view file_name, std::string_view text) {
  SysctlConfFile file;
  file.file_name = std::string(file_name);
  int line_number = 0;
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t end = text.find('\n', position);
    if (end == std::string_view::npos) end = text.size();
    ++line_number;
    parse_line(file, line_number, text.substr(position, end - position));
    position = end + 1;
  }
  return file;
}

std::string normalize_sysctl_key(std::string_view key) {
  std::size_t first_separator = key.find_first_of("./");
  bool slash_form = first_separator != std::string_view::npos && key[first_separator] == '/';
  std::string dotted;
  dotted.reserve(key.size());
  bool pending_separator = false;
  for (char character : key) {
    if (character == '.' || character == '/') {
      // Nothing names a /proc/sys entry that starts with a dot; dropping
      // leading separators of both kinds keeps "./a" and "/a" the same key.
      if (dotted.empty()) continue;
      bool is_component_separator = slash_form ? character == '/' : character == '.';
      if (is_component_separator) {
        pending_separator = !dotted.empty();
        continue;
      }
      // A literal dot inside a slash-form component: kept as '/' in dotted form.
      character = '/';
    }
    if (pending_separator) dotted += '.';
    pending_separator = false;
    dotted += character;
  }
  return dotted;
}

std::string sysctl_key_to_proc_path(std::string_view dotted_key) {
  std::string path(dotted_key);
  for (char& character : path) {
    if (character == '.') {
      character = '/';
    } else if (character == '/') {
      character = '.';
    }
  }
  return path;
}

}  // namespace qharden
