// Drift watching: which folders to watch for which rules, and the inotify
// descriptor that reports changes in them. Folders rather than files, because
// Plesk and editors replace a file by rename, which a watch on the old inode
// never sees.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace qharden::agent {

// What a change in a folder can affect; each topic maps to the rules to re-audit.
// kJournal: the state lock was released, so the journal may have changed.
// kQmailControl: qmail's control folder (rcpthosts, percenthack, me, ...).
enum Topic : unsigned {
  kServices = 1U,
  kResolver = 2U,
  kSysctl = 4U,
  kJournal = 8U,
  kQmailControl = 16U
};

struct WatchedFolder {
  std::set<std::string> names;  // empty: any entry (include dirs, sysctl.d)
  unsigned topics = 0;
};

// Host folder -> what to watch in it. files_read is the service inventory's
// list of parsed files (xinetd includes, inetd.conf, run scripts, envdirs).
std::map<std::string, WatchedFolder> watch_list(const Config& config,
                                                const std::vector<std::string>& files_read);

// The rule ids a change in these topics can turn from pass to fail, fast file
// rules first so that a drifted xinetd file is repaired before the DNS probes.
std::vector<std::string> rules_for_topics(unsigned topics);

class FolderWatcher {
 public:
  FolderWatcher();
  ~FolderWatcher();
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  int descriptor() const { return descriptor_; }

  // Replaces the watched set; folders are host paths resolved under root.
  // Missing folders are skipped (a later audit may find them).
  void update(const std::string& root, const std::map<std::string, WatchedFolder>& folders);

  // Drains pending events; returns the union of the topics touched.
  unsigned read_topics();

  std::size_t watched_count() const { return by_descriptor_.size(); }

 private:
  int descriptor_ = -1;
  std::map<int, WatchedFolder> by_descriptor_;
  std::map<std::string, int> by_path_;
};

}  // namespace qharden::agent
