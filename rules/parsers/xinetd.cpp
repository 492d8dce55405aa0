// One xinetd file, following xinetd's parse.c step by step: find_next_entry
// wants `service NAME`, `defaults`, `include` or `includedir`; an entry needs a
// line holding only `{`; a bad line makes xinetd skip to the next `}` line.
#include <cctype>

#include "parsers/text_lines.h"
#include "parsers/xinetd.h"

namespace qharden {
namespace {

std::string lower_case(std::string_view text) {
  std::string lowered(text);
  for (char& character : lowered) {
    character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
  }
  return lowered;
}

std::optional<XinetdOperator> operator_from_word(std::string_view word) {
  if (word == "=") return XinetdOperator::assign;
  if (word == "+=") return XinetdOperator::add;
  if (word == "-=") return XinetdOperator::remove;
  return std::nullopt;
}

bool is_useful_line(std::string_view line) {
  for (char each : line) {
    if (each == '#') return false;
    if (!std::isspace(static_cast<unsigned char>(each))) return true;
  }
  return false;
}

// Fed the text whole or a block of whole lines at a time (feed), then
// finish(): locations and line numbers count from the start of the file.
class XinetdTextParser {
 public:
  XinetdTextParser(const std::string& file, const XinetdAttributeFilter& keep,
                   const XinetdItemVisitor& visit, const XinetdProblemVisitor& report)
      : keep_(keep), visit_(visit), report_(report) {
    result_.file = file;
  }

  void feed(std::string_view block) {
    if (stopped_) return;
    // The loader checks the whole file first (xinetd_load.cpp), so a block
    // holds a NUL only when the file changed since: it is read no further.
    if (int nul_line = first_nul_line(block); nul_line != 0) {
      problem(line_number_ + nul_line, "binary file (NUL byte); xinetd cannot use it");
      stopped_ = true;
      return;
    }
    block_ = block;
    // Line by line, not split_lines: its vector is 24 bytes a line, as much
    // as the text itself (issue 15: audit memory).
    std::size_t position = 0;
    while (position < block.size()) {
      std::size_t end = block.find('\n', position);
      if (end == std::string_view::npos) end = block.size();
      TextLine line{block_offset_ + position, end - position, ++line_number_};
      std::string_view content = block.substr(position, end - position);
      position = end + 1;
      if (!is_useful_line(content)) continue;
      switch (state_) {
        case State::between_entries:
          start_entry(line);
          break;
        case State::expecting_open:
          open_entry(line, content);
          break;
        case State::in_entry:
          entry_line(line, content);
          break;
        case State::skipping_entry:
          if (line_holds_only(content, '}')) state_ = State::between_entries;
          break;
      }
    }
    block_offset_ += block.size();
  }

  XinetdFile finish() {
    if (!stopped_) report_unfinished_entry();
    return std::move(result_);
  }

 private:
  enum class State { between_entries, expecting_open, in_entry, skipping_entry };

  void problem(int line, std::string message) {
    XinetdProblem found{result_.file, line, std::move(message)};
    if (report_) {
      report_(std::move(found));
    } else {
      result_.problems.push_back(std::move(found));
    }
  }

  std::string entry_label() const {
    if (section_.kind == XinetdSectionKind::defaults) return "defaults";
    return "service " + section_.name;
  }

  // The line's words, located in the file (line.offset counts from its start).
  std::vector<LocatedWord> words_of(const TextLine& line) const {
    TextLine in_block{line.offset - block_offset_, line.length, line.number};
    std::vector<LocatedWord> words = split_located_words(block_, in_block);
    for (LocatedWord& word : words) word.location.offset += block_offset_;
    return words;
  }

  void start_entry(const TextLine& line) {
    std::vector<LocatedWord> words = words_of(line);
    std::string keyword = lower_case(words.front().text);
    bool named = keyword == "service" || keyword == "include" || keyword == "includedir";
    if (named && words.size() < 2) {
      problem(line.number,
              "`" + words.front().text + "` without a name; xinetd skips to the next `}` line");
      state_ = State::skipping_entry;
      return;
    }
    if (keyword == "include" || keyword == "includedir") {
      emit(XinetdInclude{keyword == "includedir", words[1].text, line.number});
      return;
    }
    if (keyword == "service" || keyword == "defaults") {
      section_ = XinetdSection{};
      section_.kind =
          keyword == "service" ? XinetdSectionKind::service : XinetdSectionKind::defaults;
      section_.file = result_.file;
      section_.line = line.number;
      if (named) section_.name = words[1].text;
      state_ = State::expecting_open;
      return;
    }
    problem(line.number, "expected `service NAME`, `defaults`, `include` or `includedir`, not `" +
                             words.front().text + "`; xinetd skips to the next `}` line");
    state_ = State::skipping_entry;
  }

  void open_entry(const TextLine& line, std::string_view content) {
    if (!line_holds_only(content, '{')) {
      problem(line.number, entry_label() + " (line " + std::to_string(section_.line) +
                               ") must be followed by a line holding only `{`; xinetd drops "
                               "it and skips to the next `}` line");
      state_ = State::skipping_entry;
      return;
    }
    if (section_.kind == XinetdSectionKind::defaults && seen_defaults_) {
      problem(section_.line,
              "only one defaults entry is allowed in a file; xinetd ignores this one");
      state_ = State::skipping_entry;
      return;
    }
    state_ = State::in_entry;
  }

  void entry_line(const TextLine& line, std::string_view content) {
    if (line_holds_only(content, '}')) {
      section_.closing_line = line.number;
      section_.closing_offset = line.offset;
      close_entry();
      state_ = State::between_entries;
      return;
    }
    std::vector<LocatedWord> words = words_of(line);
    std::optional<XinetdOperator> operation;
    if (words.size() >= 2) operation = operator_from_word(words[1].text);
    if (!operation) {
      reject_entry(line.number, "expected `attribute = value` (blanks around =, += or -=)");
      return;
    }
    std::string name = lower_case(words[0].text);
    if (keep_ && !keep_(name)) return;
    XinetdAttribute attribute;
    attribute.name = std::move(name);
    attribute.operation = *operation;
    attribute.line = line.number;
    attribute.line_offset = line.offset;
    attribute.content_end = words.back().location.offset + words.back().location.length;
    attribute.indentation = std::string(content.substr(0, words[0].location.offset - line.offset));
    // Exact sizes: a file may hold tens of thousands of sections (issue 15's
    // audit memory), and all of them are alive until the services are resolved.
    attribute.values.reserve(words.size() - 2);
    attribute.value_locations.reserve(words.size() - 2);
    for (std::size_t index = 2; index < words.size(); ++index) {
      attribute.values.push_back(std::move(words[index].text));
      attribute.value_locations.push_back(words[index].location);
    }
    section_.attributes.push_back(std::move(attribute));
  }

  // xinetd's parse_entry fails: a service is dropped; a defaults entry keeps
  // what it applied so far and xinetd reads on from the next line.
  void reject_entry(int line, const std::string& why) {
    if (section_.kind == XinetdSectionKind::defaults) {
      problem(line, "defaults (line " + std::to_string(section_.line) + "): " + why +
                        "; xinetd stops reading this defaults entry here");
      close_entry();
      state_ = State::between_entries;
      return;
    }
    problem(line, entry_label() + " (line " + std::to_string(section_.line) + "): " + why +
                      "; xinetd drops this service");
    state_ = State::skipping_entry;
  }

  void close_entry() {
    if (section_.kind == XinetdSectionKind::defaults) seen_defaults_ = true;
    section_.attributes.shrink_to_fit();  // growth left up to twice the room
    emit(std::move(section_));
    section_ = XinetdSection{};
  }

  void emit(XinetdItem&& item) {
    if (visit_) {
      visit_(std::move(item));
    } else {
      result_.items.push_back(std::move(item));
    }
  }

  void report_unfinished_entry() {
    if (state_ == State::expecting_open) {
      problem(section_.line, entry_label() + " is not followed by a `{` line; xinetd drops it");
    } else if (state_ == State::in_entry) {
      if (section_.kind == XinetdSectionKind::defaults) {
        problem(section_.line, "defaults has no closing `}` (the file ends)");
        close_entry();
      } else {
        problem(section_.line,
                entry_label() + " has no closing `}` (the file ends); xinetd drops it");
      }
    }
  }

  std::string_view block_;        // the block being read
  std::size_t block_offset_ = 0;  // of block_ in the file
  int line_number_ = 0;           // of the last line read
  bool stopped_ = false;          // a NUL byte was found
  // Copies: a block parser outlives the call that made it.
  XinetdAttributeFilter keep_;
  XinetdItemVisitor visit_;
  XinetdProblemVisitor report_;
  XinetdFile result_;
  State state_ = State::between_entries;
  XinetdSection section_;
  bool seen_defaults_ = false;
};

}  // namespace

XinetdFile parse_xinetd_text(const std::string& file, std::string_view text,
                             const XinetdAttributeFilter& keep) {
  XinetdTextParser parser(file, keep, {}, {});
  parser.feed(text);
  return parser.finish();
}

void parse_xinetd_text(const std::string& file, std::string_view text,
                       const XinetdAttributeFilter& keep, const XinetdItemVisitor& visit,
                       const XinetdProblemVisitor& report) {
  XinetdTextParser parser(file, keep, visit, report);
  parser.feed(text);
  parser.finish();
}

struct XinetdBlockParser::Parser : XinetdTextParser {
  using XinetdTextParser::XinetdTextParser;
};

XinetdBlockParser::XinetdBlockParser(const std::string& file, const XinetdAttributeFilter& keep,
                                     const XinetdItemVisitor& visit,
                                     const XinetdProblemVisitor& report)
    : parser_(std::make_unique<Parser>(file, keep, visit, report)) {}

XinetdBlockParser::~XinetdBlockParser() = default;

void XinetdBlockParser::feed(std::string_view block) {
  parser_->feed(block);
}

void XinetdBlockParser::finish() {
  parser_->finish();
}

}  // namespace qharden
