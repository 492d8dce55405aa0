// tcp-env.flags: qmail's tcp-env does an RFC 1413 ident lookup for every
// connection unless it gets -R, and xinetd does one itself when a service with
// a log_type has USERID in log_on_success (log_on_failure: refused connections
// only). A client whose firewall drops port 113 then waits up to 30 s for the
// 220 greeting.
#include <memory>

#include "engine/context.h"
#include "inventory/problem_findings.h"
#include "inventory/systemd_units.h"
#include "parsers/getopt.h"
#include "tcp_env_flags/tcp_env_flags.h"

namespace qharden {
namespace {

constexpr std::string_view kExplanation =
    "qmail's tcp-env makes an RFC 1413 ident connection to port 113 of every SMTP client "
    "before qmail-smtpd prints its 220 greeting, unless it is started with -R. Its getopt "
    "is \"rRt:\", so a later -r undoes an earlier -R (\"-Rr\" leaves ident on), and the "
    "default wait is 30 s (-t). When the client's firewall drops port 113, every connection "
    "stalls for that long. xinetd does the same lookup itself when USERID is in a service's "
    "effective log_on_success (from `defaults` and the service), with the same 30 s wait; "
    "USERID in log_on_failure makes it look up only the connections it refuses for a limit "
    "(instances, per_source, cps, access_times), which delays no greeting but holds a "
    "logging process for up to 30 s each. xinetd logs nothing, USERID "
    "included, when neither the service nor `defaults` sets a valid log_type (Debian's "
    "stock xinetd.conf sets none).\n"
    "The rule checks every enabled xinetd service (xinetd.conf, its include and includedir "
    "files) and every inetd.conf line, tcpd-wrapped ones included, whose command runs "
    "tcp-env. Disabled services are skipped with the reason; lines switched off with "
    "`#<off>#` are not services. Lines xinetd or inetd reject are errors naming file:line.\n"
    "It also checks the ExecStart= of the service behind every systemd *.socket unit with "
    "Accept=yes (paths.systemd_unit_dirs, drop-ins applied): systemd hands qmail-smtpd only "
    "REMOTE_ADDR/REMOTE_PORT, so tcp-env is needed there and its ident lookup applies. "
    "Their unit files are never edited: the fix is qharden's drop-in for the service, "
    "<first of paths.systemd_unit_dirs>/<service>.d/zz-qharden-tcp-env.flags.conf, which "
    "empties ExecStart= and gives the effective line again with only tcp-env's options "
    "changed; systemd then loads its units again (daemon-reload over D-Bus, never under "
    "--root), and the next connection's instance runs the new line.\n"
    "The fix sets tcp-env's options to rules.\"tcp-env.flags\".options (default -Rt0), "
    "changing no other byte of the file, and adds `log_on_success -= USERID` / "
    "`log_on_failure -= USERID` to an xinetd service that does ident itself. xinetd or inetd "
    "must then reread its configuration (SIGHUP). Plesk rewrites /etc/xinetd.d/smtp_psa "
    "when mail settings change, so the agent re-audits it on change.";

constexpr std::string_view kTouches =
    "reads paths.xinetd_conf with its include/includedir files, paths.inetd_conf, "
    "/etc/default/xinetd (INETD_COMPAT), /etc/services and the *.socket units with "
    "Accept=yes and their services in paths.systemd_unit_dirs (with drop-ins); writes the "
    "xinetd service file or inetd.conf that holds the failing command line, or qharden's "
    "drop-in <service>.d/zz-qharden-tcp-env.flags.conf in the first of "
    "paths.systemd_unit_dirs (then systemd's daemon-reload), never a unit file";

std::string served_by(const ServiceCommand& command, const ServiceInventory& inventory) {
  switch (command.source) {
    case LaunchSource::xinetd:
      return "xinetd";
    case LaunchSource::inetd:
      return inventory.xinetd_serves_inetd_conf ? "xinetd (INETD_COMPAT)" : "inetd";
    case LaunchSource::systemd:
      return "systemd (" + command.service + ")";
    case LaunchSource::run_script:
      break;
  }
  return "run script";
}

std::string tcp_env_problem(const TcpEnvOptions& options) {
  if (options.error) {
    return "tcp-env options are not valid (" + *options.error +
           "): tcp-env exits with a usage error instead of serving the client";
  }
  std::string wait = options.ident_timeout_seconds == 0
                         ? "each connection still makes an ident connection before 220"
                         : "each connection can wait " +
                               std::to_string(options.ident_timeout_seconds) +
                               " s for an ident reply before 220";
  if (options.r_undoes_capital_r) return "tcp-env's -r after -R turns ident back on: " + wait;
  return "tcp-env runs without -R: " + wait;
}

std::string joined_with_and(const std::vector<std::string>& words) {
  std::string text;
  for (std::size_t index = 0; index < words.size(); ++index) {
    text += (index == 0 ? "" : index + 1 == words.size() ? " and " : ", ") + words[index];
  }
  return text;
}

std::string userid_problem(const std::vector<std::string>& attributes) {
  std::vector<std::string> parts;
  for (const std::string& attribute : attributes) {
    if (attribute == "log_on_success") {
      parts.push_back(
          "USERID in log_on_success: each connection can wait up to 30 s for an "
          "ident reply before 220");
    } else {
      parts.push_back("USERID in " + attribute +
                      ": each connection it refuses for instances, per_source, cps or "
                      "access_times holds a logging process up to 30 s for an ident reply");
    }
  }
  std::string text = "xinetd itself does an ident lookup (";
  for (std::size_t index = 0; index < parts.size(); ++index) {
    text += (index == 0 ? "" : "; ") + parts[index];
  }
  return text + ")";
}

Finding check_command(const RuleInfo& info, const ServiceCommand& command, std::size_t tcp_env,
                      const ServiceInventory& inventory) {
  std::vector<std::string> after(command.argv.begin() + static_cast<long>(tcp_env) + 1,
                                 command.argv.end());
  TcpEnvOptions options = read_tcp_env_options(after);
  const std::optional<WordLocation>& tcp_env_location = command.locations[tcp_env];
  int line = command.line;
  if (tcp_env_location) {
    line = tcp_env_location->line;
  } else if (command.server_location) {
    line = command.server_location->line;
  }
  bool userid = !command.details->xinetd_ident_attributes.empty();

  Finding finding = make_finding(info, command.subject, Status::pass, "");
  finding.evidence = {{"file", command.file},
                      {"line", line},
                      {"service_line", command.line},
                      {"tcp_env_options", options.option_words},
                      {"ident", !options.ident_off || userid},
                      {"xinetd_userid", command.details->xinetd_ident_attributes},
                      {"served_by", served_by(command, inventory)}};
  if (!command.enabled) {
    finding.status = Status::skip;
    finding.message = "service is disabled (" + command.details->disabled_reason + "); not checked";
    return finding;
  }
  std::vector<std::string> problems;
  if (!options.passes()) problems.push_back(tcp_env_problem(options));
  if (userid) problems.push_back(userid_problem(command.details->xinetd_ident_attributes));
  if (problems.empty()) {
    std::string words;
    for (const std::string& word : options.option_words) words += " " + word;
    finding.message = "tcp-env runs with" + words + ": no ident lookup before 220";
    const std::vector<std::string>& latent = command.details->xinetd_latent_ident_attributes;
    if (!latent.empty()) {
      finding.evidence["xinetd_latent_userid"] = latent;
      finding.message += ". USERID is in " + joined_with_and(latent) +
                         " but inactive, as neither the service nor defaults has a valid "
                         "log_type: with one, xinetd does ident itself" +
                         (latent.front() == "log_on_success"
                              ? ", and each connection can wait up to 30 s before 220"
                              : " for each connection it refuses for a limit");
    }
    return finding;
  }
  finding.status = Status::fail;
  for (const std::string& problem : problems) {
    finding.message += (finding.message.empty() ? "" : "; ") + problem;
  }
  // A systemd unit is fixed with a drop-in of qharden's own; the unit file is
  // never edited.
  finding.fixable = true;
  return finding;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

// qharden's drop-in copied the unit's ExecStart= line; the unit's line has
// changed since (a package upgrade), and the drop-in still runs the old one.
void judge_stale_copy(const ServiceCommand& command, Finding& finding) {
  const ServiceCommand& unit = *command.details->under_qharden_drop_in;
  // The drop-in's own verdict stays only when it is a problem too: "runs
  // with -Rt0" under a failing finding would read as all is well.
  std::string own = finding.status == Status::fail ? "; " + finding.message : std::string();
  finding.status = Status::fail;
  std::string remove = "remove " + command.file +
                       " (`qharden rollback` of that change, or delete it and run `systemctl "
                       "daemon-reload`)";
  if (unit.argv.empty()) {
    finding.fixable = false;
    finding.message = "qharden's drop-in " + command.file + " gives ExecStart= `" +
                      joined(command.argv) + "` for the unit, but " +
                      unit.details->disabled_reason + own + ". Not fixed by qharden: " + remove;
    return;
  }
  std::string place = unit.file + ":" + std::to_string(unit.line);
  finding.message = "qharden's drop-in " + command.file + " runs `" + joined(command.argv) +
                    "`, a copy of the unit's ExecStart=, but " + place + " now reads `" +
                    joined(unit.argv) + "`: the drop-in keeps the old command" + own;
  finding.evidence["unit_exec_start"] = {
      {"file", unit.file}, {"line", unit.line}, {"argv", unit.argv}};
  std::optional<std::size_t> tcp_env = find_program_word(unit.argv, "tcp-env");
  std::string why_not;
  if (!tcp_env) {
    why_not = "the unit's line no longer runs tcp-env";
  } else {
    std::vector<std::string> after(unit.argv.begin() + static_cast<long>(*tcp_env) + 1,
                                   unit.argv.end());
    if (read_tcp_env_options(after).passes()) why_not = "the unit's line now passes by itself";
  }
  if (!why_not.empty()) {
    finding.fixable = false;
    finding.message += ". Not fixed by qharden: " + why_not + "; " + remove;
    return;
  }
  finding.fixable = true;  // the drop-in is written again from the unit's line
}

class TcpEnvFlagsRule final : public StreamingRule {
 public:
  TcpEnvFlagsRule() {
    info_.id = "tcp-env.flags";
    info_.severity = Severity::critical;
    info_.summary =
        "xinetd/inetd services and socket-activated systemd services that run qmail's tcp-env "
        "pass -R, and xinetd does no ident (USERID) itself";
    info_.explanation = kExplanation;
    info_.touches = kTouches;
    info_.can_fix = true;
  }

  const RuleInfo& info() const override { return info_; }

  void check_each(AuditContext& context, const FindingSink& sink) const override {
    const ServiceInventory& inventory = context.inventory();
    if (!inventory.xinetd_present && !inventory.inetd_present &&
        !inventory.systemd_accept_sockets) {
      sink(make_finding(info_, std::string(info_.id), Status::skip,
                        "no xinetd or inetd configuration and no systemd socket "
                        "with Accept=yes on this host"));
      return;
    }
    stream_command_findings(
        info_, inventory, sink,
        [&](const ServiceCommand& command) { return judge(context, command); },
        "no xinetd service, inetd.conf line or socket-activated systemd service runs tcp-env");
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    return plan_tcp_env_fixes(context, info_, failing);
  }

 private:
  std::optional<Finding> judge(AuditContext& context, const ServiceCommand& command) const {
    if (command.source == LaunchSource::run_script) return std::nullopt;
    std::optional<std::size_t> tcp_env = find_program_word(command.argv, "tcp-env");
    if (!tcp_env) return std::nullopt;
    Finding finding = check_command(info_, command, *tcp_env, context.inventory());
    if (command.enabled && tcp_env_drop_in_is_stale(command)) judge_stale_copy(command, finding);
    if (finding.status == Status::fail && finding.fixable &&
        command.source == LaunchSource::systemd) {
      Expected<std::optional<PlannedChange>> drop_in = plan_tcp_env_drop_in(
          context, info_, tcp_env_drop_in_source(command), context.config.tcp_env_flags.options);
      if (!drop_in) {
        finding.fixable = false;
        finding.message += ". Not fixed by qharden: " + drop_in.error().message;
      }
    }
    return finding;
  }

  RuleInfo info_;
};

}  // namespace

TcpEnvOptions read_tcp_env_options(const std::vector<std::string>& words_after_tcp_env) {
  TcpEnvOptions options;
  GetoptResult parsed = parse_options(words_after_tcp_env, "rRt:");
  options.option_words.assign(
      words_after_tcp_env.begin(),
      words_after_tcp_env.begin() + static_cast<long>(parsed.first_operand));
  options.error = parsed.error;
  bool seen_capital_r = false;
  for (const ParsedOption& option : parsed.options) {
    if (option.letter == 'R') {
      options.ident_off = true;
      options.r_undoes_capital_r = false;
      seen_capital_r = true;
    } else if (option.letter == 'r') {
      options.ident_off = false;
      options.r_undoes_capital_r = seen_capital_r;
    } else if (option.letter == 't' && option.argument) {
      // tcp-env reads the leading digits (scan_ulong), so "-t5s" is 5 and "-tx" is 0.
      unsigned long seconds = 0;
      for (char digit : *option.argument) {
        if (digit < '0' || digit > '9') break;
        seconds = seconds * 10 + static_cast<unsigned long>(digit - '0');
        if (seconds > 1000000) break;
      }
      options.ident_timeout_seconds = seconds;
    }
  }
  return options;
}

std::unique_ptr<Rule> make_tcp_env_flags_rule() {
  return std::make_unique<TcpEnvFlagsRule>();
}

}  // namespace qharden
