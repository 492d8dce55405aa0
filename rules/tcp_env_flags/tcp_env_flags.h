// Internals of the tcp-env.flags rule shared by its check, its plan and its
// tests, and by smtp.greeting, which reads tcp-env's options the same way.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/change.h"
#include "engine/expected.h"
#include "engine/finding.h"
#include "engine/rule.h"

namespace qharden {

struct AuditContext;

// What tcp-env makes of the words after it, read with its own getopt "rRt:".
struct TcpEnvOptions {
  std::vector<std::string> option_words;  // the words getopt consumes, "--" included
  bool ident_off = false;                 // -R, not undone by a later -r
  bool r_undoes_capital_r = false;        // "-Rr": -R was there, a later -r turned ident back on
  unsigned long ident_timeout_seconds = 30;
  std::optional<std::string> error;  // tcp-env would exit with a usage error
  bool passes() const { return ident_off && !error; }
};

TcpEnvOptions read_tcp_env_options(const std::vector<std::string>& words_after_tcp_env);

// A byte-range replacement in a file's text.
struct TextEdit {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string replacement;
};

// Applies edits given against the original text; overlapping edits are an
// error. Insertions at one offset keep the order they were given in.
Expected<std::string> apply_text_edits(std::string_view text, std::vector<TextEdit> edits);

struct ServiceCommand;

// A socket-activated service's fix: qharden's drop-in for the service, which
// empties ExecStart= and gives the effective line again with only tcp-env's
// option words set to options_text; nothing when it already says so. The
// audit calls it too, so that a refusal ($VAR options, a symlink, a later
// drop-in that would win) makes the finding unfixable with the reason
// instead of failing the whole plan.
Expected<std::optional<PlannedChange>> plan_tcp_env_drop_in(AuditContext& context,
                                                            const RuleInfo& info,
                                                            const ServiceCommand& command,
                                                            const std::string& options_text);

// The command a systemd service's drop-in is planned from: the unit's own
// line when qharden's drop-in holds a copy of it that no longer matches
// (argv compared without tcp-env's option words), else the command itself.
const ServiceCommand& tcp_env_drop_in_source(const ServiceCommand& command);
// Whether qharden's drop-in copy is out of date (see above).
bool tcp_env_drop_in_is_stale(const ServiceCommand& command);

Expected<std::vector<PlannedChange>> plan_tcp_env_fixes(AuditContext& context, const RuleInfo& info,
                                                        const std::vector<Finding>& failing);

}  // namespace qharden
