// unified_diff on inputs too big for a table of all line pairs: a plan that
// rewrites one line in each of tens of thousands of xinetd services must show
// exactly those lines, and any diff must turn `before` into `after` when
// applied. Minimality is checked against a plain LCS table on small inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/unified_diff.h"

namespace qharden {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start + 1));
    start = end + 1;
  }
  return lines;
}

// Applies diff to before the way patch(1) would, checking each context and
// removed line against before. Fails the test on any mismatch.
std::string apply_diff(const std::string& before, const std::string& diff) {
  std::vector<std::string> old_lines = lines_of(before);
  std::vector<std::string> diff_lines = lines_of(diff);
  std::string result;
  std::size_t old_cursor = 0;
  std::size_t index = 2;  // past the --- and +++ lines
  while (index < diff_lines.size()) {
    const std::string& header = diff_lines[index++];
    unsigned long old_start = 0, old_count = 0, new_start = 0, new_count = 0;
    EXPECT_EQ(std::sscanf(header.c_str(), "@@ -%lu,%lu +%lu,%lu @@", &old_start, &old_count,
                          &new_start, &new_count),
              4)
        << header;
    std::size_t first = old_count == 0 ? old_start : old_start - 1;
    EXPECT_GE(first, old_cursor) << header;
    while (old_cursor < first) result += old_lines.at(old_cursor++);
    while (index < diff_lines.size() && diff_lines[index].rfind("@@ ", 0) != 0) {
      std::string line = diff_lines[index++].substr(1);
      char marker = diff_lines[index - 1][0];
      if (index < diff_lines.size() && diff_lines[index].rfind("\\ ", 0) == 0) {
        line.pop_back();  // "\ No newline at end of file" belongs to the line before
        ++index;
      }
      if (marker == ' ' || marker == '-') {
        EXPECT_EQ(old_lines.at(old_cursor), line) << "old line " << old_cursor + 1;
        ++old_cursor;
      }
      if (marker == ' ' || marker == '+') result += line;
    }
  }
  while (old_cursor < old_lines.size()) result += old_lines[old_cursor++];
  return result;
}

std::size_t count_marked(const std::string& diff, char marker) {
  std::size_t count = 0;
  std::vector<std::string> lines = lines_of(diff);
  for (std::size_t index = 2; index < lines.size(); ++index) {
    if (!lines[index].empty() && lines[index][0] == marker) ++count;
  }
  return count;
}

std::string services(std::size_t count, bool fixed) {
  std::ostringstream text;
  for (std::size_t index = 1; index <= count; ++index) {
    text << "service smtp\n{\n\tid\t\t= smtp_psa_" << index << "\n\tsocket_type\t= stream\n"
         << "\twait\t\t= no\n\tuser\t\t= root\n\tserver\t\t= /var/qmail/bin/tcp-env\n"
         << "\tserver_args\t= " << (fixed ? "-Rt0 " : "") << "/var/qmail/bin/qmail-smtpd\n}\n";
  }
  return text.str();
}

TEST(UnifiedDiffLarge, SixtyThousandScatteredChangesShowOnlyTheChangedLines) {
  std::string before = services(60'000, false);
  std::string after = services(60'000, true);
  std::string diff = unified_diff("/etc/xinetd.d/smtp_psa", before, after);
  EXPECT_EQ(count_marked(diff, '-'), 60'000u);
  EXPECT_EQ(count_marked(diff, '+'), 60'000u);
  EXPECT_EQ(apply_diff(before, diff), after);
  // The first hunk: three lines of context on each side of one changed line.
  EXPECT_NE(diff.find("@@ -5,7 +5,7 @@\n \twait\t\t= no\n \tuser\t\t= root\n \tserver\t\t= "
                      "/var/qmail/bin/tcp-env\n-\tserver_args\t= /var/qmail/bin/qmail-smtpd\n+\t"
                      "server_args\t= -Rt0 /var/qmail/bin/qmail-smtpd\n }\n service smtp\n {\n"),
            std::string::npos)
      << diff.substr(0, 400);
}

TEST(UnifiedDiffLarge, ChangesBetweenLinesThatRepeatStayMinimal) {
  // No line is unique, so no anchor helps: the gap diff must find the changes.
  std::string before;
  std::string after;
  for (int index = 0; index < 20'000; ++index) {
    before += index % 2 == 0 ? "a\n" : "b\n";
    after += index % 1000 == 500 ? "c\n" : (index % 2 == 0 ? "a\n" : "b\n");
  }
  std::string diff = unified_diff("/etc/f", before, after);
  EXPECT_EQ(count_marked(diff, '-'), 20u);
  EXPECT_EQ(count_marked(diff, '+'), 20u);
  EXPECT_EQ(apply_diff(before, diff), after);
}

TEST(UnifiedDiffLarge, EverythingChangedWithoutAnchorsIsStillACorrectDiff) {
  // Past the work budget a gap is shown as removed then added: longer, but
  // applying it still gives `after`.
  std::string before;
  std::string after;
  for (int index = 0; index < 40'000; ++index) {
    before += index % 3 == 0 ? "x\n" : "y\n";
    after += index % 2 == 0 ? "y\n" : "z\n";
  }
  std::string diff = unified_diff("/etc/f", before, after);
  EXPECT_EQ(apply_diff(before, diff), after);
}

std::size_t shortest_edit_length(const std::vector<std::string>& before,
                                 const std::vector<std::string>& after) {
  std::vector<std::vector<std::size_t>> common(before.size() + 1,
                                               std::vector<std::size_t>(after.size() + 1, 0));
  for (std::size_t row = before.size(); row-- > 0;) {
    for (std::size_t column = after.size(); column-- > 0;) {
      common[row][column] = before[row] == after[column]
                                ? common[row + 1][column + 1] + 1
                                : std::max(common[row + 1][column], common[row][column + 1]);
    }
  }
  return before.size() + after.size() - 2 * common[0][0];
}

TEST(UnifiedDiffLarge, RandomEditsApplyAndAreShortestWhenNoLineIsUnique) {
  std::mt19937 random(15);
  for (int round = 0; round < 300; ++round) {
    // Small alphabets give repeated lines (the Myers path); bigger ones give
    // unique lines, hence anchors.
    int alphabet = round % 3 == 0 ? 3 : (round % 3 == 1 ? 8 : 60);
    std::uniform_int_distribution<int> symbol(0, alphabet - 1);
    std::uniform_int_distribution<int> length(0, 80);
    std::string before;
    std::string after;
    int before_lines = length(random);
    for (int index = 0; index < before_lines; ++index)
      before += "l" + std::to_string(symbol(random)) + "\n";
    after = before;
    std::vector<std::string> lines = lines_of(after);
    std::uniform_int_distribution<int> edits(0, 10);
    for (int edit = edits(random); edit > 0; --edit) {
      std::size_t at = lines.empty() ? 0 : random() % (lines.size() + 1);
      if (random() % 2 == 0 && at < lines.size()) {
        lines.erase(lines.begin() + static_cast<long>(at));
      } else {
        lines.insert(lines.begin() + static_cast<long>(at),
                     "l" + std::to_string(symbol(random)) + "\n");
      }
    }
    after.clear();
    for (const std::string& line : lines) after += line;
    if (round % 7 == 0 && !after.empty()) after.pop_back();  // no newline at end
    std::string diff = unified_diff("/etc/f", before, after);
    if (before == after) {
      EXPECT_EQ(diff, "");
      continue;
    }
    ASSERT_EQ(apply_diff(before, diff), after) << "round " << round << "\n" << diff;
    std::vector<std::string> old_lines = lines_of(before);
    std::vector<std::string> new_lines = lines_of(after);
    // Anchors are looked for after the common head and tail are set aside.
    std::size_t head = 0;
    while (head < old_lines.size() && head < new_lines.size() && old_lines[head] == new_lines[head])
      ++head;
    std::size_t tail = 0;
    while (tail < old_lines.size() - head && tail < new_lines.size() - head &&
           old_lines[old_lines.size() - 1 - tail] == new_lines[new_lines.size() - 1 - tail])
      ++tail;
    std::vector<std::string> old_middle(old_lines.begin() + static_cast<long>(head),
                                        old_lines.end() - static_cast<long>(tail));
    std::vector<std::string> new_middle(new_lines.begin() + static_cast<long>(head),
                                        new_lines.end() - static_cast<long>(tail));
    bool any_unique = false;
    for (const std::string& line : old_middle) {
      if (std::count(old_middle.begin(), old_middle.end(), line) == 1 &&
          std::count(new_middle.begin(), new_middle.end(), line) == 1) {
        any_unique = true;
      }
    }
    std::size_t changed = count_marked(diff, '-') + count_marked(diff, '+');
    if (!any_unique) {
      EXPECT_EQ(changed, shortest_edit_length(old_lines, new_lines)) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace qharden
