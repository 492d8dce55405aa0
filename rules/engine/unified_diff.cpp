#include "engine/unified_diff.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
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

enum class Edit : std::uint8_t { keep, remove, add };

// How the edit script is found, and why it stays near linear for the files a
// plan rewrites (one xinetd file can hold tens of thousands of services, each
// with a changed line):
//   1. every distinct line gets a number, so lines compare in O(1);
//   2. in a region, the common head and tail are kept;
//   3. lines that occur exactly once on each side are anchors (patience diff):
//      the longest chain of them in the same order on both sides is kept, and
//      the gaps between them are diffed the same way, one by one;
//   4. a gap with no such line is diffed with Myers' O((N+M)·D) algorithm,
//      which finds a shortest edit script.
// A work budget bounds pathological input (no unique lines, everything
// changed): past it a gap is shown as removed then added, which is still a
// correct diff, only a longer one.
class LineDiff {
 public:
  LineDiff(const std::vector<std::string_view>& before, const std::vector<std::string_view>& after)
      : before_(number(before)), after_(number(after)) {}

  std::vector<Edit> run() {
    // A stack of pending work in output order (last pushed runs first), so that
    // deep nesting of gaps cannot overflow the call stack.
    stack_.push_back(Task{Task::Kind::region, 0, before_.size(), 0, after_.size()});
    while (!stack_.empty()) {
      Task task = stack_.back();
      stack_.pop_back();
      if (task.kind == Task::Kind::keep) {
        edits_.insert(edits_.end(), task.before_end - task.before_begin, Edit::keep);
      } else {
        diff_region(task.before_begin, task.before_end, task.after_begin, task.after_end);
      }
    }
    return std::move(edits_);
  }

 private:
  struct Task {
    enum class Kind : std::uint8_t { region, keep } kind;
    std::size_t before_begin;
    std::size_t before_end;
    std::size_t after_begin;
    std::size_t after_end;
  };

  struct Anchor {
    std::size_t before;
    std::size_t after;
  };

  // Myers keeps one row of furthest reaches per edit distance; past this many
  // edits in one gap it would need too much memory, so the gap is replaced.
  static constexpr std::size_t kMaximumGapEdits = 2048;
  // Total steps (anchor scans and Myers cells) for one diff.
  static constexpr std::size_t kWorkBudget = std::size_t{1} << 27;

  std::vector<std::uint32_t> number(const std::vector<std::string_view>& lines) {
    std::vector<std::uint32_t> numbers;
    numbers.reserve(lines.size());
    for (std::string_view line : lines) {
      auto [entry, added] = numbers_.try_emplace(line, static_cast<std::uint32_t>(numbers_.size()));
      numbers.push_back(entry->second);
    }
    return numbers;
  }

  void diff_region(std::size_t before_begin, std::size_t before_end, std::size_t after_begin,
                   std::size_t after_end) {
    std::size_t head = 0;
    while (before_begin + head < before_end && after_begin + head < after_end &&
           before_[before_begin + head] == after_[after_begin + head]) {
      ++head;
    }
    edits_.insert(edits_.end(), head, Edit::keep);
    before_begin += head;
    after_begin += head;
    std::size_t tail = 0;
    while (before_begin < before_end - tail && after_begin < after_end - tail &&
           before_[before_end - 1 - tail] == after_[after_end - 1 - tail]) {
      ++tail;
    }
    before_end -= tail;
    after_end -= tail;
    if (tail > 0) {
      stack_.push_back(
          Task{Task::Kind::keep, before_end, before_end + tail, after_end, after_end + tail});
    }
    if (before_begin == before_end || after_begin == after_end) {
      replace(before_end - before_begin, after_end - after_begin);
      return;
    }
    std::vector<Anchor> anchors = unique_anchors(before_begin, before_end, after_begin, after_end);
    if (anchors.empty()) {
      myers(before_begin, before_end, after_begin, after_end);
      return;
    }
    // Pushed back to front: gap after the last anchor first, it runs last.
    std::size_t next_before = before_end;
    std::size_t next_after = after_end;
    for (std::size_t index = anchors.size(); index-- > 0;) {
      const Anchor& anchor = anchors[index];
      stack_.push_back(
          Task{Task::Kind::region, anchor.before + 1, next_before, anchor.after + 1, next_after});
      stack_.push_back(
          Task{Task::Kind::keep, anchor.before, anchor.before + 1, anchor.after, anchor.after + 1});
      next_before = anchor.before;
      next_after = anchor.after;
    }
    stack_.push_back(Task{Task::Kind::region, before_begin, next_before, after_begin, next_after});
  }

  void replace(std::size_t removed, std::size_t added) {
    edits_.insert(edits_.end(), removed, Edit::remove);
    edits_.insert(edits_.end(), added, Edit::add);
  }

  // Lines that occur once in each side of the region, paired, then the longest
  // chain of pairs increasing on both sides (patience sorting, O(k log k)).
  std::vector<Anchor> unique_anchors(std::size_t before_begin, std::size_t before_end,
                                     std::size_t after_begin, std::size_t after_end) {
    std::size_t size = (before_end - before_begin) + (after_end - after_begin);
    if (work_ + size > kWorkBudget) return {};
    work_ += size;
    if (counts_.empty()) counts_.resize(numbers_.size());
    for (std::size_t index = before_begin; index < before_end; ++index) {
      Count& count = counts_[before_[index]];
      ++count.before;
    }
    for (std::size_t index = after_begin; index < after_end; ++index) {
      Count& count = counts_[after_[index]];
      ++count.after;
      count.after_position = static_cast<std::uint32_t>(index);
    }
    std::vector<Anchor> pairs;
    for (std::size_t index = before_begin; index < before_end; ++index) {
      const Count& count = counts_[before_[index]];
      if (count.before == 1 && count.after == 1) pairs.push_back({index, count.after_position});
    }
    for (std::size_t index = before_begin; index < before_end; ++index)
      counts_[before_[index]] = Count{};
    for (std::size_t index = after_begin; index < after_end; ++index)
      counts_[after_[index]] = Count{};
    if (pairs.empty()) return {};

    // piles[length - 1]: index in pairs of the chain of that length ending in
    // the smallest after-position; previous[]: the chain's predecessor.
    std::vector<std::size_t> piles;
    std::vector<std::size_t> previous(pairs.size(), pairs.size());
    for (std::size_t index = 0; index < pairs.size(); ++index) {
      auto position = std::lower_bound(
          piles.begin(), piles.end(), pairs[index].after,
          [&pairs](std::size_t pile, std::size_t after) { return pairs[pile].after < after; });
      if (position != piles.begin()) previous[index] = *(position - 1);
      if (position == piles.end()) {
        piles.push_back(index);
      } else {
        *position = index;
      }
    }
    std::vector<Anchor> chain(piles.size());
    std::size_t at = piles.back();
    for (std::size_t index = chain.size(); index-- > 0;) {
      chain[index] = pairs[at];
      at = previous[at];
    }
    return chain;
  }

  // Myers' greedy shortest edit script, keeping each distance's row of furthest
  // reaches to walk back; removals go before additions in each changed run.
  void myers(std::size_t before_begin, std::size_t before_end, std::size_t after_begin,
             std::size_t after_end) {
    const long before_size = static_cast<long>(before_end - before_begin);
    const long after_size = static_cast<long>(after_end - after_begin);
    const long most = before_size + after_size;
    const long limit = std::min<long>(most, static_cast<long>(kMaximumGapEdits));
    const std::uint32_t* before = before_.data() + before_begin;
    const std::uint32_t* after = after_.data() + after_begin;
    std::vector<long> reach(static_cast<std::size_t>(2 * limit + 3), 0);
    const long offset = limit + 1;
    // Rows stored narrow: a file under the 16 MiB cap has fewer than 2^31 lines.
    std::vector<std::vector<std::int32_t>> rows;
    long distance = -1;
    for (long edits = 0; edits <= limit && distance < 0; ++edits) {
      if (work_ + static_cast<std::size_t>(2 * edits + 1) > kWorkBudget) break;
      for (long diagonal = -edits; diagonal <= edits; diagonal += 2) {
        long x = (diagonal == -edits || (diagonal != edits && reach[offset + diagonal - 1] <
                                                                  reach[offset + diagonal + 1]))
                     ? reach[offset + diagonal + 1]
                     : reach[offset + diagonal - 1] + 1;
        long y = x - diagonal;
        while (x < before_size && y < after_size && before[x] == after[y]) {
          ++x;
          ++y;
          ++work_;
        }
        ++work_;
        reach[offset + diagonal] = x;
        if (x >= before_size && y >= after_size) distance = edits;
      }
      rows.emplace_back(reach.begin() + offset - edits, reach.begin() + offset + edits + 1);
    }
    if (distance < 0) {
      replace(static_cast<std::size_t>(before_size), static_cast<std::size_t>(after_size));
      return;
    }
    // Walk back from the end, collecting edits in reverse.
    std::vector<Edit> reversed;
    long x = before_size;
    long y = after_size;
    for (long edits = distance; edits > 0; --edits) {
      const std::vector<std::int32_t>& row = rows[static_cast<std::size_t>(edits - 1)];
      auto reach_at = [&row, edits](long diagonal) -> long {
        return row[static_cast<std::size_t>(diagonal + edits - 1)];
      };
      long diagonal = x - y;
      bool down = diagonal == -edits ||
                  (diagonal != edits && reach_at(diagonal - 1) < reach_at(diagonal + 1));
      long previous_diagonal = down ? diagonal + 1 : diagonal - 1;
      long previous_x = reach_at(previous_diagonal);
      long previous_y = previous_x - previous_diagonal;
      long snake_start = down ? previous_x : previous_x + 1;
      while (x > snake_start) {
        reversed.push_back(Edit::keep);
        --x;
        --y;
      }
      reversed.push_back(down ? Edit::add : Edit::remove);
      x = previous_x;
      y = previous_y;
    }
    reversed.insert(reversed.end(), static_cast<std::size_t>(x), Edit::keep);
    edits_.insert(edits_.end(), reversed.rbegin(), reversed.rend());
  }

  struct Count {
    std::uint32_t before = 0;
    std::uint32_t after = 0;
    std::uint32_t after_position = 0;
  };

  std::unordered_map<std::string_view, std::uint32_t> numbers_;
  std::vector<std::uint32_t> before_;
  std::vector<std::uint32_t> after_;
  std::vector<Count> counts_;
  std::vector<Task> stack_;
  std::vector<Edit> edits_;
  std::size_t work_ = 0;
};

// In each run of changes, removals first, as diff -u shows a changed block.
void removals_first(std::vector<Edit>& edits) {
  std::size_t index = 0;
  while (index < edits.size()) {
    if (edits[index] == Edit::keep) {
      ++index;
      continue;
    }
    std::size_t end = index;
    std::size_t removed = 0;
    while (end < edits.size() && edits[end] != Edit::keep) {
      if (edits[end] == Edit::remove) ++removed;
      ++end;
    }
    std::fill(edits.begin() + static_cast<long>(index),
              edits.begin() + static_cast<long>(index + removed), Edit::remove);
    std::fill(edits.begin() + static_cast<long>(index + removed),
              edits.begin() + static_cast<long>(end), Edit::add);
    index = end;
  }
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
  std::vector<Edit> edits = LineDiff(old_lines, new_lines).run();
  removals_first(edits);
  constexpr std::size_t kContext = 3;

  std::string out =
      "--- " + (before_exists ? host_path : std::string("/dev/null")) + "\n+++ " + host_path + "\n";
  // Line numbers before edits[index], carried forward from hunk to hunk.
  std::size_t old_line = 0;
  std::size_t new_line = 0;
  std::size_t index = 0;
  auto advance = [&edits, &old_line, &new_line](std::size_t from, std::size_t to) {
    for (std::size_t scan = from; scan < to; ++scan) {
      if (edits[scan] != Edit::add) ++old_line;
      if (edits[scan] != Edit::remove) ++new_line;
    }
  };
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

    advance(index, hunk_start);
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
    old_line = old_cursor;
    new_line = new_cursor;
    index = hunk_end;
  }
  return out;
}

}  // namespace qharden
