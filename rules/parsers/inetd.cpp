#include "parsers/inetd.h"

#include "parsers/text_lines.h"

namespace qharden {
namespace {

bool starts_with_blank(std::string_view line) {
  return !line.empty() && (line.front() == ' ' || line.front() == '\t');
}

bool is_socket_type(std::string_view word) {
  return word == "stream" || word == "dgram" || word == "rdm" || word == "seqpacket" ||
         word == "raw";
}

bool is_wait_field(std::string_view word) {
  std::string_view base = word.substr(0, word.find('.'));
  return base == "wait" || base == "nowait";
}

class InetdTextParser {
 public:
  InetdTextParser(const std::string& file, std::string_view text)
      : text_(text), lines_(split_lines(text)) {
    result_.file = file;
  }

  InetdFile parse() {
    if (int nul_line = first_nul_line(text_); nul_line != 0) {
      problem(nul_line, "binary file (NUL byte); inetd cannot use it");
      return std::move(result_);
    }
    std::size_t index = 0;
    while (index < lines_.size()) {
      const TextLine& line = lines_[index];
      std::string_view content = text_.substr(line.offset, line.length);
      check_length(line);
      if (!content.empty() && content.front() == '#') {
        if (content.rfind("#<off>#", 0) == 0) result_.switched_off_lines.push_back(line.number);
        ++index;
        continue;
      }
      // An entry's words, with the continuation lines that follow it.
      std::vector<LocatedWord> words = split_located_words(text_, line);
      int last_line = line.number;
      ++index;
      while (index < lines_.size() &&
             starts_with_blank(text_.substr(lines_[index].offset, lines_[index].length))) {
        check_length(lines_[index]);
        for (LocatedWord& word : split_located_words(text_, lines_[index])) {
          words.push_back(std::move(word));
        }
        last_line = lines_[index].number;
        ++index;
      }
      if (!words.empty()) add_entry(std::move(words), line.number, last_line);
    }
    return std::move(result_);
  }

 private:
  void problem(int line, std::string message) {
    result_.problems.push_back(InetdProblem{line, std::move(message)});
  }

  void check_length(const TextLine& line) {
    if (line.length <= kInetdMaximumLineBytes) return;
    problem(line.number, "line is longer than " + std::to_string(kInetdMaximumLineBytes) +
                             " bytes; openbsd-inetd reads the rest as another line");
  }

  void add_entry(std::vector<LocatedWord> words, int first_line, int last_line) {
    // `host:` alone sets the default address for the lines below it.
    if (words.size() == 1 && words.front().text.back() == ':') return;
    // "127.0.0.1: smtp ..." is the same as "127.0.0.1:smtp ...".
    if (words.front().text.back() == ':' && words.size() > 1) {
      words[1].text = words.front().text + words[1].text;
      words[1].location.length += words[1].location.offset - words.front().location.offset;
      words[1].location.offset = words.front().location.offset;
      words[1].location.line = words.front().location.line;
      words.erase(words.begin());
    }
    if (words.size() < 6) {
      problem(first_line, "incomplete entry for `" + words.front().text +
                              "` (needs service, socket type, protocol, wait, user, server); "
                              "inetd skips it");
      return;
    }
    if (!is_socket_type(words[1].text)) {
      problem(first_line, "`" + words.front().text + "`: bad socket type `" + words[1].text +
                              "`; inetd skips the entry");
      return;
    }
    if (!is_wait_field(words[3].text)) {
      problem(first_line, "`" + words.front().text + "`: `" + words[3].text +
                              "` is neither wait nor nowait; inetd skips the entry");
      return;
    }
    InetdEntry entry;
    entry.line = first_line;
    entry.last_line = last_line;
    entry.service = words[0].text;
    entry.service_location = words[0].location;
    entry.socket_type = words[1].text;
    entry.protocol = words[2].text;
    entry.wait = words[3].text;
    entry.wait_location = words[3].location;
    entry.user = words[4].text;
    entry.server = words[5].text;
    entry.server_location = words[5].location;
    for (std::size_t index = 6; index < words.size(); ++index) {
      if (entry.arguments.size() == kInetdMaximumArguments) {
        problem(first_line, "`" + entry.service + "` has more than " +
                                std::to_string(kInetdMaximumArguments) +
                                " arguments; openbsd-inetd drops the rest");
        break;
      }
      entry.arguments.push_back(std::move(words[index].text));
      entry.argument_locations.push_back(words[index].location);
    }
    result_.entries.push_back(std::move(entry));
  }

  std::string_view text_;
  std::vector<TextLine> lines_;
  InetdFile result_;
};

}  // namespace

InetdFile parse_inetd_text(const std::string& file, std::string_view text) {
  return InetdTextParser(file, text).parse();
}

InetdCommandLine inetd_command_line(const InetdEntry& entry) {
  InetdCommandLine command;
  if (entry.server == "internal") return command;
  if (path_basename(entry.server) == "tcpd" && !entry.arguments.empty()) {
    command.tcpd_wrapped = true;
    for (std::size_t index = 0; index < entry.arguments.size(); ++index) {
      command.argv.push_back(entry.arguments[index]);
      command.locations.push_back(entry.argument_locations[index]);
    }
    return command;
  }
  command.argv.push_back(entry.server);
  command.locations.push_back(entry.server_location);
  for (std::size_t index = 1; index < entry.arguments.size(); ++index) {
    command.argv.push_back(entry.arguments[index]);
    command.locations.push_back(entry.argument_locations[index]);
  }
  return command;
}

}  // namespace qharden
