// A throwaway folder for tests that write, removed with everything in it.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace qharden::testing {

class TemporaryTree {
 public:
  TemporaryTree() {
    char pattern[] = "/tmp/qharden-test-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TemporaryTree() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryTree(const TemporaryTree&) = delete;
  TemporaryTree& operator=(const TemporaryTree&) = delete;

  const std::string& path() const { return path_; }
  const std::string& root() const { return path_; }
  std::string real(const std::string& host_path) const { return path_ + host_path; }

  void write(const std::string& host_path, const std::string& content, mode_t mode = 0644) const {
    std::filesystem::create_directories(std::filesystem::path(real(host_path)).parent_path());
    std::ofstream(real(host_path), std::ios::binary | std::ios::trunc) << content;
    ::chmod(real(host_path).c_str(), mode);
  }
  std::string read(const std::string& host_path) const {
    std::ifstream stream(real(host_path), std::ios::binary);
    std::ostringstream content;
    content << stream.rdbuf();
    return content.str();
  }
  void symlink(const std::string& target, const std::string& host_path) const {
    std::filesystem::create_directories(std::filesystem::path(real(host_path)).parent_path());
    std::filesystem::create_symlink(target, real(host_path));
  }
  // Copies a fixture host tree (symlinks kept as symlinks).
  void copy_from(const std::string& source) const {
    std::filesystem::copy(
        source, path_,
        std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  }
  // Names in a folder, to check that no temporary was left behind.
  std::string listing(const std::string& host_path) const { return listing_of(real(host_path)); }
  static std::string listing_of(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    std::string joined;
    for (const std::string& name : names) joined += name + " ";
    return joined;
  }

 private:
  std::string path_;
};

inline std::string fixture_root(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

inline std::string read_fixture(const std::string& name, const std::string& host_path) {
  std::ifstream stream(fixture_root(name) + host_path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(stream), {});
}

}  // namespace qharden::testing
