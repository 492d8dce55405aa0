#include "host/host.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <dirent.h>

namespace qharden {
namespace {

std::string describe_errno(const std::string& host_path, int error_number) {
  return host_path + ": " + std::strerror(error_number);
}

std::string relative_to_root(const std::string& host_path) {
  std::size_t start = host_path.find_first_not_of('/');
  if (start == std::string::npos) return ".";
  return host_path.substr(start);
}

bool has_glob_characters(const std::string& component) {
  return component.find_first_of("*?[") != std::string::npos;
}

std::vector<std::string> split_components(const std::string& path) {
  std::vector<std::string> components;
  std::size_t position = 0;
  while (position < path.size()) {
    std::size_t next = path.find('/', position);
    if (next == std::string::npos) next = path.size();
    if (next > position) components.push_back(path.substr(position, next - position));
    position = next + 1;
  }
  return components;
}

struct DescriptorCloser {
  int descriptor;
  ~DescriptorCloser() {
    if (descriptor >= 0) ::close(descriptor);
  }
};

}  // namespace

std::string path_under_root(const std::string& root, const std::string& host_path) {
  if (root == "/" || root.empty()) return host_path;
  std::string joined = root;
  while (joined.size() > 1 && joined.back() == '/') joined.pop_back();
  if (!host_path.empty() && host_path.front() != '/') joined += '/';
  return joined + host_path;
}

std::vector<std::string> Host::glob(const std::string& pattern) const {
  std::vector<std::string> current{"/"};
  for (const std::string& component : split_components(pattern)) {
    std::vector<std::string> next;
    for (const std::string& base : current) {
      std::string prefix = base == "/" ? "/" : base + "/";
      if (!has_glob_characters(component)) {
        next.push_back(prefix + component);
        continue;
      }
      Expected<std::vector<std::string>> entries = list_directory(base);
      if (!entries) continue;
      for (const std::string& name : *entries) {
        if (name.front() == '.' && component.front() != '.') continue;
        if (::fnmatch(component.c_str(), name.c_str(), FNM_PERIOD) == 0) {
          next.push_back(prefix + name);
        }
      }
    }
    current = std::move(next);
  }
  std::vector<std::string> matches;
  for (const std::string& candidate : current) {
    if (exists(candidate)) matches.push_back(candidate);
  }
  std::sort(matches.begin(), matches.end());
  return matches;
}

bool Host::exists(const std::string& host_path) const {
  Expected<FileStatus> file_status = status(host_path, true);
  return file_status && file_status->kind != FileKind::missing;
}

Expected<RootedHost> RootedHost::open(const std::string& root) {
  std::string normalised = root.empty() ? "/" : root;
  while (normalised.size() > 1 && normalised.back() == '/') normalised.pop_back();
  int descriptor = ::open(normalised.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) {
    return fail_with("--root " + normalised + ": " + std::strerror(errno));
  }
  return RootedHost(normalised, descriptor);
}

RootedHost::RootedHost(std::string root, int root_descriptor)
    : root_(std::move(root)), root_descriptor_(root_descriptor) {}

RootedHost::RootedHost(RootedHost&& other) noexcept
    : root_(std::move(other.root_)), root_descriptor_(other.root_descriptor_) {
  other.root_descriptor_ = -1;
}

RootedHost::~RootedHost() {
  if (root_descriptor_ >= 0) ::close(root_descriptor_);
}

int RootedHost::open_raw(const std::string& host_path, int flags, bool follow_final_symlink) const {
  open_how how{};
  how.flags =
      static_cast<std::uint64_t>(flags | O_CLOEXEC | (follow_final_symlink ? 0 : O_NOFOLLOW));
  // RESOLVE_IN_ROOT gives chroot semantics: absolute symlinks and ".." stay inside.
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string relative = relative_to_root(host_path);
  long descriptor = ::syscall(SYS_openat2, root_descriptor_, relative.c_str(), &how, sizeof how);
  // systemd's RestrictSUIDSGID=yes (set in qhardend.service) answers openat2
  // with ENOSYS: its seccomp filter cannot see the mode inside open_how, so
  // it pushes callers back to openat. Found by the boot test. At root "/"
  // RESOLVE_IN_ROOT changes nothing, so plain openat resolves the same path;
  // under any other root there is no safe fallback, and the error stays.
  if (descriptor < 0 && errno == ENOSYS && root_ == "/") {
    descriptor = ::openat(root_descriptor_, relative.c_str(), static_cast<int>(how.flags));
  }
  if (descriptor < 0) return -errno;
  return static_cast<int>(descriptor);
}

Expected<int> RootedHost::open_under_root(const std::string& host_path, int flags,
                                          bool follow_final_symlink) const {
  int descriptor = open_raw(host_path, flags, follow_final_symlink);
  if (descriptor < 0) return fail_with(describe_errno(host_path, -descriptor));
  return descriptor;
}

Outcome Host::read_file_in_blocks(const std::string& host_path,
                                  const FileBlockVisitor& each_block) const {
  Expected<std::string> text = read_file(host_path);
  if (!text) return Unexpected(text.error());
  each_block(*text);
  return Done{};
}

namespace {

std::string too_large_message(const std::string& host_path) {
  return host_path + ": file is larger than " + std::to_string(kMaximumFileBytes) +
         " bytes; refusing to read it";
}

std::string grew_message(const std::string& host_path) {
  return host_path + ": file grew past the size cap while being read";
}

}  // namespace

// What read_file and read_file_in_blocks refuse alike: anything but a regular
// file, and a file over the cap.
Expected<RootedHost::OpenedFile> RootedHost::open_regular_file(const std::string& host_path) const {
  Expected<int> opened = open_under_root(host_path, O_RDONLY | O_NONBLOCK, true);
  if (!opened) return Unexpected(opened.error());
  OpenedFile file{*opened, 0};
  struct stat file_stat {};
  if (::fstat(*opened, &file_stat) != 0) {
    int saved = errno;
    ::close(*opened);
    return fail_with(describe_errno(host_path, saved));
  }
  std::string refusal;
  if (S_ISDIR(file_stat.st_mode))
    refusal = host_path + ": is a directory";
  else if (!S_ISREG(file_stat.st_mode))
    refusal = host_path + ": not a regular file";
  else if (file_stat.st_size > kMaximumFileBytes)
    refusal = too_large_message(host_path);
  if (!refusal.empty()) {
    ::close(*opened);
    return fail_with(refusal);
  }
  file.size = file_stat.st_size;
  return file;
}

Expected<std::string> RootedHost::read_file(const std::string& host_path) const {
  Expected<OpenedFile> opened = open_regular_file(host_path);
  if (!opened) return Unexpected(opened.error());
  DescriptorCloser closer{opened->descriptor};
  std::string content;
  // The size fstat gives, so a 16 MiB file is not held at twice its size while
  // it grows (issue 15: audit memory); a file that grows meanwhile still reads.
  content.reserve(static_cast<std::size_t>(opened->size));
  char buffer[65536];
  for (;;) {
    ssize_t count = ::read(opened->descriptor, buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      return fail_with(describe_errno(host_path, errno));
    }
    if (count == 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
    if (static_cast<std::int64_t>(content.size()) > kMaximumFileBytes) {
      return fail_with(grew_message(host_path));
    }
  }
  return content;
}

Outcome RootedHost::read_file_in_blocks(const std::string& host_path,
                                        const FileBlockVisitor& each_block) const {
  Expected<OpenedFile> opened = open_regular_file(host_path);
  if (!opened) return Unexpected(opened.error());
  DescriptorCloser closer{opened->descriptor};
  // Bytes read but not yet handed on: at most a block and the line it cuts.
  // Read into directly: an include is read inside the visitor of the file
  // that includes it, 16 deep at most, so no buffer on the stack, and no
  // more room than the file needs (most xinetd files are a few KiB).
  constexpr std::size_t kReadBytes = 65536;
  std::string pending;
  pending.reserve(std::min(static_cast<std::size_t>(opened->size), kFileBlockBytes) + kReadBytes);
  std::size_t last_newline = std::string::npos;  // in pending
  std::int64_t total = 0;
  for (;;) {
    std::size_t before = pending.size();
    pending.resize(before + kReadBytes);
    ssize_t count = ::read(opened->descriptor, pending.data() + before, kReadBytes);
    pending.resize(before + static_cast<std::size_t>(std::max<ssize_t>(count, 0)));
    if (count < 0) {
      if (errno == EINTR) continue;
      return fail_with(describe_errno(host_path, errno));
    }
    if (count == 0) break;
    total += count;
    if (total > kMaximumFileBytes) return fail_with(grew_message(host_path));
    // Only the bytes just read are searched: a long line must not be searched
    // again for every read (quadratic on a 16 MiB file of one line).
    const void* newline = ::memrchr(pending.data() + before, '\n', static_cast<std::size_t>(count));
    if (newline != nullptr) {
      last_newline = static_cast<std::size_t>(static_cast<const char*>(newline) - pending.data());
    }
    if (pending.size() < kFileBlockBytes || last_newline == std::string::npos) continue;
    each_block(std::string_view(pending).substr(0, last_newline + 1));
    pending.erase(0, last_newline + 1);
    last_newline = std::string::npos;  // it was the last one
  }
  if (!pending.empty()) each_block(pending);
  return Done{};
}

Expected<std::vector<std::string>> RootedHost::list_directory(const std::string& host_path) const {
  Expected<int> opened = open_under_root(host_path, O_RDONLY | O_DIRECTORY, true);
  if (!opened) return Unexpected(opened.error());
  DIR* directory = ::fdopendir(*opened);
  if (directory == nullptr) {
    int saved = errno;
    ::close(*opened);
    return fail_with(describe_errno(host_path, saved));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> directory_guard(directory, ::closedir);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* entry = ::readdir(directory)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  if (errno != 0) return fail_with(describe_errno(host_path, errno));
  std::sort(names.begin(), names.end());
  return names;
}

Expected<FileStatus> RootedHost::status(const std::string& host_path,
                                        bool follow_final_symlink) const {
  int descriptor = open_raw(host_path, O_PATH, follow_final_symlink);
  FileStatus result;
  // A missing file is an ordinary answer, not an error; a loop or EACCES is.
  if (descriptor == -ENOENT || descriptor == -ENOTDIR) return result;
  if (descriptor < 0) return fail_with(describe_errno(host_path, -descriptor));
  DescriptorCloser closer{descriptor};
  struct stat file_stat {};
  if (::fstat(descriptor, &file_stat) != 0) return fail_with(describe_errno(host_path, errno));
  if (S_ISREG(file_stat.st_mode)) {
    result.kind = FileKind::regular;
  } else if (S_ISDIR(file_stat.st_mode)) {
    result.kind = FileKind::directory;
  } else if (S_ISLNK(file_stat.st_mode)) {
    result.kind = FileKind::symlink;
  } else {
    result.kind = FileKind::other;
  }
  result.mode = file_stat.st_mode & 07777;
  result.owner = file_stat.st_uid;
  result.group = file_stat.st_gid;
  result.inode = file_stat.st_ino;
  result.device = file_stat.st_dev;
  result.size = file_stat.st_size;
  return result;
}

Expected<std::string> RootedHost::read_symlink(const std::string& host_path) const {
  Expected<int> opened = open_under_root(host_path, O_PATH, false);
  if (!opened) return Unexpected(opened.error());
  DescriptorCloser closer{*opened};
  char target[4096];
  ssize_t length = ::readlinkat(*opened, "", target, sizeof target - 1);
  if (length < 0) return fail_with(describe_errno(host_path, errno));
  return std::string(target, static_cast<std::size_t>(length));
}

std::string RootedHost::runtime_sysctl_source() const {
  if (root_ != "/") {
    Expected<FileStatus> proc_sys = status("/proc/sys", true);
    if (proc_sys && proc_sys->kind == FileKind::directory) return root_ + "/proc/sys";
  }
  return "/proc/sys";
}

Expected<std::string> RootedHost::read_runtime_sysctl(const std::string& slash_key) const {
  std::string source = runtime_sysctl_source();
  std::string content;
  if (source == "/proc/sys") {
    std::string path = "/proc/sys/" + slash_key;
    int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (descriptor < 0) return fail_with(describe_errno(path, errno));
    DescriptorCloser closer{descriptor};
    char buffer[256];
    ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0) return fail_with(describe_errno(path, errno));
    content.assign(buffer, static_cast<std::size_t>(count));
  } else {
    Expected<std::string> read = read_file("/proc/sys/" + slash_key);
    if (!read) return Unexpected(Error{root_ + read.error().message});
    content = std::move(*read);
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == ' ')) content.pop_back();
  return content;
}

}  // namespace qharden
