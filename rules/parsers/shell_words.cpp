#include "parsers/shell_words.h"

#include <algorithm>
#include <cctype>

namespace qharden {
namespace {

bool is_blank(char character) {
  return character == ' ' || character == '\t';
}

bool is_operator_character(char character) {
  return character == ';' || character == '&' || character == '|' || character == '(' ||
         character == ')';
}

bool is_redirection_character(char character) {
  return character == '<' || character == '>';
}

bool ends_word(char character) {
  return is_blank(character) || character == '\n' || is_operator_character(character) ||
         is_redirection_character(character);
}

bool is_digit(char character) {
  return character >= '0' && character <= '9';
}

bool is_name_start(char character) {
  return std::isalpha(static_cast<unsigned char>(character)) != 0 || character == '_';
}

bool is_name_character(char character) {
  return is_name_start(character) || is_digit(character);
}

// Length of NAME in a word written NAME=..., or 0 when it is no assignment.
std::size_t assignment_name_length(std::string_view raw) {
  if (raw.empty() || !is_name_start(raw[0])) return 0;
  std::size_t length = 1;
  while (length < raw.size() && is_name_character(raw[length])) ++length;
  return length < raw.size() && raw[length] == '=' ? length : 0;
}

// Words that open or close a compound command; at the start of a command the
// shell reads them as syntax, and the command proper follows them.
bool is_reserved_word(std::string_view word) {
  for (std::string_view reserved :
       {"if", "then", "else", "elif", "fi", "while", "until", "do", "done", "!", "{", "}"}) {
    if (word == reserved) return true;
  }
  return false;
}

class Tokenizer {
 public:
  Tokenizer(std::string_view text, ShellScript& script) : text_(text), script_(script) {}

  void run() {
    while (position_ < text_.size()) {
      char character = text_[position_];
      if (character == '\\' && next_is('\n')) {
        position_ += 2;
      } else if (is_blank(character)) {
        ++position_;
      } else if (character == '\n') {
        ++position_;
        end_command();
        skip_here_documents();
      } else if (character == '#') {
        std::size_t newline = text_.find('\n', position_);
        position_ = newline == std::string_view::npos ? text_.size() : newline;
      } else if (character == '&' && next_is('>')) {
        read_redirection();
      } else if (is_operator_character(character)) {
        end_command();
        bool doubled = next_is(character) || (character == '|' && next_is('&'));
        position_ += doubled && character != '(' && character != ')' ? 2 : 1;
      } else if (is_redirection_character(character)) {
        read_redirection();
      } else if (starts_io_number()) {
        while (is_digit(text_[position_])) ++position_;
        read_redirection();
      } else {
        add_word(read_word());
      }
    }
    end_command();
    for (const HereDocument& document : pending_here_documents_) {
      problem_at_line(document.line,
                      "here-document ended by '" + document.delimiter + "' is not terminated");
    }
  }

 private:
  struct HereDocument {
    std::string delimiter;
    bool strip_tabs = false;
    int line = 0;
  };

  bool next_is(char character) const {
    return position_ + 1 < text_.size() && text_[position_ + 1] == character;
  }

  // "2>&1": digits directly followed by a redirection operator name the fd.
  bool starts_io_number() const {
    std::size_t end = position_;
    while (end < text_.size() && is_digit(text_[end])) ++end;
    return end > position_ && end < text_.size() && is_redirection_character(text_[end]);
  }

  int line_at(std::size_t offset) {
    if (offset < counted_offset_) {
      counted_offset_ = 0;
      counted_line_ = 1;
    }
    while (counted_offset_ < offset && counted_offset_ < text_.size()) {
      if (text_[counted_offset_] == '\n') ++counted_line_;
      ++counted_offset_;
    }
    return counted_line_;
  }

  void problem_at(std::size_t offset, std::string message) {
    problem_at_line(line_at(offset), std::move(message));
  }

  void problem_at_line(int line, std::string message) {
    script_.problems.push_back(ShellProblem{line, std::move(message)});
  }

  ShellWord read_word() {
    ShellWord word;
    std::size_t start = position_;
    std::size_t content_end = position_;
    while (position_ < text_.size()) {
      char character = text_[position_];
      if (character == '\\') {
        if (next_is('\n')) {
          position_ += 2;
          continue;
        }
        word.quoted = true;
        if (position_ + 1 < text_.size()) word.text += text_[position_ + 1];
        position_ = std::min(position_ + 2, text_.size());
      } else if (character == '\'') {
        word.quoted = true;
        read_single_quoted(word);
      } else if (character == '"') {
        word.quoted = true;
        read_double_quoted(word);
      } else if (character == '$') {
        read_dollar(word);
      } else if (character == '`') {
        read_backquoted(word);
      } else if (ends_word(character)) {
        break;
      } else {
        word.text += character;
        ++position_;
      }
      content_end = position_;
    }
    word.location.offset = start;
    word.location.length = content_end - start;
    word.location.line = line_at(start);
    if (!word.text.empty() && word.text.back() == '\r' && !reported_carriage_return_) {
      reported_carriage_return_ = true;
      problem_at(content_end,
                 "line ends in a carriage return (CRLF): /bin/sh keeps it as part "
                 "of the last word");
    }
    return word;
  }

  void read_single_quoted(ShellWord& word) {
    std::size_t close = text_.find('\'', position_ + 1);
    if (close == std::string_view::npos) {
      problem_at(position_, "unterminated single quote");
      word.text += text_.substr(position_ + 1);
      position_ = text_.size();
      return;
    }
    word.text += text_.substr(position_ + 1, close - position_ - 1);
    position_ = close + 1;
  }

  void read_double_quoted(ShellWord& word) {
    std::size_t start = position_;
    ++position_;
    while (position_ < text_.size()) {
      char character = text_[position_];
      if (character == '"') {
        ++position_;
        return;
      }
      if (character == '\\' && position_ + 1 < text_.size()) {
        char escaped = text_[position_ + 1];
        if (escaped == '\n') {
          position_ += 2;
          continue;
        }
        if (escaped == '$' || escaped == '`' || escaped == '"' || escaped == '\\') {
          word.text += escaped;
          position_ += 2;
          continue;
        }
        word.text += character;
        ++position_;
      } else if (character == '$') {
        read_dollar(word);
      } else if (character == '`') {
        read_backquoted(word);
      } else {
        word.text += character;
        ++position_;
      }
    }
    problem_at(start, "unterminated double quote");
  }

  // Expansions stay literal; only their extent matters, so that a space inside
  // $(...) or ${...:-a b} does not split the word.
  void read_dollar(ShellWord& word) {
    if (next_is('(')) {
      word.has_expansion = true;
      read_balanced(word, '(', ')');
      return;
    }
    if (next_is('{')) {
      word.has_expansion = true;
      read_balanced(word, '{', '}');
      return;
    }
    if (position_ + 1 < text_.size()) {
      char next = text_[position_ + 1];
      if (is_name_character(next) ||
          std::string_view("@*#?$!-").find(next) != std::string_view::npos) {
        word.has_expansion = true;
      }
    }
    word.text += '$';
    ++position_;
  }

  void read_balanced(ShellWord& word, char open, char close) {
    std::size_t start = position_;
    word.text += text_.substr(position_, 2);
    position_ += 2;
    int depth = 1;
    while (position_ < text_.size()) {
      char character = text_[position_];
      std::size_t end = position_ + 1;
      if (character == '\\') {
        end = std::min(position_ + 2, text_.size());
      } else if (character == '\'') {
        std::size_t quote = text_.find('\'', position_ + 1);
        end = quote == std::string_view::npos ? text_.size() : quote + 1;
      } else if (character == '"') {
        end = skip_double_quoted_raw(position_);
      } else if (character == '`') {
        end = skip_backquoted_raw(position_);
      } else if (character == open) {
        ++depth;
      } else if (character == close) {
        --depth;
      }
      word.text += text_.substr(position_, end - position_);
      position_ = end;
      if (depth == 0) return;
    }
    problem_at(start, std::string("unterminated $") + open);
  }

  std::size_t skip_double_quoted_raw(std::size_t start) const {
    std::size_t index = start + 1;
    while (index < text_.size() && text_[index] != '"') index += text_[index] == '\\' ? 2 : 1;
    return std::min(index + 1, text_.size());
  }

  std::size_t find_closing_backquote(std::size_t start) const {
    std::size_t index = start + 1;
    while (index < text_.size() && text_[index] != '`') index += text_[index] == '\\' ? 2 : 1;
    return index < text_.size() ? index : std::string_view::npos;
  }

  std::size_t skip_backquoted_raw(std::size_t start) const {
    std::size_t close = find_closing_backquote(start);
    return close == std::string_view::npos ? text_.size() : close + 1;
  }

  void read_backquoted(ShellWord& word) {
    word.has_expansion = true;
    if (find_closing_backquote(position_) == std::string_view::npos) {
      problem_at(position_, "unterminated backquote");
    }
    std::size_t end = skip_backquoted_raw(position_);
    word.text += text_.substr(position_, end - position_);
    position_ = end;
  }

  // Redirections are dropped from argv with their target; a here-document's
  // body is skipped at the end of its line.
  void read_redirection() {
    std::size_t start = position_;
    std::string_view rest = text_.substr(position_);
    bool here_document = rest.rfind("<<", 0) == 0;
    bool strip_tabs = rest.rfind("<<-", 0) == 0;
    std::size_t length = 1;
    for (std::string_view operator_text :
         {"&>>", "<<-", "&>", "<<", "<>", "<&", ">>", ">&", ">|"}) {
      if (rest.rfind(operator_text, 0) == 0) {
        length = operator_text.size();
        break;
      }
    }
    position_ += length;
    while (position_ < text_.size()) {
      if (is_blank(text_[position_])) {
        ++position_;
      } else if (text_[position_] == '\\' && next_is('\n')) {
        position_ += 2;
      } else {
        break;
      }
    }
    if (position_ >= text_.size() || ends_word(text_[position_])) {
      problem_at(start, "redirection without a target");
      return;
    }
    ShellWord target = read_word();
    if (here_document) {
      pending_here_documents_.push_back(
          HereDocument{target.text, strip_tabs, target.location.line});
    }
  }

  void skip_here_documents() {
    for (const HereDocument& document : pending_here_documents_) {
      bool terminated = false;
      while (position_ < text_.size() && !terminated) {
        std::size_t newline = text_.find('\n', position_);
        std::size_t end = newline == std::string_view::npos ? text_.size() : newline;
        std::string_view line = text_.substr(position_, end - position_);
        if (document.strip_tabs) {
          while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
        }
        terminated = line == document.delimiter;
        position_ = newline == std::string_view::npos ? text_.size() : newline + 1;
      }
      if (!terminated) {
        problem_at_line(document.line,
                        "here-document ended by '" + document.delimiter + "' is not terminated");
      }
    }
    pending_here_documents_.clear();
  }

  void add_word(ShellWord word) {
    if (current_.words.empty()) {
      std::string_view raw = text_.substr(word.location.offset, word.location.length);
      if (!word.quoted && current_.assignments.empty() && is_reserved_word(word.text)) return;
      if (std::size_t name_length = assignment_name_length(raw)) {
        ShellAssignment assignment;
        assignment.name = std::string(raw.substr(0, name_length));
        assignment.value = word.text.substr(name_length + 1);
        assignment.location = word.location;
        assignment.has_expansion = word.has_expansion;
        if (current_.line == 0) current_.line = word.location.line;
        current_.assignments.push_back(std::move(assignment));
        return;
      }
    }
    if (current_.line == 0) current_.line = word.location.line;
    current_.words.push_back(std::move(word));
  }

  void end_command() {
    if (!current_.words.empty() || !current_.assignments.empty()) {
      script_.commands.push_back(std::move(current_));
    }
    current_ = ShellCommand{};
  }

  std::string_view text_;
  ShellScript& script_;
  std::size_t position_ = 0;
  std::size_t counted_offset_ = 0;
  int counted_line_ = 1;
  bool reported_carriage_return_ = false;
  ShellCommand current_;
  std::vector<HereDocument> pending_here_documents_;
};

}  // namespace

ShellScript parse_shell_script(std::string_view file_name, std::string_view text) {
  ShellScript script;
  script.file = std::string(file_name);
  Tokenizer(text, script).run();
  return script;
}

}  // namespace qharden
