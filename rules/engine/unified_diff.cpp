#include "engine/unified_diff.h"

#include <algorithm>
#include <vector>

namespace qharden {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start + 1));
    start = end + 1;
  }
  return lines;
}

enum class Edit { keep, remove, add };

// Longest common subsequence over lines after trimming the common head and
// tail: config files are small and fixes touch a few lines, so the table stays
// small. Past the size cap the middle is shown as removed then added.
std::vector<Edit> line_edits(const std::vector<std::string_view>& before,
                             const std::vector<std::string_view>& after) {
  std::size_t head = 0;
  while (head < before.size() && head < after.size() && before[head] == after[head]) ++head;
  std::size_t tail = 0;
  while (tail < before.size() - head && tail < after.size() - head &&
         before[before.size() - 1 - tail] == after[after.size() - 1 - tail]) {
    ++tail;
  }
  std::size_t rows = before.size() - head - tail;
  std::size_t columns = after.size() - head - tail;
  std::vector<Edit> edits(head, Edit::keep);
  constexpr std::size_t kTableCap = 4'000'000;
  if (rows * columns > kTableCap) {
    edits.insert(edits.end(), rows, Edit::remove);
    edits.insert(edits.end(), columns, Edit::add);
  } else {
    std::vector<std::vector<unsigned>> common(rows + 1, std::vector<unsigned>(columns + 1, 0));
    for (std::size_t row = rows; row-- > 0;) {
      for (std::size_t column = columns; column-- > 0;) {
        common[row][column] = before[head + row] == after[head + column]
                                  ? common[row + 1][column + 1] + 1
                                  : std::max(common[row + 1][column], common[row][column + 1]);
      }
    }
    std::size_t row = 0;
    std::size_t column = 0;
    while (row < rows || column < columns) {
      if (row < rows && column < columns && before[head + row] == after[head + column]) {
        edits.push_back(Edit::keep);
        ++row;
        ++column;
      } else if (row < rows &&
                 (column == columns || common[row + 1][column] >= common[row][column + 1])) {
        // Removals first on a tie, as diff -u shows a changed line.
        edits.push_back(Edit::remove);
        ++row;
      } else {
        edits.push_back(Edit::add);
        ++column;
      }
    }
  }
  edits.insert(edits.end(), tail, Edit::keep);
  return edits;
}

void append_line(std::string& out, char marker, std::string_view line) {
  out += marker;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

}  // namespace

std::string unified_diff(const std::string& host_path, std::string_view before,
                         std::string_view after, bool before_exists) {
  if (before == after && before_exists) return {};
  std::vector<std::string_view> old_lines = split_lines(before);
  std::vector<std::string_view> new_lines = split_lines(after);
  std::vector<Edit> edits = line_edits(old_lines, new_lines);
  constexpr std::size_t kContext = 3;

  std::string out =
      "--- " + (before_exists ? host_path : std::string("/dev/null")) + "\n+++ " + host_path + "\n";
  std::size_t index = 0;
  while (index < edits.size()) {
    // Find the next change, then grow a hunk while changes are within context.
    std::size_t first_change = index;
    while (first_change < edits.size() && edits[first_change] == Edit::keep) ++first_change;
    if (first_change == edits.size()) break;
    std::size_t hunk_start = first_change >= kContext ? first_change - kContext : 0;
    hunk_start = std::max(hunk_start, index);
    std::size_t hunk_end = first_change;
    std::size_t unchanged_run = 0;
    for (std::size_t scan = first_change; scan < edits.size(); ++scan) {
      if (edits[scan] == Edit::keep) {
        if (++unchanged_run > 2 * kContext) break;
      } else {
        unchanged_run = 0;
        hunk_end = scan + 1;
      }
    }
    hunk_end = std::min(edits.size(), hunk_end + kContext);

    std::size_t old_line = 0;
    std::size_t new_line = 0;
    for (std::size_t scan = 0; scan < hunk_start; ++scan) {
      if (edits[scan] != Edit::add) ++old_line;
      if (edits[scan] != Edit::remove) ++new_line;
    }
    std::size_t old_count = 0;
    std::size_t new_count = 0;
    std::string body;
    std::size_t old_cursor = old_line;
    std::size_t new_cursor = new_line;
    for (std::size_t scan = hunk_start; scan < hunk_end; ++scan) {
      switch (edits[scan]) {
        case Edit::keep:
          append_line(body, ' ', old_lines[old_cursor++]);
          ++new_cursor;
          ++old_count;
          ++new_count;
          break;
        case Edit::remove:
          append_line(body, '-', old_lines[old_cursor++]);
          ++old_count;
          break;
        case Edit::add:
          append_line(body, '+', new_lines[new_cursor++]);
          ++new_count;
          break;
      }
    }
    out += "@@ -" + std::to_string(old_count == 0 ? old_line : old_line + 1) + "," +
           std::to_string(old_count) + " +" +
           std::to_string(new_count == 0 ? new_line : new_line + 1) + "," +
           std::to_string(new_count) + " @@\n" + body;
    index = hunk_end;
  }
  return out;
}

}  // namespace qharden
