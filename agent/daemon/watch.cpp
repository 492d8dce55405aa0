#include "daemon/watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "host/host.h"

namespace qharden::agent {
namespace {

std::string parent_folder(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void add_named(std::map<std::string, WatchedFolder>& folders, const std::string& file,
               unsigned topic) {
  if (file.empty()) return;
  WatchedFolder& folder = folders[parent_folder(file)];
  // A folder already watched for any entry stays so.
  if (folder.topics == 0 || !folder.names.empty()) folder.names.insert(base_name(file));
  folder.topics |= topic;
}

void add_any(std::map<std::string, WatchedFolder>& folders, const std::string& folder_path,
             unsigned topic) {
  WatchedFolder& folder = folders[folder_path];
  folder.names.clear();
  folder.topics |= topic;
}

// Where systemd-sysctl and procps look for boot-time values.
constexpr std::array kSysctlFolders{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
                                    "/usr/lib/sysctl.d", "/lib/sysctl.d"};

}  // namespace

std::map<std::string, WatchedFolder> watch_list(const Config& config,
                                                const std::vector<std::string>& files_read) {
  std::map<std::string, WatchedFolder> folders;
  std::set<std::string> named{config.paths.xinetd_conf, config.paths.inetd_conf,
                              "/etc/default/xinetd"};
  // Files parsed through includes or globs live in folders where a new entry
  // matters too; the top-level files sit in /etc, where only they matter.
  for (const std::string& file : files_read) {
    if (!named.contains(file)) add_any(folders, parent_folder(file), kServices);
  }
  for (const std::string& file : named) add_named(folders, file, kServices);
  add_named(folders, config.paths.resolv_conf, kResolver);
  add_named(folders, "/etc/sysctl.conf", kSysctl);
  for (const char* folder : kSysctlFolders) add_any(folders, folder, kSysctl);
  // Any entry: rcpthosts appearing or vanishing decides an open relay.
  add_any(folders, config.paths.qmail_control, kQmailControl);
  // Every writer of the journal (the CLI, a fixer) holds the lock, opened for
  // writing, while it writes: its close is the moment to read the journal. On
  // a host where nothing was applied the state dir (even /var/lib, in a bare
  // --root tree) does not exist yet, so each folder on the way is watched for
  // the next one to appear.
  std::string path = config.paths.state_dir + "/lock";
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    add_named(folders, path.substr(0, slash), kJournal);
  }
  add_named(folders, path, kJournal);
  return folders;
}

std::vector<std::string> rules_for_topics(unsigned topics) {
  std::vector<std::string> rules;
  if ((topics & kServices) != 0) {
    rules.insert(rules.end(),
                 {"tcp-env.flags", "tcpserver.flags", "smtp.open-relay", "listener.burst-limits"});
  }
  if ((topics & kSysctl) != 0) {
    rules.insert(rules.end(), {"sysctl.tcp-fin-timeout", "sysctl.tcp-keepalive"});
  }
  if ((topics & kResolver) != 0) rules.emplace_back("resolv.nameservers");
  if ((topics & (kServices | kQmailControl)) != 0 &&
      std::find(rules.begin(), rules.end(), "smtp.open-relay") == rules.end()) {
    rules.emplace_back("smtp.open-relay");
  }
  if ((topics & (kServices | kResolver)) != 0) rules.emplace_back("rblsmtpd.sources");
  // me/helohost/smtpgreeting and the resolvers both lookups go through.
  if ((topics & (kQmailControl | kResolver)) != 0) rules.emplace_back("smtp.identity");
  if ((topics & kResolver) != 0) rules.emplace_back("dnsbl.self");
  return rules;
}

FolderWatcher::FolderWatcher() : descriptor_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (descriptor_ < 0)
    spdlog::error("inotify_init1: {}; drift is only seen by periodic audits", std::strerror(errno));
}

FolderWatcher::~FolderWatcher() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

void FolderWatcher::update(const std::string& root,
                           const std::map<std::string, WatchedFolder>& folders) {
  if (descriptor_ < 0) return;
  constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                  IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                  IN_ONLYDIR;
  std::map<std::string, int> kept;
  std::map<int, WatchedFolder> described;
  for (const auto& [folder, watched] : folders) {
    std::string real_path = path_under_root(root, folder);
    int watch = ::inotify_add_watch(descriptor_, real_path.c_str(), kMask);
    if (watch < 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        spdlog::warn("cannot watch {}: {}", real_path, std::strerror(errno));
      }
      continue;
    }
    // Two host folders can be one inode (a symlink); merge what they want.
    auto [entry, inserted] = described.try_emplace(watch, watched);
    if (!inserted) {
      if (watched.names.empty() || entry->second.names.empty()) {
        entry->second.names.clear();
      } else {
        entry->second.names.insert(watched.names.begin(), watched.names.end());
      }
      entry->second.topics |= watched.topics;
    }
    kept[real_path] = watch;
  }
  for (const auto& [path, watch] : by_path_) {
    if (!described.contains(watch)) ::inotify_rm_watch(descriptor_, watch);
  }
  by_path_ = std::move(kept);
  by_descriptor_ = std::move(described);
}

unsigned FolderWatcher::read_topics() {
  unsigned topics = 0;
  alignas(inotify_event) std::array<char, 16384> buffer{};
  while (descriptor_ >= 0) {
    ssize_t length = ::read(descriptor_, buffer.data(), buffer.size());
    if (length <= 0) break;
    for (ssize_t offset = 0; offset < length;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        topics |= kServices | kResolver | kSysctl | kJournal | kQmailControl;
        continue;
      }
      auto watched = by_descriptor_.find(event->wd);
      if (watched == by_descriptor_.end()) continue;
      std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if (name.empty() || watched->second.names.empty() || watched->second.names.contains(name)) {
        topics |= watched->second.topics;
      }
    }
  }
  return topics;
}

}  // namespace qharden::agent
