// qharden: the operator's CLI. Exceptions stop here; the engine returns Expected.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/status_command.h"
#include "cli/textfile.h"

int main(int argc, char** argv) {
  qharden::CommonOptions options;
  CLI::App app{
      "qharden: audits and repairs qmail/xinetd mail hosts for a slow SMTP greeting and stuck "
      "sockets",
      "qharden"};
  app.set_version_flag("--version", std::string("qharden ") + QHARDEN_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Exit codes: see each subcommand's --help; 3 is always bad usage.\n"
      "See `qharden explain ID` for what a rule checks and why.");

  auto add_root = [&](CLI::App* command) {
    command->add_option("--root", options.root, "Audit the tree under DIR as if it were /")
        ->type_name("DIR");
  };
  auto add_config = [&](CLI::App* command) {
    command
        ->add_option("--config", options.config_file,
                     "Override the built-in defaults with FILE (default /etc/qharden/qharden.toml)")
        ->type_name("FILE");
  };
  auto add_selection = [&](CLI::App* command) {
    command->add_option("--rule", options.rule_ids, "Only this rule (repeatable)")->type_name("ID");
    command->add_flag("--offline", options.offline,
                      "No network and no live reads or writes; live findings become skip");
  };

  CLI::App* audit =
      app.add_subcommand("audit", "Check this host (or --root DIR) and report findings");
  add_selection(audit);
  add_root(audit);
  add_config(audit);
  audit->add_option("--format", options.format, "text, json or prometheus")
      ->check(CLI::IsMember({"text", "json", "prometheus"}));
  audit->footer(
      "Exit codes: 2 critical failure, 1 warning failure, 3 error or bad usage, 0 otherwise.");
  bool json_flag = false;
  audit->add_flag("--json", json_flag, "Same as --format json");
  bool textfile = false;
  audit->add_flag("--textfile", textfile,
                  "Also write the Prometheus metrics to paths.prometheus_textfile_dir/qharden.prom "
                  "(when set), as qharden-audit.service does");

  CLI::App* plan =
      app.add_subcommand("plan", "Show the diffs and commands apply would run; changes nothing");
  add_selection(plan);
  add_root(plan);
  add_config(plan);
  plan->footer(
      "Exit codes: 0 (changes or not); with --detailed-exitcode 0 nothing to do, 2 changes "
      "pending, 1 a refusal; 3 bad usage or config.");
  qharden::FixOutputOptions plan_output;
  plan->add_flag("--json", plan_output.json,
                 "One JSON object: per change the rule, subject, path, exact before/after or argv");
  plan->add_flag("--detailed-exitcode", plan_output.detailed_exit_code,
                 "Exit 0 nothing to do, 2 changes pending, 1 a refusal (3 bad usage)");

  CLI::App* apply =
      app.add_subcommand("apply", "Fix failing rules: atomic, journaled, verified, reversible");
  add_selection(apply);
  add_root(apply);
  add_config(apply);
  bool no_reload = false;
  apply->add_flag("--no-reload", no_reload,
                  "Do not reload xinetd/inetd, nor request systemd's daemon-reload, after "
                  "changing their files");
  apply->footer(
      "Exit codes: 0 every fix applied and verified, or nothing to do; 1 a fix refused, failed "
      "or rolled back, a reload failed, or the lock was busy; 3 bad usage or config.");
  qharden::FixOutputOptions apply_output;
  apply->add_flag("--json", apply_output.json,
                  "One JSON object: the change id and, per change, applied, unchanged, refused, "
                  "failed, undone or rolled-back");

  CLI::App* rollback = app.add_subcommand("rollback", "Undo a change (CHANGE_ID or --last)");
  rollback->footer(
      "Exit codes: 0 restored, 1 refused or failed (nothing half-restored), 3 bad usage.");
  std::string change_id;
  bool last = false;
  bool force = false;
  rollback->add_option("CHANGE_ID", change_id, "The change to undo (see history)");
  rollback->add_flag("--last", last, "Undo the most recent change");
  rollback->add_flag("--force", force,
                     "Restore even files changed since the fix (their current content is kept in "
                     "the journal)");
  add_root(rollback);
  add_config(rollback);

  CLI::App* history = app.add_subcommand("history", "List the changes qharden made, newest last");
  add_root(history);
  add_config(history);

  CLI::App* rules =
      app.add_subcommand("rules", "List every rule with its severity and whether it can fix");
  CLI::App* explain =
      app.add_subcommand("explain", "Explain what a rule checks, why, and what it touches");
  std::string explain_id;
  explain->add_option("ID", explain_id, "Rule id")->required();

  CLI::App* status = app.add_subcommand(
      "status",
      "Ask the running agent (qhardend) for its compliance state: exit 0 compliant, 1 "
      "not, 3 unreachable");
  status->footer(
      "Exit codes: 0 compliant, 1 not, 3 agent unreachable. With --format nagios: the audit's "
      "(2 critical, 1 warning, 3 error, 0), and 3 (UNKNOWN) for no agent, no finished audit or a "
      "report older than --max-age.");
  std::string status_bus = "system";
  status->add_option("--bus", status_bus, "system, session, or a D-Bus address")->type_name("BUS");
  std::string status_format = "text";
  status
      ->add_option("--format", status_format,
                   "text, or nagios: a monitoring-plugin line from the agent's last report "
                   "(never starts the agent, never probes)")
      ->check(CLI::IsMember({"text", "nagios"}));
  std::int64_t max_age_seconds = 0;
  status
      ->add_option("--max-age", max_age_seconds,
                   "With --format nagios: UNKNOWN when the last audit is older than S seconds")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber);

  CLI::App* config_command = app.add_subcommand("config", "Work with a configuration file");
  config_command->require_subcommand(1);
  CLI::App* config_check = config_command->add_subcommand(
      "check", "Exit 0 when FILE is a valid config, 3 with FILE:LINE:COLUMN otherwise");
  std::string config_check_file;
  config_check->add_option("FILE", config_check_file, "The TOML file to check")
      ->required()
      ->type_name("FILE");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    // --help and --version exit 0; every other usage error is 3, as the design says.
    return code == 0 ? 0 : 3;
  }
  if (json_flag) options.format = "json";

  try {
    if (*audit && textfile) return qharden::run_textfile_audit(options);
    if (*audit) return qharden::run_audit_command(options);
    if (*plan) return qharden::run_plan_command(options, plan_output);
    if (*apply) return qharden::run_apply_command(options, !no_reload, apply_output);
    if (*rollback) {
      if (last == !change_id.empty()) {
        std::cerr << "qharden: rollback: give either CHANGE_ID or --last\n";
        return 3;
      }
      return qharden::run_rollback_command(options, change_id, force);
    }
    if (*history) return qharden::run_history_command(options);
    if (*rules) return qharden::run_rules_command();
    if (*explain) return qharden::run_explain_command(explain_id);
    if (*status && status_format == "nagios") {
      return qharden::run_nagios_status(status_bus, max_age_seconds);
    }
    if (*status) {
      if (max_age_seconds != 0) {
        std::cerr << "qharden: status: --max-age needs --format nagios\n";
        return 3;
      }
      return qharden::run_status_command(status_bus);
    }
    if (*config_check) return qharden::run_config_check_command(config_check_file);
  } catch (const std::exception& exception) {
    std::cerr << "qharden: internal error: " << exception.what() << '\n';
    return 3;
  }
  return 3;
}
