#include "parsers/xinetd_limits.h"

#include <array>
#include <cstdint>
#include <map>

#include "parsers/xinetd_words.h"

namespace qharden {
namespace {

constexpr std::array<const char*, 3> kLimitNames = {"cps", "instances", "per_source"};

std::size_t expected_values(const std::string& name) {
  return name == "cps" ? 2 : 1;
}

bool is_limit(const std::string& name) {
  for (const char* each : kLimitNames) {
    if (name == each) return true;
  }
  return false;
}

BurstLimitSetting written(const XinetdSection& section, const XinetdAttribute& attribute,
                          const char* from) {
  return BurstLimitSetting{attribute.name, attribute.values, from,
                           section.file,   attribute.line,   attribute.value_locations};
}

BurstLimitSetting built_in(const std::string& name) {
  BurstLimitSetting setting;
  setting.name = name;
  setting.from = "built-in";
  if (name == "cps") {
    setting.words = {kXinetdBuiltInCpsRate, kXinetdBuiltInCpsWait};
  } else {
    setting.words = {"UNLIMITED"};
  }
  return setting;
}

// The first line that xinetd accepts for each limit in one section; a rejected
// value is reported through `rejected`.
std::map<std::string, BurstLimitSetting> first_settings(const XinetdSection& section,
                                                        const char* from,
                                                        std::optional<std::string>& rejected,
                                                        int& rejected_line) {
  std::map<std::string, BurstLimitSetting> settings;
  for (const XinetdAttribute& attribute : section.attributes) {
    if (!is_limit(attribute.name) || settings.count(attribute.name) != 0) continue;
    if (attribute.operation != XinetdOperator::assign) continue;
    if (attribute.values.size() != expected_values(attribute.name)) continue;
    std::string problem = xinetd_limit_value_problem(attribute.name, attribute.values);
    if (!problem.empty()) {
      if (!rejected) {
        rejected = problem;
        rejected_line = attribute.line;
      }
      continue;
    }
    settings.emplace(attribute.name, written(section, attribute, from));
  }
  return settings;
}

}  // namespace

std::optional<std::size_t> xinetd_limit_value_count(const std::string& name) {
  if (!is_limit(name)) return std::nullopt;
  return expected_values(name);
}

XinetdLimitValue read_xinetd_limit(const std::string& name, const std::vector<std::string>& words) {
  XinetdLimitValue read;
  std::string shown = name + " =";
  for (const std::string& word : words) shown += " " + word;
  if (words.size() != expected_values(name)) {
    read.problem = "`" + shown + "` has the wrong number of values";
    return read;
  }
  if (name == "cps") {
    // cps_parser: each into an unsigned int, then a time_t, so never below 0.
    for (const std::string& word : words) {
      std::optional<unsigned long long> number = xinetd_strtoull(word);
      if (!number) {
        read.problem = "`" + shown + "`: `" + word + "` is not a number";
        read.numbers.clear();
        return read;
      }
      read.numbers.push_back(static_cast<std::int64_t>(static_cast<std::uint32_t>(*number)));
    }
    return read;
  }
  // instances_parser and per_source_parser: EQ() ignores case; the number
  // goes into an int (cut to 32 bits), refused when that is below 0.
  if (xinetd_equals(words.front(), "UNLIMITED")) {
    read.numbers.push_back(std::nullopt);
    return read;
  }
  std::optional<int> stored = xinetd_base10_int(words.front());
  if (!stored || *stored < 0) {
    read.problem = "`" + shown + "` is neither a number from 0 up nor UNLIMITED";
    return read;
  }
  read.numbers.push_back(*stored);
  return read;
}

std::string xinetd_limit_value_problem(const std::string& name,
                                       const std::vector<std::string>& words) {
  return read_xinetd_limit(name, words).problem;
}

XinetdLimitsResolver::XinetdLimitsResolver(const std::vector<XinetdSection>& sections) {
  for (const XinetdSection& section : sections) {
    if (section.kind != XinetdSectionKind::defaults) continue;
    std::optional<std::string> rejected;
    int rejected_line = 0;
    for (auto& [name, setting] : first_settings(section, "defaults", rejected, rejected_line)) {
      defaults_.emplace(name, std::move(setting));  // an earlier defaults value stays
    }
    if (rejected) {
      problems_.push_back(XinetdProblem{section.file, rejected_line,
                                        "defaults: " + *rejected + "; xinetd exits at start"});
    }
  }
}

XinetdServiceLimits XinetdLimitsResolver::resolve(const XinetdSection& service_section) const {
  XinetdServiceLimits limits;
  int rejected_line = 0;
  std::map<std::string, BurstLimitSetting> own =
      first_settings(service_section, "service", limits.rejected, rejected_line);
  if (limits.rejected) {
    *limits.rejected +=
        " (line " + std::to_string(rejected_line) + "); xinetd disables the service";
  }
  limits.settings.reserve(kLimitNames.size());
  for (const char* name : kLimitNames) {
    if (auto found = own.find(name); found != own.end()) {
      limits.settings.push_back(std::move(found->second));
    } else if (auto inherited = defaults_.find(name); inherited != defaults_.end()) {
      limits.settings.push_back(inherited->second);
    } else {
      limits.settings.push_back(built_in(name));
    }
  }
  return limits;
}

XinetdLimits resolve_xinetd_limits(const std::vector<XinetdSection>& sections) {
  XinetdLimitsResolver resolver(sections);
  XinetdLimits result;
  result.problems = resolver.problems();
  for (const XinetdSection& section : sections) {
    if (section.kind != XinetdSectionKind::service) continue;
    result.services.push_back(resolver.resolve(section));
  }
  return result;
}

}  // namespace qharden
