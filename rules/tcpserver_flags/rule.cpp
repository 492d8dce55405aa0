// tcpserver.flags: every daemontools/runit run script that starts tcpserver
// passes -R, so no client waits for an ident reply before the 220 greeting.
#include <algorithm>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"
#include "parsers/shell_words.h"
#include "tcpserver_flags/tcpserver_build.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {
namespace {

std::string parent_directory(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string restart_advice(const ServiceCommand& command) {
  std::string daemontools = "svc -t " + parent_directory(command.file);
  std::string runit = "sv restart " + command.service;
  if (command.details->supervisor == "daemontools") return "`" + daemontools + "`";
  if (command.details->supervisor == "runit") return "`" + runit + "`";
  return "`" + daemontools + "` (daemontools) or `" + runit + "` (runit)";
}

std::string describe_ident_wait(const TcpserverOptions& options) {
  std::string wait =
      options.ident_timeout_seconds == 0
          ? "it still opens an ident connection for every client (-t0 only shortens the wait)"
          : "it waits up to " + std::to_string(options.ident_timeout_seconds) + " s (" +
                (options.ident_timeout_seconds == kTcpserverDefaultIdentTimeoutSeconds
                     ? std::string("tcpserver's default -t26")
                     : "-t" + std::to_string(options.ident_timeout_seconds)) +
                ") when the client's firewall drops port 113";
  return "before each 220 greeting tcpserver asks the client's ident service (port 113); " + wait;
}

struct TcpserverUse {
  const ServiceCommand* command = nullptr;
  std::size_t program_index = 0;
  TcpserverOptions options;
  TcpserverBuildFound build;
};

// The PATH the run script gives tcpserver's lookup, when it sets one.
std::optional<std::string> path_variable(const ServiceCommand& command) {
  return command.details->search_path;
}

std::vector<std::string> words_after(const std::vector<std::string>& argv, std::size_t index) {
  return {argv.begin() + static_cast<std::ptrdiff_t>(index + 1), argv.end()};
}

class TcpserverFlagsRule final : public Rule {
 public:
  TcpserverFlagsRule() {
    info_.id = "tcpserver.flags";
    info_.severity = Severity::critical;
    info_.summary = "every run script that starts tcpserver passes -R (no ident wait)";
    info_.explanation =
        "Without -R, tcpserver (ucspi-tcp) makes an RFC 1413 ident connection to every client "
        "before it starts qmail-smtpd, and waits up to -t seconds (26 by default) when a "
        "firewall drops port 113: the client sees no 220 greeting for that long. The rule "
        "parses each run script matched by paths.run_scripts like /bin/sh (continuations, "
        "quotes, exec, envdir/softlimit/setuidgid/chpst wrappers) and reads tcpserver's "
        "options with its own getopt, so -vRHl0 counts and a later -r undoes -R; -4, -6 and -I "
        "count only where the installed tcpserver is ucspi-tcp-ipv6's build. The fix "
        "adds -R as its own word; restarting the service is left to the operator.";
    info_.touches =
        "reads the run scripts matched by paths.run_scripts and the tcpserver binary they "
        "start (to tell ucspi-tcp from ucspi-tcp-ipv6); writes the same run script";
    info_.can_fix = true;
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    const ServiceInventory& inventory = context.inventory();
    std::vector<Finding> findings;
    if (inventory.run_scripts_seen.empty()) {
      std::string globs;
      for (const std::string& pattern : context.config.paths.run_scripts) {
        globs += (globs.empty() ? "" : ", ") + pattern;
      }
      findings.push_back(make_finding(info_, std::string(info_.id), Status::skip,
                                      "no run script matched the configured globs (" + globs +
                                          "): nothing starts tcpserver under a supervisor"));
      findings.back().evidence = {{"globs", context.config.paths.run_scripts}};
      return findings;
    }
    std::map<std::string, std::vector<TcpserverUse>> uses_by_script;
    TcpserverBuilds builds(context.host);
    // Run scripts only: a socket-activated systemd service runs no tcpserver
    // (systemd accepts), and plain services running tcpserver are not in the
    // inventory yet.
    for (const ServiceCommand& command : inventory.commands) {
      if (command.source != LaunchSource::run_script) continue;
      std::optional<std::size_t> index = find_program_word(command.argv, "tcpserver");
      if (!index) continue;
      const TcpserverBuildFound& build =
          builds.of(command.argv[*index], command.file, path_variable(command));
      uses_by_script[command.subject].push_back(
          {&command, *index, read_tcpserver_options(words_after(command.argv, *index), build.build),
           build});
    }
    for (const auto& [script, uses] : uses_by_script) {
      findings.push_back(judge(script, uses, inventory));
    }
    add_unreadable_scripts(context, inventory, uses_by_script, findings);
    return findings;
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    std::vector<PlannedChange> changes;
    // Run scripts by subject, built once: a scan per finding is quadratic on
    // hosts with many services (issue 15). The first one wins, as a scan would.
    std::unordered_map<std::string_view, const ServiceCommand*> scripts;
    TcpserverBuilds builds(context.host);
    // Only run scripts are edited: a systemd unit never is.
    for (const ServiceCommand& each : context.inventory().commands) {
      if (each.source == LaunchSource::run_script) scripts.emplace(each.subject, &each);
    }
    for (const Finding& finding : failing) {
      auto found = scripts.find(finding.subject);
      if (found == scripts.end()) continue;
      const ServiceCommand* command = found->second;
      Expected<std::string> before = context.host.read_file(finding.subject);
      if (!before) return Unexpected(before.error());
      // The script's PATH as the inventory read it, envdir included.
      Expected<std::string> after =
          add_ident_off_option(finding.subject, *before, builds, path_variable(*command));
      if (!after) return Unexpected(after.error());
      if (*after == *before) continue;
      PlannedChange change;
      change.rule = std::string(info_.id);
      change.subject = finding.subject;
      change.summary = "add -R to tcpserver's options in " + finding.subject +
                       " (its own word, after any -r)." +
                       " The running tcpserver keeps its old options until the service "
                       "restarts, which is left to you: " +
                       restart_advice(*command);
      change.action = FileReplacement{finding.subject, *before, *after, false};
      changes.push_back(std::move(change));
    }
    return changes;
  }

 private:
  Finding judge(const std::string& script, const std::vector<TcpserverUse>& uses,
                const ServiceInventory& inventory) const {
    const TcpserverUse* shown = &uses.front();
    for (const TcpserverUse& use : uses) {
      if (use.options.error || !use.options.ident_disabled) {
        shown = &use;
        break;
      }
    }
    const ServiceCommand& command = *shown->command;
    const TcpserverOptions& options = shown->options;
    const std::optional<WordLocation>& location = command.locations[shown->program_index];
    Finding finding = make_finding(info_, script, Status::pass, "");
    finding.evidence = {{"file", command.file},
                        {"line", location ? location->line : command.line},
                        {"tcpserver_options", options.words},
                        {"ident_timeout_s", options.ident_timeout_seconds},
                        {"tcpserver_build", to_string(shown->build.build)},
                        {"tcpserver_binary", shown->build.path},
                        {"service", command.service},
                        {"supervisor", command.details->supervisor},
                        {"wrappers", command.details->wrappers}};
    nlohmann::json parse_problems = nlohmann::json::array();
    for (const InventoryProblem& problem : inventory.problems) {
      if (problem.file == script) {
        parse_problems.push_back({{"line", problem.line}, {"message", problem.message}});
      }
    }
    if (!parse_problems.empty()) finding.evidence["problems"] = parse_problems;
    std::string variables_note =
        options.options_from_variables
            ? "; some of its options come from shell variables, which qharden does not expand"
            : "";
    if (options.error) {
      finding.status = Status::error;
      std::string why = *options.error;
      if (options.only_ipv6_build_takes_them) {
        why += ", which only ucspi-tcp-ipv6's tcpserver takes, and " +
               (shown->build.build == TcpserverBuild::plain
                    ? shown->build.path + " is the plain ucspi-tcp build"
                    : shown->build.unknown);
      }
      finding.message = "tcpserver would reject its options (" + why +
                        ") and exit at once, so ident cannot be judged";
    } else if (options.ident_disabled && !parse_problems.empty()) {
      // The options are right, but /bin/sh may never get that far.
      finding.status = Status::error;
      finding.message = "tcpserver has -R, but " + script + ":" +
                        std::to_string(parse_problems.front()["line"].get<int>()) + ": " +
                        parse_problems.front()["message"].get<std::string>() +
                        ", so the script may not run as it reads";
    } else if (options.ident_disabled) {
      finding.message =
          "tcpserver runs with -R: no ident lookup before the greeting" + variables_note;
    } else {
      finding.status = Status::fail;
      finding.fixable = true;
      finding.message =
          std::string(options.r_undoes_capital_r ? "a later -r undoes tcpserver's -R: "
                      : options.has_ident_enabling_option
                          ? "tcpserver runs with -r and without -R: "
                          : "tcpserver runs without -R: ") +
          describe_ident_wait(options) + variables_note;
    }
    return finding;
  }

  // A script that could not be read, or whose parse went wrong and that names
  // tcpserver, cannot be judged: say so rather than stay silent.
  void add_unreadable_scripts(AuditContext& context, const ServiceInventory& inventory,
                              const std::map<std::string, std::vector<TcpserverUse>>& judged,
                              std::vector<Finding>& findings) const {
    std::map<std::string, const InventoryProblem*> first_problem;
    for (const InventoryProblem& problem : inventory.problems) {
      if (problem.source != LaunchSource::run_script || judged.count(problem.file) > 0) continue;
      first_problem.emplace(problem.file, &problem);
    }
    for (const auto& [file, problem] : first_problem) {
      if (problem->line > 0) {
        Expected<std::string> text = context.host.read_file(file);
        if (text && text->find("tcpserver") == std::string::npos) continue;
      }
      std::string where = problem->line > 0 ? file + ":" + std::to_string(problem->line) : file;
      Finding finding = make_finding(info_, file, Status::error,
                                     "cannot tell whether this run script starts tcpserver with "
                                     "-R: " +
                                         where + ": " + problem->message);
      finding.evidence = {{"file", file}, {"line", problem->line}};
      findings.push_back(std::move(finding));
    }
  }

  // Inserts " -R" after the tcpserver word, or after tcpserver's last option
  // when an explicit -r would otherwise undo it. No other byte changes.
  static Expected<std::string> add_ident_off_option(const std::string& file,
                                                    const std::string& before,
                                                    TcpserverBuilds& builds,
                                                    const std::optional<std::string>& search_path) {
    std::vector<std::size_t> insert_at;
    for (const ProgramCommand& program :
         resolve_programs(parse_shell_script(file, before)).commands) {
      std::vector<std::string> texts;
      for (const ShellWord& word : program.argv) texts.push_back(word.text);
      std::optional<std::size_t> index = find_program_word(texts, "tcpserver");
      if (!index) continue;
      TcpserverOptions options = read_tcpserver_options(
          words_after(texts, *index), builds.of(texts[*index], file, search_path).build);
      if (options.error || options.ident_disabled) continue;
      std::size_t anchor = *index;
      if (options.has_ident_enabling_option && options.last_option_word) {
        anchor = *index + 1 + *options.last_option_word;
      }
      const WordLocation& location = program.argv[anchor].location;
      insert_at.push_back(location.offset + location.length);
    }
    std::sort(insert_at.rbegin(), insert_at.rend());
    std::string after = before;
    for (std::size_t offset : insert_at) after.insert(offset, " -R");
    for (const ProgramCommand& program :
         resolve_programs(parse_shell_script(file, after)).commands) {
      std::vector<std::string> texts;
      for (const ShellWord& word : program.argv) texts.push_back(word.text);
      std::optional<std::size_t> index = find_program_word(texts, "tcpserver");
      if (!index) continue;
      TcpserverOptions options = read_tcpserver_options(
          words_after(texts, *index), builds.of(texts[*index], file, search_path).build);
      if (!options.error && !options.ident_disabled) {
        return fail_with(file + ": adding -R did not turn ident off on line " +
                         std::to_string(program.line) + "; edit it by hand");
      }
    }
    return after;
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_tcpserver_flags_rule() {
  return std::make_unique<TcpserverFlagsRule>();
}

}  // namespace qharden
