#include "engine/journal_retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "engine/kept_changes.h"

namespace qharden {
namespace {

constexpr const char* kRemovedPrefix = ".pruned-";

// Removes a change folder that was renamed out of the journal. Backups are
// plain files; anything else (a planted symlink, a subfolder) is unlinked as
// itself, never followed.
Outcome remove_renamed_folder(int changes_folder, const std::string& name,
                              const std::string& shown_path) {
  struct stat details {};
  if (::fstatat(changes_folder, name.c_str(), &details, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Done{};
    return fail_with(shown_path + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(details.st_mode)) {
    if (::unlinkat(changes_folder, name.c_str(), 0) != 0) {
      return fail_with(shown_path + ": " + std::strerror(errno));
    }
    return Done{};
  }
  int folder =
      ::openat(changes_folder, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (folder < 0) return fail_with(shown_path + ": " + std::strerror(errno));
  DIR* listing = ::fdopendir(folder);
  if (listing == nullptr) {
    ::close(folder);
    return fail_with(shown_path + ": " + std::strerror(errno));
  }
  std::string problem;
  while (dirent* entry = ::readdir(listing)) {
    std::string file = entry->d_name;
    if (file == "." || file == "..") continue;
    if (::unlinkat(folder, file.c_str(), 0) != 0) {
      problem = shown_path + "/" + file + ": " + std::strerror(errno);
      break;
    }
  }
  ::closedir(listing);
  if (!problem.empty()) return fail_with(problem);
  if (::unlinkat(changes_folder, name.c_str(), AT_REMOVEDIR) != 0) {
    return fail_with(shown_path + ": " + std::strerror(errno));
  }
  return Done{};
}

// Which of `candidates` can go without changing what is kept: all of them
// when that holds, else one at a time, oldest first.
std::set<std::string> removable(const std::vector<JournalChange>& changes,
                                const std::vector<std::string>& candidates) {
  const std::vector<KeptChange> kept_before = kept_changes(changes);
  auto without = [&changes](const std::set<std::string>& removed) {
    std::vector<JournalChange> remaining;
    for (const JournalChange& change : changes) {
      if (removed.count(change.id) == 0) remaining.push_back(change);
    }
    return remaining;
  };
  std::set<std::string> all(candidates.begin(), candidates.end());
  if (kept_changes(without(all)) == kept_before) return all;
  std::set<std::string> chosen;
  for (const std::string& candidate : candidates) {
    chosen.insert(candidate);
    if (kept_changes(without(chosen)) != kept_before) chosen.erase(candidate);
  }
  return chosen;
}

}  // namespace

Expected<RetentionResult> prune_journal(const Journal& journal, std::size_t keep) {
  RetentionResult result;
  if (keep == 0) return result;
  const std::string changes_path = journal.directory() + "/changes";
  int changes_folder =
      ::open(changes_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (changes_folder < 0) {
    if (errno == ENOENT) return result;
    return fail_with(changes_path + ": " + std::strerror(errno));
  }
  struct FolderCloser {
    int descriptor;
    ~FolderCloser() { ::close(descriptor); }
  } closer{changes_folder};

  // What a killed earlier run left half removed.
  if (DIR* listing = ::opendir(changes_path.c_str())) {
    std::vector<std::string> leftovers;
    while (dirent* entry = ::readdir(listing)) {
      std::string name = entry->d_name;
      if (name.rfind(kRemovedPrefix, 0) == 0) leftovers.push_back(name);
    }
    ::closedir(listing);
    for (const std::string& name : leftovers) {
      Outcome removed = remove_renamed_folder(changes_folder, name, changes_path + "/" + name);
      if (!removed) return Unexpected(removed.error());
    }
  }

  Expected<std::vector<std::string>> ids = journal.change_ids();
  if (!ids) return Unexpected(ids.error());
  if (ids->size() <= keep) return result;
  Expected<std::vector<JournalChange>> changes = journal.list();
  if (!changes) return Unexpected(changes.error());

  std::vector<std::string> open = journal.open_change_ids();
  std::set<std::string> unsettled(open.begin(), open.end());
  std::size_t excess = ids->size() - keep;
  std::vector<std::string> candidates;
  for (const JournalChange& change : *changes) {
    if (candidates.size() + result.held_back == excess) break;
    if (unsettled.count(change.id) != 0 || change.status == "in-progress" ||
        change.status == "interrupted") {
      ++result.held_back;
      continue;
    }
    candidates.push_back(change.id);
  }
  std::set<std::string> chosen = removable(*changes, candidates);
  result.held_back += candidates.size() - chosen.size();

  // Ids sort in the order changes were made, so `chosen` goes oldest first.
  for (const std::string& id : chosen) {
    std::string renamed = kRemovedPrefix + id;
    if (::renameat(changes_folder, id.c_str(), changes_folder, renamed.c_str()) != 0) {
      return fail_with(changes_path + "/" + id + ": " + std::strerror(errno));
    }
    ++result.removed;
  }
  // The renames are what makes a change disappear; settle them on disk
  // before the files go.
  ::fsync(changes_folder);
  for (const std::string& id : chosen) {
    std::string renamed = kRemovedPrefix + id;
    Outcome removed = remove_renamed_folder(changes_folder, renamed, changes_path + "/" + renamed);
    if (!removed) return Unexpected(removed.error());
  }
  return result;
}

}  // namespace qharden
