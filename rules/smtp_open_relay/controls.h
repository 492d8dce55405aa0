// qmail-smtpd's own relay decision, from the control folder: rcpthosts,
// morercpthosts(.cdb) and percenthack, and the local domains (me, locals,
// virtualdomains) that the fix writes into a new rcpthosts.
#pragma once

#include <string>
#include <vector>

#include "engine/finding.h"
#include "parsers/qmail_control.h"

namespace qharden {

class Host;
struct RuleInfo;

struct RelayControls {
  std::string folder;  // paths.qmail_control
  bool folder_exists = false;
  ControlFile rcpthosts;
  ControlFile morercpthosts;
  ControlState morercpthosts_cdb = ControlState::missing;
  std::string morercpthosts_cdb_error;
  std::vector<std::string> morercpthosts_cdb_keys;
  ControlFile percenthack;
  std::string me;                          // control/me's first line, "" when missing
  std::string envnoathost;                 // its first line, else me
  std::vector<std::string> local_domains;  // me, locals (default me), virtualdomains; lower case
};

RelayControls read_relay_controls(const Host& host, const std::string& folder);

// Would qmail-smtpd accept RCPT TO:<x@domain> without RELAYCLIENT? (rcpthosts.c)
bool rcpthosts_accept(const RelayControls& controls, const std::string& domain);

Finding rcpthosts_finding(const RuleInfo& info, const RelayControls& controls);
Finding percenthack_finding(const RuleInfo& info, const RelayControls& controls);

}  // namespace qharden
