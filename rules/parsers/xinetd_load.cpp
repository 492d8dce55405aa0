// Follows `include` and `includedir` the way xinetd does (includedir.c: names
// in strcmp order, none with a '.' or a trailing '~', regular files only after
// following symlinks), with the guards xinetd lacks: a depth cap, cycle
// detection by file identity, a file count cap, and each file read once.
#include <algorithm>
#include <set>

#include "parsers/text_lines.h"
#include "parsers/xinetd.h"

namespace qharden {
namespace {

std::string absolute(const std::string& path) {
  // xinetd runs from "/", so a relative include names a file under "/".
  if (!path.empty() && path.front() == '/') return path;
  return "/" + path;
}

std::string join(const std::string& directory, const std::string& name) {
  if (!directory.empty() && directory.back() == '/') return directory + name;
  return directory + "/" + name;
}

// Host errors read "PATH: reason"; the problem already names the file.
std::string reason_only(const std::string& message, const std::string& path) {
  std::string prefix = path + ": ";
  if (message.rfind(prefix, 0) == 0) return message.substr(prefix.size());
  return message;
}

struct IncludeSite {
  std::string file;
  int line = 0;
};

class XinetdLoader {
 public:
  XinetdLoader(const XinetdFileSource& source, const XinetdAttributeFilter& keep,
               const XinetdSectionVisitor& visit)
      : source_(source), keep_(keep), visit_(visit) {}

  XinetdConfiguration load(const std::string& main_file) {
    read_file(absolute(main_file), 0, IncludeSite{});
    if (problems_seen_ > kXinetdMaximumProblems) {
      configuration_.problems.push_back(XinetdProblem{
          absolute(main_file), 0,
          std::to_string(problems_seen_ - kXinetdMaximumProblems) + " more problems not listed"});
    }
    return std::move(configuration_);
  }

 private:
  void record(XinetdProblem problem) {
    if (++problems_seen_ <= kXinetdMaximumProblems) {
      configuration_.problems.push_back(std::move(problem));
    }
  }

  void problem(const IncludeSite& site, const std::string& fallback_file, std::string message) {
    bool has_site = !site.file.empty();
    record(XinetdProblem{has_site ? site.file : fallback_file, has_site ? site.line : 0,
                         std::move(message)});
  }

  void read_file(const std::string& path, int depth, const IncludeSite& site) {
    if (depth > kXinetdMaximumIncludeDepth) {
      problem(site, path,
              "include of " + path + " is nested more than " +
                  std::to_string(kXinetdMaximumIncludeDepth) + " levels deep; not followed");
      return;
    }
    if (configuration_.files_read.size() >= kXinetdMaximumFiles) {
      problem(site, path,
              "more than " + std::to_string(kXinetdMaximumFiles) + " files; " + path +
                  " and the rest are not read");
      return;
    }
    std::string identity = source_.identity(path);
    if (reading_.count(identity) != 0) {
      problem(site, path, "include cycle: " + path + " is already being read; not followed");
      return;
    }
    if (!read_once_.insert(identity).second) {
      problem(site, path,
              path + " is included a second time; xinetd would read its services twice");
      return;
    }
    // A block at a time, so that not even a file's text is held whole (issue
    // 15: audit memory), and twice: a NUL byte anywhere makes the whole file
    // unusable to xinetd, so the first reading looks for one before the
    // second parses. The inventory's hash check catches a file that changes
    // between the two.
    int nul_line = 0;
    int lines_before = 0;
    Outcome scanned = source_.read_file_in_blocks(path, [&](std::string_view block) {
      if (nul_line != 0) return;
      if (int in_block = first_nul_line(block); in_block != 0) {
        nul_line = lines_before + in_block;
      } else {
        lines_before += static_cast<int>(std::count(block.begin(), block.end(), '\n'));
      }
    });
    if (!scanned) {
      // The file itself is at fault (unreadable, a loop), so it carries the problem.
      record(XinetdProblem{path, 0, reason_only(scanned.error().message, path)});
      return;
    }
    configuration_.files_read.push_back(path);
    if (nul_line != 0) {
      record(XinetdProblem{path, nul_line, "binary file (NUL byte); xinetd cannot use it"});
      return;
    }
    reading_.insert(identity);
    // Each item is handled as the parser completes it, an include by reading
    // that file there and then, so sections and problems arrive in xinetd's
    // reading order and no file is held parsed whole.
    XinetdBlockParser parser(
        path, keep_,
        [&](XinetdItem&& item) {
          if (auto* section = std::get_if<XinetdSection>(&item)) {
            if (visit_) {
              visit_(std::move(*section));
            } else {
              configuration_.sections.push_back(std::move(*section));
            }
            return;
          }
          const XinetdInclude& include = std::get<XinetdInclude>(item);
          IncludeSite here{path, include.line};
          if (include.directory) {
            read_directory(absolute(include.path), depth + 1, here);
          } else {
            read_file(absolute(include.path), depth + 1, here);
          }
        },
        [this](XinetdProblem&& problem) { record(std::move(problem)); });
    Outcome parsed =
        source_.read_file_in_blocks(path, [&](std::string_view block) { parser.feed(block); });
    if (parsed) {
      parser.finish();
    } else {
      // Failed part way, after what came before was handed on: the read error
      // says why the rest is missing, so no "no closing `}`" beside it.
      record(XinetdProblem{path, 0, reason_only(parsed.error().message, path)});
    }
    reading_.erase(identity);
  }

  void read_directory(const std::string& directory, int depth, const IncludeSite& site) {
    Expected<std::vector<std::string>> names = source_.list_directory(directory);
    if (!names) {
      problem(site, directory,
              "includedir " + directory + ": " + reason_only(names.error().message, directory));
      return;
    }
    std::vector<std::string> sorted = *names;
    std::sort(sorted.begin(), sorted.end());
    for (const std::string& name : sorted) {
      if (!xinetd_reads_directory_entry(name)) continue;
      std::string path = join(directory, name);
      Expected<bool> regular = source_.is_regular_file(path);
      if (!regular) {
        record(XinetdProblem{path, 0, reason_only(regular.error().message, path)});
        continue;
      }
      if (!*regular) {
        record(XinetdProblem{path, 0, "not a regular file; xinetd skips it"});
        continue;
      }
      read_file(path, depth, site);
    }
  }

  const XinetdFileSource& source_;
  const XinetdAttributeFilter& keep_;
  const XinetdSectionVisitor& visit_;
  XinetdConfiguration configuration_;
  std::set<std::string> reading_;
  std::set<std::string> read_once_;
  std::size_t problems_seen_ = 0;
};

}  // namespace

bool xinetd_reads_directory_entry(std::string_view name) {
  return !name.empty() && name.find('.') == std::string_view::npos && name.back() != '~';
}

XinetdConfiguration load_xinetd_configuration(const std::string& main_file,
                                              const XinetdFileSource& source,
                                              const XinetdAttributeFilter& keep) {
  return XinetdLoader(source, keep, {}).load(main_file);
}

XinetdConfiguration visit_xinetd_configuration(const std::string& main_file,
                                               const XinetdFileSource& source,
                                               const XinetdAttributeFilter& keep,
                                               const XinetdSectionVisitor& visit) {
  return XinetdLoader(source, keep, visit).load(main_file);
}

}  // namespace qharden
