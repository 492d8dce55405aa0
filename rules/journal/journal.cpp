#include "journal/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>

#include <nlohmann/json.hpp>

#include "journal/lock.h"
#include "parsers/byte_text.h"

namespace qharden {
namespace {

using nlohmann::json;

// JSON text holds only UTF-8, and file names and command lines are bytes: a
// string that is not UTF-8 (a Latin-1 file name "smtp_\xe9") is kept byte for
// byte as {"base64": ...}, as the fixer's messages carry it, so that rollback
// finds the very file the apply wrote.
json bytes_json(const std::string& bytes) {
  if (is_valid_utf8(bytes)) return bytes;
  return json{{"base64", base64_encode(bytes)}};
}

json bytes_list_json(const std::vector<std::string>& list) {
  json array = json::array();
  for (const std::string& bytes : list) array.push_back(bytes_json(bytes));
  return array;
}

std::optional<std::string> bytes_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_object()) return std::nullopt;
  auto encoded = value.find("base64");
  if (encoded == value.end() || !encoded->is_string()) return std::nullopt;
  return base64_decode(encoded->get<std::string>());
}

// Reads a manifest's fields. A missing one takes its default (an older
// journal). One of the wrong type (a manifest edited by hand) is noted in
// `wrong`: for the fields an undo acts on, a made-up value would restore a
// file with mode 0 or run a changed command line, so such an entry is not
// undone (see entry_from_json).
struct FieldReader {
  const json& object;
  std::vector<std::string> wrong;

  std::string text(const char* key, const std::string& fallback = "") {
    auto found = object.find(key);
    if (found == object.end()) return fallback;
    std::optional<std::string> bytes = bytes_of(*found);
    if (!bytes) wrong.emplace_back(key);
    return bytes.value_or(fallback);
  }
  std::vector<std::string> list(const char* key) {
    std::vector<std::string> items;
    auto found = object.find(key);
    if (found == object.end()) return items;
    if (!found->is_array()) {
      wrong.emplace_back(key);
      return items;
    }
    for (const json& item : *found) {
      std::optional<std::string> bytes = bytes_of(item);
      if (!bytes) {
        wrong.emplace_back(key);
        return {};
      }
      items.push_back(std::move(*bytes));
    }
    return items;
  }
  template <typename Number>
  Number number(const char* key, Number fallback) {
    auto found = object.find(key);
    if (found == object.end()) return fallback;
    if (!found->is_number_unsigned()) {
      wrong.emplace_back(key);
      return fallback;
    }
    return found->get<Number>();
  }
  bool flag(const char* key, bool fallback) {
    auto found = object.find(key);
    if (found == object.end()) return fallback;
    if (!found->is_boolean()) {
      wrong.emplace_back(key);
      return fallback;
    }
    return found->get<bool>();
  }
};

json entry_to_json(const JournalEntry& entry) {
  return {{"rule", bytes_json(entry.rule)},
          {"subject", bytes_json(entry.subject)},
          {"summary", bytes_json(entry.summary)},
          {"kind", entry.kind},
          {"target", bytes_json(entry.target)},
          {"existed", entry.existed},
          {"before_sha256", entry.before_sha256},
          {"after_sha256", entry.after_sha256},
          {"mode", entry.mode},
          {"owner", entry.owner},
          {"group", entry.group},
          {"backup", entry.backup},
          {"created_folder", bytes_json(entry.created_folder)},
          {"value_before", bytes_json(entry.value_before)},
          {"value_after", bytes_json(entry.value_after)},
          {"sysctl_source", bytes_json(entry.sysctl_source)},
          {"argv", bytes_list_json(entry.argv)},
          {"undo_argv", bytes_list_json(entry.undo_argv)},
          {"listing_argv", bytes_list_json(entry.listing_argv)},
          {"present_marker", bytes_json(entry.present_marker)},
          {"note", bytes_json(entry.note)},
          {"state", entry.state},
          {"error", bytes_json(entry.error)}};
}

JournalEntry entry_from_json(const json& value) {
  JournalEntry entry;
  entry.state = "unknown";
  if (!value.is_object()) {
    entry.error = "the journal entry is not an object; not undone";
    return entry;
  }
  FieldReader field{value, {}};
  entry.rule = field.text("rule");
  entry.subject = field.text("subject");
  entry.summary = field.text("summary");
  entry.kind = field.text("kind");
  entry.target = field.text("target");
  entry.existed = field.flag("existed", true);
  entry.before_sha256 = field.text("before_sha256");
  entry.after_sha256 = field.text("after_sha256");
  entry.mode = field.number<mode_t>("mode", 0);
  entry.owner = field.number<uid_t>("owner", 0);
  entry.group = field.number<gid_t>("group", 0);
  entry.backup = field.text("backup");
  entry.created_folder = field.text("created_folder");
  entry.value_before = field.text("value_before");
  entry.value_after = field.text("value_after");
  entry.sysctl_source = field.text("sysctl_source");
  entry.argv = field.list("argv");
  entry.undo_argv = field.list("undo_argv");
  entry.listing_argv = field.list("listing_argv");
  entry.present_marker = field.text("present_marker");
  entry.note = field.text("note");
  entry.state = field.text("state", "unknown");
  entry.error = field.text("error");
  if (!field.wrong.empty()) {
    std::string names;
    for (const std::string& name : field.wrong) names += (names.empty() ? "" : ", ") + name;
    entry.state = "unknown";
    entry.error = "the journal gives " + names + " with the wrong type; not undone";
  }
  return entry;
}

std::string utc_now(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm broken_down{};
  ::gmtime_r(&now, &broken_down);
  char text[40];
  std::strftime(text, sizeof text, format, &broken_down);
  return text;
}

// Manifests are readable by everyone: the agent runs unprivileged and learns
// from them which fixes it keeps. They hold paths, hashes, sysctl values and
// argv, nothing of a file's content. Backups hold content and stay private.
constexpr mode_t kManifestMode = 0644;
constexpr mode_t kBackupMode = 0600;

// Writes path through a temporary and a rename, so a manifest is never half
// written even when the run is killed.
Outcome write_whole_file(const std::string& path, std::string_view bytes, mode_t mode) {
  std::string temporary = path + ".tmp";
  int descriptor =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (descriptor < 0) return fail_with(temporary + ": " + std::strerror(errno));
  if (::fchmod(descriptor, mode) != 0) {
    int number = errno;
    ::close(descriptor);
    ::unlink(temporary.c_str());
    return fail_with(temporary + ": set mode: " + std::strerror(number));
  }
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t count = ::write(descriptor, bytes.data() + written, bytes.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      int number = errno;
      ::close(descriptor);
      ::unlink(temporary.c_str());
      return fail_with(temporary + ": " + std::strerror(number) +
                       (number == ENOSPC ? " (the state dir is full)" : ""));
    }
    written += static_cast<std::size_t>(count);
  }
  if (::fsync(descriptor) != 0) {
    int number = errno;
    ::close(descriptor);
    ::unlink(temporary.c_str());
    return fail_with(temporary + ": fsync: " + std::strerror(number));
  }
  ::close(descriptor);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    int number = errno;
    ::unlink(temporary.c_str());
    return fail_with(path + ": " + std::strerror(number));
  }
  std::string folder = path.substr(0, path.rfind('/'));
  int folder_descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_descriptor >= 0) {
    ::fsync(folder_descriptor);
    ::close(folder_descriptor);
  }
  return Done{};
}

Expected<std::string> read_whole_file(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (descriptor < 0) return fail_with(path + ": " + std::strerror(errno));
  std::string content;
  char buffer[65536];
  ssize_t count;
  while ((count = ::read(descriptor, buffer, sizeof buffer)) > 0) {
    content.append(buffer, static_cast<std::size_t>(count));
  }
  int number = errno;
  ::close(descriptor);
  if (count < 0) return fail_with(path + ": " + std::strerror(number));
  return content;
}

}  // namespace

bool is_valid_change_id(std::string_view change_id) {
  // 20261125T150102Z-3f9a: digits, T, Z, dash and hex only, so an id from a
  // D-Bus caller or the command line can never name a path outside the journal.
  if (change_id.size() < 18 || change_id.size() > 40) return false;
  return std::all_of(change_id.begin(), change_id.end(), [](char character) {
    return (character >= '0' && character <= '9') || (character >= 'a' && character <= 'f') ||
           character == 'T' || character == 'Z' || character == '-';
  });
}

std::string Journal::change_folder(const std::string& change_id) const {
  return directory_ + "/changes/" + change_id;
}

Expected<std::vector<std::string>> Journal::change_ids() const {
  std::vector<std::string> ids;
  std::string folder = directory_ + "/changes";
  DIR* directory = ::opendir(folder.c_str());
  if (directory == nullptr) {
    if (errno == ENOENT) return ids;
    return fail_with(folder + ": " + std::strerror(errno));
  }
  while (dirent* entry = ::readdir(directory)) {
    if (is_valid_change_id(entry->d_name)) ids.emplace_back(entry->d_name);
  }
  ::closedir(directory);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::string Journal::manifest_path(const std::string& change_id) const {
  return change_folder(change_id) + "/manifest.json";
}

std::string Journal::open_marker(const std::string& change_id) const {
  return directory_ + "/open/" + change_id;
}

Expected<JournalChange> Journal::begin_change(const std::string& root) {
  // The suffix counts on from the newest id, so ids sort in the order they
  // were made even within one second, and keep doing so after retention has
  // removed older changes; callers hold the state lock, so it cannot race.
  // Read from the folder names: a journal of thousands of changes is not
  // parsed for it.
  Expected<std::vector<std::string>> existing = change_ids();
  if (!existing) return Unexpected(existing.error());
  std::size_t sequence = existing->size() + 1;
  if (!existing->empty()) {
    const std::string& newest = existing->back();
    std::size_t dash = newest.rfind('-');
    if (dash != std::string::npos) {
      sequence = std::max(sequence, std::strtoul(newest.c_str() + dash + 1, nullptr, 16) + 1);
    }
  }
  JournalChange change;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%04zx", sequence & 0xffff);
  change.id = utc_now("%Y%m%dT%H%M%SZ") + "-" + suffix;
  change.created_at = utc_now("%Y-%m-%dT%H:%M:%SZ");
  change.root = root;
  // Marked open before anything of it exists, so that a run killed at any
  // point leaves a mark the next run finds without reading every manifest.
  Outcome opened = make_directories(directory_ + "/open");
  if (!opened) return Unexpected(opened.error());
  int marker =
      ::open(open_marker(change.id).c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (marker < 0) return fail_with(open_marker(change.id) + ": " + std::strerror(errno));
  ::close(marker);
  Outcome made = make_directories(change_folder(change.id));
  if (!made) return Unexpected(made.error());
  Outcome saved = save(change);
  if (!saved) return Unexpected(saved.error());
  return change;
}

std::vector<std::string> Journal::open_change_ids() const {
  std::vector<std::string> ids;
  DIR* directory = ::opendir((directory_ + "/open").c_str());
  if (directory == nullptr) {
    // A journal from before the marks: every change may be open, once.
    if (errno != ENOENT) return ids;
    Expected<std::vector<std::string>> every = change_ids();
    return every ? *every : ids;
  }
  while (dirent* entry = ::readdir(directory)) {
    if (is_valid_change_id(entry->d_name)) ids.emplace_back(entry->d_name);
  }
  ::closedir(directory);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void Journal::mark_settled(const std::string& change_id) const {
  ::unlink(open_marker(change_id).c_str());
}

void Journal::start_marking() const {
  (void)make_directories(directory_ + "/open");
}

Outcome Journal::save(const JournalChange& change) const {
  json entries = json::array();
  for (const JournalEntry& entry : change.entries) entries.push_back(entry_to_json(entry));
  json manifest = {{"schema", 1},
                   {"id", change.id},
                   {"created_at", change.created_at},
                   {"status", change.status},
                   {"root", bytes_json(change.root)},
                   {"reloads", change.reloads},
                   {"rolled_back_at", change.rolled_back_at},
                   {"rolled_back_after", change.rolled_back_after},
                   {"entries", entries}};
  Outcome written = write_whole_file(change_folder(change.id) + "/manifest.json",
                                     manifest.dump(2) + "\n", kManifestMode);
  // Settled on disk: no longer a change a killed run could have left open.
  if (written && change.status != "in-progress") mark_settled(change.id);
  return written;
}

Outcome Journal::store_bytes(const JournalChange& change, const std::string& name,
                             std::string_view bytes) const {
  return write_whole_file(change_folder(change.id) + "/" + name, bytes, kBackupMode);
}

Expected<std::string> Journal::load_bytes(const JournalChange& change,
                                          const std::string& name) const {
  return read_whole_file(change_folder(change.id) + "/" + name);
}

Expected<JournalChange> Journal::load(const std::string& change_id) const {
  if (!is_valid_change_id(change_id)) return fail_with(change_id + ": not a change id");
  std::string path = change_folder(change_id) + "/manifest.json";
  Expected<std::string> text = read_whole_file(path);
  if (!text) return fail_with(change_id + ": no such change (" + text.error().message + ")");
  json manifest = json::parse(*text, nullptr, false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return fail_with(path + ": the manifest is not valid JSON");
  }
  JournalChange change;
  FieldReader field{manifest, {}};
  change.created_at = field.text("created_at");
  change.status = field.text("status", "unknown");
  change.root = field.text("root");
  change.reloads = field.list("reloads");
  change.rolled_back_at = field.text("rolled_back_at");
  change.rolled_back_after = field.text("rolled_back_after");
  // The folder it was read from names it, whatever the file says: saving
  // under another id would write into another change's folder.
  change.id = change_id;
  auto entries = manifest.find("entries");
  if (entries != manifest.end() && !entries->is_array()) field.wrong.emplace_back("entries");
  // Read on, a rollback would restore nothing, skip the reloads, and save the
  // manifest without its entries: the change is refused by name instead.
  if (!field.wrong.empty()) {
    std::string names;
    for (const std::string& name : field.wrong) names += (names.empty() ? "" : ", ") + name;
    return fail_with(path + ": the manifest gives " + names + " with the wrong type");
  }
  if (entries != manifest.end()) {
    for (const json& entry : *entries) change.entries.push_back(entry_from_json(entry));
  }
  return change;
}

void Journal::remove_stale_temporaries() const {
  std::string folder = directory_ + "/changes";
  // Only a change still open can hold a temporary: every save of a manifest
  // renames its temporary away, and the last one closes the change.
  for (const std::string& change_id : open_change_ids()) {
    std::string change_path = folder + "/" + change_id;
    if (::access((change_path + "/manifest.json").c_str(), F_OK) != 0 && errno == ENOENT) {
      // Empty, or only a manifest's ".tmp": the run died before its first save.
      ::unlink((change_path + "/manifest.json.tmp").c_str());
      ::rmdir(change_path.c_str());
      mark_settled(change_id);
      continue;
    }
    DIR* files = ::opendir(change_path.c_str());
    if (files == nullptr) continue;
    while (dirent* file = ::readdir(files)) {
      std::string name = file->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
        ::unlink((change_path + "/" + name).c_str());
      }
    }
    ::closedir(files);
  }
}

Expected<std::vector<JournalChange>> Journal::list() const {
  std::vector<JournalChange> changes;
  Expected<std::vector<std::string>> ids = change_ids();
  if (!ids) return Unexpected(ids.error());
  for (const std::string& id : *ids) {
    // A run killed between creating a change folder and its first manifest
    // leaves an empty folder: nothing was changed, so there is nothing to list
    // (remove_stale_temporaries removes it, under the lock; a reader must not,
    // since a running apply may be about to write that manifest).
    if (::access((change_folder(id) + "/manifest.json").c_str(), F_OK) != 0) continue;
    Expected<JournalChange> change = load(id);
    if (!change) return Unexpected(change.error());
    changes.push_back(std::move(*change));
  }
  return changes;
}

}  // namespace qharden

namespace qharden {

Expected<std::vector<JournalChange>> CachedJournalReader::changes() {
  Expected<std::vector<std::string>> ids = journal_.change_ids();
  if (!ids) return Unexpected(ids.error());
  std::map<std::string, Cached> fresh;
  std::vector<JournalChange> changes;
  for (const std::string& id : *ids) {
    struct stat details {};
    if (::stat(journal_.manifest_path(id).c_str(), &details) != 0) continue;
    std::int64_t modified_ns =
        static_cast<std::int64_t>(details.st_mtim.tv_sec) * 1000000000 + details.st_mtim.tv_nsec;
    auto known = cache_.find(id);
    if (known != cache_.end() && known->second.inode == details.st_ino &&
        known->second.size == details.st_size && known->second.modified_ns == modified_ns) {
      fresh.emplace(id, std::move(known->second));
    } else {
      Expected<JournalChange> change = journal_.load(id);
      if (!change) return Unexpected(change.error());
      fresh.emplace(id, Cached{details.st_ino, details.st_size, modified_ns, std::move(*change)});
    }
    changes.push_back(fresh.at(id).change);
  }
  cache_ = std::move(fresh);
  return changes;
}

}  // namespace qharden
