// Any byte string, read as an xinetd file and as inetd.conf: the burst limits
// must resolve without crashing, every written setting's locations must point
// at exactly its words, and the fix must either refuse or produce a text whose
// service reads back at or above every bound (a second fix changes nothing).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "listener_burst_limits/limits.h"
#include "listener_burst_limits/plan.h"
#include "parsers/inetd.h"
#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"

namespace {

void check_location(std::string_view text, const qharden::WordLocation& location,
                    std::string_view word) {
  if (location.offset + location.length > text.size()) __builtin_trap();
  if (text.substr(location.offset, location.length) != word) __builtin_trap();
}

qharden::Config::ListenerBurstLimits bounds() {
  qharden::Config::ListenerBurstLimits limits;
  limits.ports = {25};
  limits.xinetd_cps_min = 100;
  limits.xinetd_cps_wait_max = 10;
  limits.xinetd_instances_min = 100;
  limits.xinetd_per_source_min = 20;
  limits.inetd_per_minute_min = 1000;
  limits.tcpserver_concurrency_min = 20;
  return limits;
}

void fuzz_xinetd(const std::string& text) {
  const std::string file = "/etc/xinetd.d/smtp";
  std::vector<qharden::XinetdSection> sections;
  for (qharden::XinetdItem& item : qharden::parse_xinetd_text(file, text).items) {
    if (auto* section = std::get_if<qharden::XinetdSection>(&item)) sections.push_back(*section);
  }
  qharden::XinetdLimits limits = qharden::resolve_xinetd_limits(sections);
  std::size_t index = 0;
  for (const qharden::XinetdSection& section : sections) {
    if (section.kind != qharden::XinetdSectionKind::service) continue;
    if (index >= limits.services.size()) __builtin_trap();
    const qharden::XinetdServiceLimits& service = limits.services[index++];
    if (service.settings.size() != 3) __builtin_trap();
    for (const qharden::BurstLimitSetting& setting : service.settings) {
      if (setting.from == "built-in") continue;
      if (setting.words.size() != setting.locations.size()) __builtin_trap();
      for (std::size_t word = 0; word < setting.words.size(); ++word) {
        check_location(text, setting.locations[word], setting.words[word]);
      }
    }
    // A service with a refused value is fixed too: a later `disable = no` or
    // defaults' `enabled` list can make it live.
    qharden::ServiceCommand command;
    command.file = file;
    command.line = section.line;
    command.burst_limits = service.settings;
    qharden::Expected<std::string> fixed =
        qharden::raise_xinetd_limits(file, text, command, bounds());
    if (!fixed) continue;
    // What the fix wrote must now be what this service reads.
    std::vector<qharden::XinetdSection> new_sections;
    for (qharden::XinetdItem& item : qharden::parse_xinetd_text(file, *fixed).items) {
      if (auto* each = std::get_if<qharden::XinetdSection>(&item)) new_sections.push_back(*each);
    }
    qharden::XinetdLimits again = qharden::resolve_xinetd_limits(new_sections);
    std::size_t again_index = 0;
    for (const qharden::XinetdSection& each : new_sections) {
      if (each.kind != qharden::XinetdSectionKind::service) continue;
      if (each.line == section.line && again_index < again.services.size()) {
        command.burst_limits = again.services[again_index].settings;
        if (!qharden::judge_xinetd_limits(command, bounds()).all_ok()) __builtin_trap();
      }
      ++again_index;
    }
  }
}

void fuzz_inetd(const std::string& text) {
  const std::string file = "/etc/inetd.conf";
  qharden::InetdFile parsed = qharden::parse_inetd_text(file, text);
  for (const qharden::InetdEntry& entry : parsed.entries) {
    check_location(text, entry.wait_location, entry.wait);
    qharden::ServiceCommand command;
    command.source = qharden::LaunchSource::inetd;
    command.file = file;
    command.line = entry.line;
    command.burst_limits.push_back(
        {"wait", {entry.wait}, "service", file, entry.line, {entry.wait_location}});
    qharden::Expected<std::string> fixed =
        qharden::raise_inetd_limit(file, text, command, bounds());
    if (!fixed || *fixed == text) continue;
    for (const qharden::InetdEntry& again : qharden::parse_inetd_text(file, *fixed).entries) {
      if (again.line == entry.line && qharden::inetd_per_minute(again.wait) < 1000) {
        __builtin_trap();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  fuzz_xinetd(text);
  fuzz_inetd(text);
  return 0;
}
