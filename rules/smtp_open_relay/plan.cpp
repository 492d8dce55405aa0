#include "smtp_open_relay/plan.h"

#include "host/host.h"
#include "smtp_open_relay/controls.h"

namespace qharden {

Expected<std::vector<PlannedChange>> plan_rcpthosts(const Host& host, const RelayControls& controls,
                                                    const std::string& rule_id) {
  std::string path = controls.folder + "/rcpthosts";
  if (controls.rcpthosts.state != ControlState::missing) {
    return fail_with(path + " exists; an empty or unreadable rcpthosts is left to the operator");
  }
  Expected<FileStatus> folder = host.status(controls.folder, false);
  if (!folder || folder->kind != FileKind::directory) {
    return fail_with(controls.folder + " is not a folder (missing, or a symlink), so " + path +
                     " is not created");
  }
  if (controls.local_domains.empty()) {
    return fail_with("no domain in " + controls.folder +
                     "/me, locals or virtualdomains to write into rcpthosts; create it by hand");
  }
  std::string content;
  for (const std::string& domain : controls.local_domains) content += domain + "\n";
  PlannedChange change;
  change.rule = rule_id;
  change.subject = path;
  change.summary = "create rcpthosts with the local domains (" +
                   std::to_string(controls.local_domains.size()) +
                   "); qmail-smtpd reads it on the next connection, no restart needed";
  if (controls.morercpthosts_cdb != ControlState::missing) {
    change.summary += "; morercpthosts.cdb becomes active too";
  }
  change.action = FileReplacement{path, "", content, true};
  return std::vector<PlannedChange>{change};
}

}  // namespace qharden
