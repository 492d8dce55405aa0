#include "host/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace qharden {
namespace {

void close_quietly(int& descriptor) {
  if (descriptor >= 0) ::close(descriptor);
  descriptor = -1;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string describe_argv(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& word : argv) {
    if (!text.empty()) text += ' ';
    bool plain = !word.empty() && word.find_first_of(" \t\"'\\$`;&|<>*?") == std::string::npos;
    text += plain ? word : "'" + word + "'";
  }
  return text;
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  for (const char* folder :
       {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::string candidate = std::string(folder) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Expected<CommandResult> run_command(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout) {
  if (argv.empty()) return fail_with("empty command");
  std::string program = find_program(argv.front());
  if (program.empty()) return fail_with(argv.front() + ": program not found");
  int output_pipe[2] = {-1, -1};
  int error_pipe[2] = {-1, -1};
  if (::pipe2(output_pipe, O_CLOEXEC) != 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    return fail_with(describe_argv(argv) + ": pipe: " + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, error_pipe[1], STDERR_FILENO);
  std::vector<std::string> words = argv;
  words.front() = program;
  std::vector<char*> pointers;
  for (std::string& word : words) pointers.push_back(word.data());
  pointers.push_back(nullptr);
  pid_t child = 0;
  int spawn_error =
      ::posix_spawn(&child, program.c_str(), &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close_quietly(output_pipe[1]);
  close_quietly(error_pipe[1]);
  if (spawn_error != 0) {
    close_quietly(output_pipe[0]);
    close_quietly(error_pipe[0]);
    return fail_with(describe_argv(argv) + ": " + std::strerror(spawn_error));
  }
  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (output_pipe[0] >= 0 || error_pipe[0] >= 0) {
    pollfd descriptors[2] = {{output_pipe[0], POLLIN, 0}, {error_pipe[0], POLLIN, 0}};
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0) {
      timed_out = true;
      break;
    }
    int ready = ::poll(descriptors, 2, static_cast<int>(remaining.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (int index = 0; index < 2; ++index) {
      if (descriptors[index].fd < 0 || descriptors[index].revents == 0) continue;
      char buffer[4096];
      ssize_t count = ::read(descriptors[index].fd, buffer, sizeof buffer);
      if (count > 0) {
        (index == 0 ? result.standard_output : result.standard_error)
            .append(buffer, static_cast<std::size_t>(count));
      } else if (count == 0 || errno != EINTR) {
        close_quietly(index == 0 ? output_pipe[0] : error_pipe[0]);
      }
    }
  }
  close_quietly(output_pipe[0]);
  close_quietly(error_pipe[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return fail_with(describe_argv(argv) + ": no answer within " + std::to_string(timeout.count()) +
                     " ms; killed");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code != 0) {
    std::string error_text = trimmed(result.standard_error);
    return fail_with(describe_argv(argv) + ": exit code " + std::to_string(result.exit_code) +
                     (error_text.empty() ? "" : ": " + error_text));
  }
  return result;
}

}  // namespace qharden
