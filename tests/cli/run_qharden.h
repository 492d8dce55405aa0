// Runs the real qharden binary and captures what it prints.
#pragma once

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace qharden::testing {

struct RunResult {
  int exit_code = -1;
  std::string standard_output;
  std::string standard_error;
  nlohmann::json json() const { return nlohmann::json::parse(standard_output); }
};

inline std::string read_all(int descriptor) {
  std::string text;
  char buffer[8192];
  ssize_t count;
  while ((count = ::read(descriptor, buffer, sizeof buffer)) > 0) {
    text.append(buffer, static_cast<std::size_t>(count));
  }
  return text;
}

inline RunResult run_qharden(const std::vector<std::string>& arguments) {
  std::vector<std::string> words{QHARDEN_BINARY};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  char output_template[] = "/tmp/qharden-cli-out-XXXXXX";
  char error_template[] = "/tmp/qharden-cli-err-XXXXXX";
  int output_descriptor = ::mkstemp(output_template);
  int error_descriptor = ::mkstemp(error_template);
  ::unlink(output_template);
  ::unlink(error_template);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, output_descriptor, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, error_descriptor, STDERR_FILENO);
  pid_t child = 0;
  RunResult result;
  if (::posix_spawn(&child, argv[0], &actions, nullptr, argv.data(), environ) == 0) {
    int status = 0;
    ::waitpid(child, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  ::lseek(output_descriptor, 0, SEEK_SET);
  ::lseek(error_descriptor, 0, SEEK_SET);
  result.standard_output = read_all(output_descriptor);
  result.standard_error = read_all(error_descriptor);
  ::close(output_descriptor);
  ::close(error_descriptor);
  return result;
}

inline std::string fixture_host(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

}  // namespace qharden::testing
