// rblsmtpd.sources, the offline part: every zone rblsmtpd queries, with known
// defunct zones and malformed names judged without a query. The live RFC 5782
// test-point probes come later (c-ares); until then live zones get an honest
// `skip`.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "config/config.h"
#include "dnsbl_self/classify.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"
#include "inventory/systemd_units.h"
#include "rblsmtpd_sources/live.h"
#include "rblsmtpd_sources/plan.h"
#include "rblsmtpd_sources/zones.h"

namespace qharden {
namespace {

enum class Uses { all, queried, skipped };

struct ZoneGroup {
  std::string zone;
  std::vector<const ZoneUse*> uses;

  std::vector<std::string> subjects(Uses which) const {
    std::vector<std::string> list;
    for (const ZoneUse* use : uses) {
      if (which == Uses::skipped && !use->lookups_skipped) continue;
      if (which == Uses::queried && use->lookups_skipped) continue;
      bool seen = false;
      for (const std::string& each : list) seen = seen || each == use->subject;
      if (!seen) list.push_back(use->subject);
    }
    return list;
  }

  // Only the uses that make lookups count: RBLSMTPD turns the others off.
  bool any(bool ZoneUse::*flag) const {
    for (const ZoneUse* use : uses) {
      if (use->lookups_skipped) continue;
      if (use->*flag) return true;
    }
    return false;
  }

  bool any_option(char option) const {
    for (const ZoneUse* use : uses) {
      if (use->option == option && !use->lookups_skipped) return true;
    }
    return false;
  }
};

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

// What rblsmtpd does, for each way the command lines use the zone.
std::string describe_consequence(const ZoneGroup& group, const DefunctZone& defunct) {
  std::string text;
  if (defunct.lists_everything) {
    if (group.any_option('r')) {
      text += " Any TXT answer counts as a listing, so every client gets a 451 refusal";
      text += group.any(&ZoneUse::permanent_refusal) ? " (553 under -b)." : ".";
    }
    if (group.any_option('a')) {
      text +=
          " As an -a (anti-RBL) zone, its answer for every address makes rblsmtpd accept "
          "every client without checking the zones after it.";
    }
    return text;
  }
  text +=
      " Every connection waits for its lookup (up to 59 s per silent nameserver with "
      "djbdns's library) before the greeting";
  bool closed = group.any(&ZoneUse::fail_closed);
  bool open = false;
  for (const ZoneUse* use : group.uses) open = open || (!use->lookups_skipped && !use->fail_closed);
  if (open) text += ", then rblsmtpd accepts the client anyway (-C, the default)";
  if (closed)
    text += std::string(open ? "; under -c" : ", then under -c") + " it refuses it with 451";
  return text + ".";
}

class RblsmtpdSourcesRule final : public Rule {
 public:
  RblsmtpdSourcesRule() {
    info_.id = "rblsmtpd.sources";
    info_.severity = Severity::critical;
    info_.summary = "every rblsmtpd -r/-a zone is alive and answers its RFC 5782 test points";
    info_.explanation =
        "rblsmtpd (ucspi-tcp) looks up every -r zone (TXT) and -a zone (A) before qmail-smtpd "
        "greets the client. A dead zone makes every connection wait for the DNS timeout, and a "
        "zone that answers for every address refuses every client. The rule collects the "
        "zones from every xinetd, inetd and run-script command line (getopt bBcCt:r:a:, in "
        "order, so -c/-b only affect later zones), flags the zones of "
        "config/defunct-dnsbl-zones.toml (AHBL, NJABL, ...), names that are no DNS name, an "
        "rblsmtpd without -r (upstream then queries rbl.maps.vix.com), and says when RBLSMTPD "
        "in the environment turns lookups off. Live, it asks each zone's RFC 5782 test points "
        "(2.0.0.127 listed by TXT and A, 1.0.0.127 not) through the resolvers rblsmtpd uses "
        "(DNSCACHEIP, else resolv.conf), all at once: a 127.255.255.x answer or a TXT "
        "\"Error: open resolver\" is resolver-blocked (rblsmtpd then refuses every client), "
        "and a test point listed by A without TXT is no-txt (a warning: -r reads TXT only, so "
        "the zone never blocks). Offline too, a zone that blocks public resolvers "
        "(config/dnsbl-zones.toml, the Spamhaus zones) queried through one of "
        "public_resolvers fails. Dropping a zone is a policy change: it "
        "is only fixed when named with --rule; with no -r left, rblsmtpd itself is removed.";
    info_.touches =
        "reads the xinetd, inetd and run-script command lines (inventory) and the "
        "built-in defunct and DNSBL zone lists, resolv.conf; queries DNS; writes the command "
        "lines' files on apply";
    info_.can_fix = true;
    info_.fixes_only_when_named = true;
  }

  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    std::vector<Finding> findings;
    RblsmtpdZones zones = collect_rblsmtpd_zones(context.inventory().commands);
    for (const RblsmtpdOptionError& error : zones.option_errors) {
      Finding finding = make_finding(info_, error.subject, Status::error, error.message);
      finding.evidence = {{"used_by", {error.subject}}, {"verdict", nullptr}};
      findings.push_back(std::move(finding));
    }
    for (const RblsmtpdOptionError& unknown : zones.options_unknown) {
      Finding finding = make_finding(info_, unknown.subject, Status::skip, unknown.message);
      finding.evidence = {{"used_by", {unknown.subject}}, {"verdict", nullptr}};
      findings.push_back(std::move(finding));
    }
    if (zones.rblsmtpd_command_lines == 0) {
      findings.push_back(make_finding(info_, std::string(info_.id), Status::skip,
                                      "no xinetd, inetd, run-script or systemd command line "
                                      "runs rblsmtpd"));
      return findings;
    }
    Expected<std::vector<DefunctZone>> defunct =
        load_defunct_zones(builtin_defunct_zones_text(), "built-in defunct-dnsbl-zones.toml");
    if (!defunct) {
      findings.push_back(
          make_finding(info_, std::string(info_.id), Status::error, defunct.error().message));
    }
    std::vector<ZoneGroup> groups;
    std::map<std::string, std::size_t> group_index;
    for (const ZoneUse& use : zones.uses) {
      auto [entry, added] = group_index.emplace(use.zone, groups.size());
      if (added) groups.push_back(ZoneGroup{use.zone, {}});
      groups[entry->second].uses.push_back(&use);
    }
    static const std::vector<DefunctZone> kNoDefunctZones;
    const std::vector<DefunctZone>& defunct_zones = defunct ? *defunct : kNoDefunctZones;
    Expected<std::vector<DnsblZoneData>> zone_data =
        load_dnsbl_zone_data(builtin_dnsbl_zones_text(), "built-in dnsbl-zones.toml");
    if (!zone_data) {
      findings.push_back(
          make_finding(info_, std::string(info_.id), Status::error, zone_data.error().message));
    }
    static const std::vector<DnsblZoneData> kNoZoneData;
    const std::vector<DnsblZoneData>& known_zones = zone_data ? *zone_data : kNoZoneData;
    std::map<std::string, std::vector<std::string>> first_resolvers;
    std::map<std::string, std::vector<std::string>> resolvers =
        zone_resolvers(context, groups, first_resolvers);
    std::map<std::string, ZoneVerdict> verdicts;
    if (!context.offline) {
      Outcome probed = probe_live(context, groups, defunct_zones, resolvers, verdicts);
      if (!probed)
        findings.push_back(
            make_finding(info_, std::string(info_.id), Status::error, probed.error().message));
    }
    for (const ZoneGroup& group : groups) {
      auto verdict = verdicts.find(group.zone);
      Finding finding = judge(context, group, defunct_zones,
                              verdict == verdicts.end() ? nullptr : &verdict->second);
      judge_public_resolvers(context, group, known_zones, first_resolvers[group.zone],
                             resolvers[group.zone], finding);
      findings.push_back(std::move(finding));
    }
    refuse_systemd_fixes(context.inventory(), findings);
    return findings;
  }

  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    return plan_dead_zone_removal(context, failing);
  }

 private:
  // A zone dropped from a systemd unit would be an edit of that unit, which
  // qharden never makes: the finding says what to do there. It stays fixable
  // when an xinetd, inetd or run-script command uses the zone too, since the
  // fix still drops it from those.
  static void refuse_systemd_fixes(const ServiceInventory& inventory,
                                   std::vector<Finding>& findings) {
    std::map<std::string, const ServiceCommand*> systemd_commands;
    for (const ServiceCommand& command : inventory.commands) {
      if (command.source == LaunchSource::systemd)
        systemd_commands.emplace(command.subject, &command);
    }
    if (systemd_commands.empty()) return;
    for (Finding& finding : findings) {
      if (!finding.fixable || !finding.evidence.contains("used_by")) continue;
      bool editable_user = false;
      std::string refusals;
      for (const nlohmann::json& subject : finding.evidence["used_by"]) {
        if (!subject.is_string()) continue;
        auto command = systemd_commands.find(subject.get<std::string>());
        if (command == systemd_commands.end()) {
          editable_user = true;
          continue;
        }
        refusals +=
            ". Not fixed by qharden: " +
            systemd_fix_refusal(command->second->subject, systemd_unit_name(*command->second),
                                "`ExecStart=` and the line without this zone");
      }
      if (refusals.empty()) continue;
      finding.fixable = editable_user;
      finding.message += refusals;
    }
  }

  // The resolvers every command line that queries a zone uses (djbdns's choice:
  // DNSCACHEIP, else resolv.conf), in order and without repeats. A file read,
  // so it works --offline too. `first` gets each command line's first one:
  // djbdns asks the next only after a timeout or an error, so a public
  // resolver behind a working local one is never asked.
  static std::map<std::string, std::vector<std::string>> zone_resolvers(
      AuditContext& context, const std::vector<ZoneGroup>& groups,
      std::map<std::string, std::vector<std::string>>& first) {
    std::string resolv_text;
    if (context.host.exists(context.config.paths.resolv_conf)) {
      Expected<std::string> text = context.host.read_file(context.config.paths.resolv_conf);
      if (text) resolv_text = *text;
    }
    std::map<std::string, const ServiceCommand*> by_subject;
    for (const ServiceCommand& command : context.inventory().commands)
      by_subject.emplace(command.subject, &command);
    std::map<std::string, std::vector<std::string>> resolvers;
    for (const ZoneGroup& group : groups) {
      std::vector<std::string>& list = resolvers[group.zone];
      for (const std::string& subject : group.subjects(Uses::queried)) {
        auto command = by_subject.find(subject);
        if (command == by_subject.end()) continue;
        std::vector<std::string> in_order = rblsmtpd_resolvers(*command->second, resolv_text);
        for (const std::string& resolver : in_order) {
          if (std::find(list.begin(), list.end(), resolver) == list.end()) list.push_back(resolver);
        }
        std::vector<std::string>& firsts = first[group.zone];
        if (!in_order.empty() &&
            std::find(firsts.begin(), firsts.end(), in_order.front()) == firsts.end())
          firsts.push_back(in_order.front());
      }
    }
    return resolvers;
  }

  // Spamhaus answers 127.255.255.254 (TXT "Error: open resolver") to public
  // resolvers, which rblsmtpd -r turns into a 451 for every client. Known
  // from the files alone, so this also holds --offline. Only a command line's
  // first resolver is judged: a public fallback behind it is not asked.
  void judge_public_resolvers(const AuditContext& context, const ZoneGroup& group,
                              const std::vector<DnsblZoneData>& known_zones,
                              const std::vector<std::string>& first_resolvers,
                              const std::vector<std::string>& resolvers, Finding& finding) const {
    const DnsblZoneData* data = find_dnsbl_zone_data(known_zones, group.zone);
    if (data == nullptr || !data->blocks_public_resolvers) return;
    if (finding.evidence["verdict"] == "defunct" || group.subjects(Uses::queried).empty()) return;
    std::vector<std::string> public_ones;
    for (const std::string& resolver : first_resolvers) {
      const std::vector<std::string>& known = context.config.rblsmtpd_sources.public_resolvers;
      if (std::find(known.begin(), known.end(), resolver) != known.end())
        public_ones.push_back(resolver);
    }
    if (public_ones.empty()) return;
    if (!finding.evidence["verdict"].is_null() && finding.evidence["verdict"] != "resolver-blocked")
      finding.evidence["live_verdict"] = finding.evidence["verdict"];
    finding.evidence["verdict"] = "resolver-blocked";
    finding.evidence["public_resolvers"] = public_ones;
    finding.evidence["resolvers"] = resolvers;
    finding.status = Status::fail;
    finding.severity = Severity::critical;
    finding.fixable = false;  // the resolver is the thing to change, not the zone
    DefunctZone blocked;
    blocked.lists_everything = true;  // the error TXT comes back for every client
    finding.message = group.zone + " is queried through the public resolver " + join(public_ones) +
                      " (DNSCACHEIP or resolv.conf of " + join(group.subjects(Uses::queried)) +
                      "), and it answers public resolvers with 127.255.255.254 and TXT "
                      "\"Error: open resolver\"." +
                      describe_consequence(group, blocked) +
                      " Query it through a resolver of your own (unbound, dnscache) or a "
                      "Spamhaus DQS key.";
  }

  // Zones worth a query: a DNS name, not known dead, looked up by some command
  // line. Each is asked through the resolvers of every command line using it.
  Outcome probe_live(AuditContext& context, const std::vector<ZoneGroup>& groups,
                     const std::vector<DefunctZone>& defunct_zones,
                     std::map<std::string, std::vector<std::string>>& resolvers,
                     std::map<std::string, ZoneVerdict>& verdicts) const {
    std::vector<ZoneCheck> checks;
    for (const ZoneGroup& group : groups) {
      const ZoneUse& first = *group.uses.front();
      if (dns_zone_problem(first.written) || find_defunct_zone(defunct_zones, group.zone) ||
          first.implicit_default || group.subjects(Uses::queried).empty()) {
        continue;
      }
      checks.push_back(ZoneCheck{group.zone, group.any_option('r'), resolvers[group.zone]});
    }
    if (checks.empty()) return Done{};
    Expected<std::vector<ZoneVerdict>> results =
        probe_zones(checks, context.config.rblsmtpd_sources);
    if (!results) return fail_with(results.error().message);
    for (std::size_t index = 0; index < checks.size(); ++index) {
      verdicts.emplace(checks[index].zone, std::move((*results)[index]));
    }
    return Done{};
  }

  void apply_verdict(const ZoneGroup& group, const ZoneVerdict& verdict, Finding& finding) const {
    finding.evidence["verdict"] = verdict.verdict;
    finding.evidence["resolver"] = verdict.resolver;
    finding.evidence["latency_ms"] = std::round(verdict.latency_ms * 10) / 10;
    finding.evidence["queries"] = verdict.queries;
    std::string through = " through " + verdict.resolver;
    if (verdict.verdict == "ok") {
      finding.status = Status::pass;
      finding.message = group.zone + " answers its test points" + through +
                        " (127.0.0.2 listed, "
                        "127.0.0.1 not) in " +
                        std::to_string(static_cast<long>(verdict.latency_ms)) + " ms";
      return;
    }
    finding.status = Status::fail;
    finding.fixable = verdict.verdict != "slow";
    DefunctZone dead;
    if (verdict.verdict == "slow") {
      finding.severity = Severity::warning;
      finding.message = group.zone + " is slow" + through + ": " + verdict.detail +
                        "; every connection waits that long before the greeting";
    } else if (verdict.verdict == "lists-everything") {
      dead.lists_everything = true;
      finding.message = group.zone + " lists 127.0.0.1, which RFC 5782 says it must never list (" +
                        verdict.detail + ")" + through + ", so it lists every address.";
      if (verdict.listed_by_text || group.any_option('a')) {
        finding.message += describe_consequence(group, dead);
      } else {
        // rblsmtpd -r reads only TXT: A-only answers refuse no one.
        finding.message +=
            " It answers A but no TXT, which is all rblsmtpd -r reads, so it "
            "refuses no one while every connection pays the lookup.";
      }
    } else if (verdict.verdict == "resolver-blocked") {
      dead.lists_everything = verdict.listed_by_text;
      finding.message =
          group.zone + " refuses the resolver " + verdict.resolver + " (" + verdict.detail +
          "; codes: 127.255.255.252 typo, 254 public or open resolver, 255 too many queries)." +
          (verdict.listed_by_text ? describe_consequence(group, dead)
                                  : " rblsmtpd finds no TXT record, so it accepts every "
                                    "client unchecked while every connection pays the lookup.");
    } else if (verdict.verdict == "no-txt") {
      finding.severity = Severity::warning;
      finding.message = group.zone + " lists its test point by A only" + through + ": " +
                        verdict.detail +
                        ". rblsmtpd -r reads TXT only, so this zone never blocks anyone, while "
                        "every connection pays the lookup; use it with -a, or drop it";
    } else if (verdict.verdict == "test-point-missing") {
      finding.message = group.zone + " does not answer its RFC 5782 test point" + through + ": " +
                        verdict.detail +
                        "; the zone is dead or not a DNSBL, so rblsmtpd blocks "
                        "nothing with it while every connection pays the lookup";
    } else {
      finding.message = group.zone + ": " + verdict.verdict + through + " (" + verdict.detail +
                        ")." + describe_consequence(group, dead);
    }
  }

  Finding judge(const AuditContext& context, const ZoneGroup& group,
                const std::vector<DefunctZone>& defunct_zones, const ZoneVerdict* verdict) const {
    const ZoneUse& first = *group.uses.front();
    std::vector<std::string> queried_by = group.subjects(Uses::queried);
    std::vector<std::string> skipped_by = group.subjects(Uses::skipped);
    Finding finding =
        make_finding(info_, group.zone.empty() ? "(empty zone)" : group.zone, Status::skip, "");
    std::string lookups = group.any_option('r') && group.any_option('a') ? "TXT and A"
                          : group.any_option('a')                        ? "A"
                                                                         : "TXT";
    finding.evidence = {{"used_by", group.subjects(Uses::all)},
                        {"verdict", nullptr},
                        {"lookup", lookups},
                        {"implicit_default", first.implicit_default}};
    if (!skipped_by.empty()) finding.evidence["not_queried_by"] = skipped_by;
    std::string skipped_note = skipped_by.empty()
                                   ? ""
                                   : " RBLSMTPD is set in the environment of " + join(skipped_by) +
                                         ", so rblsmtpd decides there without any lookup.";
    if (std::optional<std::string> why = dns_zone_problem(first.written)) {
      finding.status = Status::error;
      finding.message = "'" + first.written + "' is no DNS zone rblsmtpd can query: " + *why +
                        "; qharden does not query it";
      finding.evidence["reason"] = *why;
      return finding;
    }
    std::string implicit =
        first.implicit_default
            ? "rblsmtpd runs without any -r in " + join(group.subjects(Uses::all)) +
                  ", so upstream 0.88 queries its built-in default " + group.zone +
                  " (Debian's 0.88-6 patch drops that default and leaves rblsmtpd checking "
                  "nothing); never leave rblsmtpd without -r, remove it from the chain instead. "
            : "";
    if (const DefunctZone* defunct = find_defunct_zone(defunct_zones, group.zone)) {
      finding.evidence["verdict"] = "defunct";
      finding.evidence["defunct"] = {{"zone", defunct->zone},
                                     {"since", defunct->since},
                                     {"behaviour", defunct->behaviour},
                                     {"lists_everything", defunct->lists_everything},
                                     {"source", defunct->source}};
      std::string summary = implicit + group.zone + " is a defunct DNSBL (since " + defunct->since +
                            "): " + defunct->behaviour + ".";
      if (queried_by.empty()) {
        finding.message = summary + skipped_note +
                          " It is never queried now, but it bites as "
                          "soon as RBLSMTPD goes";
        return finding;
      }
      finding.status = Status::fail;
      finding.severity = first.implicit_default ? Severity::warning : Severity::critical;
      finding.message = summary + describe_consequence(group, *defunct) + skipped_note;
      finding.fixable = true;  // dropped, or rblsmtpd removed when no -r is left
      return finding;
    }
    if (queried_by.empty()) {
      finding.message = "never queried:" + skipped_note;
      return finding;
    }
    if (first.implicit_default) {
      finding.status = Status::fail;
      finding.severity = Severity::warning;
      finding.fixable = true;
      finding.message = implicit + skipped_note;
      return finding;
    }
    if (verdict != nullptr) {
      apply_verdict(group, *verdict, finding);
      finding.message += skipped_note;
      return finding;
    }
    finding.message = context.offline ? "--offline: no DNS queries" : "not probed: no resolver";
    if (!skipped_note.empty()) finding.message += "." + skipped_note;
    return finding;
  }

  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_rblsmtpd_sources_rule() {
  return std::make_unique<RblsmtpdSourcesRule>();
}

}  // namespace qharden
