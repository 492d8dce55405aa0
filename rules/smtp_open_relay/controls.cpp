#include "smtp_open_relay/controls.h"

#include <algorithm>
#include <set>

#include "engine/rule.h"
#include "host/host.h"
#include "parsers/cdb.h"

namespace qharden {
namespace {

using nlohmann::json;

void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (!item.empty() && std::find(list.begin(), list.end(), item) == list.end())
    list.push_back(item);
}

std::string first_line_of(const Host& host, const std::string& path) {
  ControlFile file = read_control_file(host, path);
  return file.lines.empty() ? "" : file.lines.front();
}

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

// qmail-showctl's four states, plus "ignored" when rcpthosts is missing.
std::string morercpthosts_state(const RelayControls& controls) {
  bool source = controls.morercpthosts.state != ControlState::missing;
  bool cdb = controls.morercpthosts_cdb != ControlState::missing;
  if (!source && !cdb) return "absent";
  if (controls.rcpthosts.state == ControlState::missing) return "ignored";
  if (controls.morercpthosts_cdb == ControlState::unreadable) return "cdb-unreadable";
  if (source && !cdb) return "source-without-cdb";
  if (!source && cdb) return "cdb-without-source";
  std::set<std::string> written;
  for (const std::string& line : controls.morercpthosts.lines)
    written.insert(lower_case_ascii(line));
  std::set<std::string> compiled(controls.morercpthosts_cdb_keys.begin(),
                                 controls.morercpthosts_cdb_keys.end());
  return written == compiled ? "ok" : "cdb-differs";
}

}  // namespace

RelayControls read_relay_controls(const Host& host, const std::string& folder) {
  RelayControls controls;
  controls.folder = folder;
  Expected<FileStatus> status = host.status(folder, true);
  controls.folder_exists = status && status->kind == FileKind::directory;
  controls.rcpthosts = read_control_file(host, folder + "/rcpthosts");
  controls.morercpthosts = read_control_file(host, folder + "/morercpthosts");
  controls.percenthack = read_control_file(host, folder + "/percenthack");
  std::string cdb_path = folder + "/morercpthosts.cdb";
  Expected<FileStatus> cdb_status = host.status(cdb_path, true);
  if (!(cdb_status && cdb_status->kind == FileKind::missing)) {
    Expected<std::string> bytes = host.read_file(cdb_path);
    Expected<std::vector<CdbRecord>> records =
        bytes ? read_cdb_records(*bytes, cdb_path)
              : Expected<std::vector<CdbRecord>>(Unexpected(bytes.error()));
    if (records) {
      controls.morercpthosts_cdb = ControlState::present;
      for (const CdbRecord& record : *records)
        controls.morercpthosts_cdb_keys.push_back(record.key);
    } else {
      controls.morercpthosts_cdb = ControlState::unreadable;
      controls.morercpthosts_cdb_error = records.error().message;
    }
  }
  controls.me = lower_case_ascii(first_line_of(host, folder + "/me"));
  controls.envnoathost = lower_case_ascii(first_line_of(host, folder + "/envnoathost"));
  if (controls.envnoathost.empty()) controls.envnoathost = controls.me;
  add_unique(controls.local_domains, controls.me);
  ControlFile locals = read_control_file(host, folder + "/locals");
  if (locals.state == ControlState::missing) {
    // control_readfile(..., flagme = 1): a missing locals means me.
  } else {
    for (const std::string& line : locals.lines)
      add_unique(controls.local_domains, lower_case_ascii(line));
  }
  ControlFile virtualdomains = read_control_file(host, folder + "/virtualdomains");
  for (const std::string& domain : virtualdomains_domains(virtualdomains.lines)) {
    add_unique(controls.local_domains, domain);
  }
  return controls;
}

bool rcpthosts_accept(const RelayControls& controls, const std::string& domain_in) {
  if (controls.rcpthosts.state == ControlState::missing) return true;
  std::string domain = lower_case_ascii(domain_in);
  std::set<std::string> entries;
  for (const std::string& line : controls.rcpthosts.lines) entries.insert(lower_case_ascii(line));
  for (const std::string& key : controls.morercpthosts_cdb_keys) entries.insert(key);
  if (entries.count(domain) != 0) return true;
  for (std::size_t dot = domain.find('.'); dot != std::string::npos;
       dot = domain.find('.', dot + 1)) {
    if (entries.count(domain.substr(dot)) != 0) return true;
  }
  return false;
}

Finding rcpthosts_finding(const RuleInfo& info, const RelayControls& controls) {
  std::string subject = controls.folder + "/rcpthosts";
  std::string state = morercpthosts_state(controls);
  json evidence = {{"file", subject},
                   {"exists", controls.rcpthosts.state != ControlState::missing},
                   {"readable", controls.rcpthosts.state == ControlState::present},
                   {"entries", controls.rcpthosts.lines.size()},
                   {"local_domains", controls.local_domains},
                   {"morercpthosts",
                    {{"source", controls.morercpthosts.state != ControlState::missing},
                     {"cdb", controls.morercpthosts_cdb != ControlState::missing},
                     {"state", state}}}};
  Finding finding = make_finding(info, subject, Status::pass, "");
  switch (controls.rcpthosts.state) {
    case ControlState::missing:
      finding.status = Status::fail;
      finding.fixable = !controls.local_domains.empty();
      finding.message =
          "rcpthosts is missing, so qmail-smtpd accepts every recipient domain from every "
          "client: an open relay";
      if (state == "ignored") finding.message += " (morercpthosts.cdb is not read without it)";
      finding.message += finding.fixable
                             ? "; the fix creates it from " + join(controls.local_domains)
                             : "; no me, locals or virtualdomains to create it from";
      break;
    case ControlState::unreadable:
      finding.status = Status::fail;
      finding.severity = Severity::warning;
      finding.message = "rcpthosts cannot be read (" + controls.rcpthosts.error +
                        "), so qmail-smtpd answers every client with 421 unable to read controls";
      break;
    case ControlState::present:
      if (controls.rcpthosts.lines.empty() && controls.morercpthosts_cdb_keys.empty() &&
          !controls.local_domains.empty()) {
        finding.status = Status::fail;
        finding.severity = Severity::warning;
        finding.message =
            "rcpthosts is empty, so qmail-smtpd refuses mail for every domain, "
            "including its own (" +
            join(controls.local_domains) + ")";
      } else if (state == "cdb-unreadable") {
        finding.status = Status::fail;
        finding.severity = Severity::warning;
        finding.message = "morercpthosts.cdb cannot be read (" + controls.morercpthosts_cdb_error +
                          "), so qmail-smtpd answers every client with 421";
      } else if (state == "source-without-cdb" || state == "cdb-without-source" ||
                 state == "cdb-differs") {
        finding.status = Status::fail;
        finding.severity = Severity::warning;
        finding.message = state == "source-without-cdb"
                              ? "morercpthosts exists but morercpthosts.cdb does not: its domains "
                                "are refused until qmail-newmrh runs"
                          : state == "cdb-without-source"
                              ? "morercpthosts.cdb exists but morercpthosts does not: the next "
                                "qmail-newmrh cannot rebuild it"
                              : "morercpthosts.cdb does not hold the domains of morercpthosts: run "
                                "qmail-newmrh";
      } else {
        finding.message = "rcpthosts limits the accepted domains to " +
                          std::to_string(controls.rcpthosts.lines.size()) + " entries";
        if (!controls.morercpthosts_cdb_keys.empty()) {
          finding.message += " plus " + std::to_string(controls.morercpthosts_cdb_keys.size()) +
                             " in morercpthosts.cdb";
        }
      }
      break;
  }
  finding.evidence = std::move(evidence);
  return finding;
}

Finding percenthack_finding(const RuleInfo& info, const RelayControls& controls) {
  std::string subject = controls.folder + "/percenthack";
  std::vector<std::string> accepted;
  for (const std::string& line : controls.percenthack.lines) {
    std::string domain = lower_case_ascii(line);
    if (rcpthosts_accept(controls, domain)) add_unique(accepted, domain);
  }
  std::vector<std::string> domains;
  for (const std::string& line : controls.percenthack.lines)
    add_unique(domains, lower_case_ascii(line));
  bool envnoathost_listed =
      !controls.envnoathost.empty() &&
      std::find(domains.begin(), domains.end(), controls.envnoathost) != domains.end();
  Finding finding =
      make_finding(info, subject, Status::pass, "no percenthack domain is accepted by rcpthosts");
  finding.evidence = {{"file", subject},
                      {"domains", domains},
                      {"accepted_by_rcpthosts", accepted},
                      {"envnoathost", controls.envnoathost},
                      {"envnoathost_in_percenthack", envnoathost_listed}};
  if (controls.percenthack.state == ControlState::unreadable) {
    finding.status = Status::error;
    finding.message = "percenthack cannot be read: " + controls.percenthack.error;
  } else if (!accepted.empty() || envnoathost_listed) {
    finding.status = Status::fail;
    std::vector<std::string> named = accepted;
    if (envnoathost_listed &&
        std::find(named.begin(), named.end(), controls.envnoathost) == named.end()) {
      named.push_back(controls.envnoathost + " (envnoathost)");
    }
    finding.message =
        "percenthack lists " + join(named) +
        ", which qmail-smtpd accepts: RCPT TO:<user%victim.example@domain> is then delivered to "
        "user@victim.example, a relay no RCPT probe can see";
  }
  return finding;
}

}  // namespace qharden
