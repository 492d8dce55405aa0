#include "rblsmtpd_sources/zones.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include <toml++/toml.h>

#include "parsers/getopt.h"

namespace qharden {
namespace {

std::string normalise_zone(std::string zone) {
  std::transform(zone.begin(), zone.end(), zone.begin(), [](unsigned char character) {
    return static_cast<char>(std::tolower(character));
  });
  if (!zone.empty() && zone.back() == '.') zone.pop_back();
  return zone;
}

std::optional<std::size_t> find_program_from(const std::vector<std::string>& argv,
                                             std::size_t start, std::string_view program) {
  for (std::size_t index = start; index < argv.size(); ++index) {
    std::string_view word = argv[index];
    std::size_t slash = word.rfind('/');
    if ((slash == std::string_view::npos ? word : word.substr(slash + 1)) == program) return index;
  }
  return std::nullopt;
}

void collect_from_command(const ServiceCommand& command, RblsmtpdZones& zones) {
  bool lookups_skipped = command.details->environment.count("RBLSMTPD") > 0;
  std::size_t search_from = 0;
  while (std::optional<std::size_t> index =
             find_program_from(command.argv, search_from, "rblsmtpd")) {
    ++zones.rblsmtpd_command_lines;
    std::vector<std::string> words(command.argv.begin() + static_cast<std::ptrdiff_t>(*index + 1),
                                   command.argv.end());
    GetoptResult parsed = parse_options(words, kRblsmtpdOptstring);
    if (parsed.error) {
      zones.option_errors.push_back(
          {command.subject, "rblsmtpd: " + *parsed.error +
                                ": rblsmtpd prints its usage and exits, so no client gets a "
                                "greeting"});
    } else if (parsed.first_operand >= words.size()) {
      zones.option_errors.push_back(
          {command.subject,
           "rblsmtpd has no program to run after its options: it prints its "
           "usage and exits, so no client gets a greeting"});
    }
    ZoneUse state;
    state.subject = command.subject;
    state.lookups_skipped = lookups_skipped;
    bool any_listing_zone = false;
    for (const ParsedOption& option : parsed.options) {
      // rblsmtpd exits with its usage at an unknown option: later zones never run.
      if (option.letter == '?') break;
      switch (option.letter) {
        case 'b':
          state.permanent_refusal = true;
          break;
        case 'B':
          state.permanent_refusal = false;
          break;
        case 'c':
          state.fail_closed = true;
          break;
        case 'C':
          state.fail_closed = false;
          break;
        case 'r':
        case 'a':
          if (!option.argument) break;
          any_listing_zone = any_listing_zone || option.letter == 'r';
          state.option = option.letter;
          state.written = *option.argument;
          state.zone = normalise_zone(*option.argument);
          zones.uses.push_back(state);
          break;
        default:
          break;
      }
    }
    bool runs_program = !parsed.error && parsed.first_operand < words.size();
    // "rblsmtpd $BLACKLIST qmail-smtpd": getopt stops at the variable, which
    // holds the options at run time, so no -r written here does not mean none.
    bool options_from_variable =
        runs_program && holds_options_at_run_time(command, *index + 1 + parsed.first_operand);
    if (options_from_variable) {
      zones.options_unknown.push_back(
          {command.subject, "rblsmtpd's options continue in " + words[parsed.first_operand] +
                                ", which qharden does not expand: the zones in it are not "
                                "checked"});
    }
    if (!any_listing_zone && runs_program && !options_from_variable) {
      // Upstream adds its default after the options, with the flags in effect then.
      state.option = 'r';
      state.written = std::string(kRblsmtpdDefaultZone);
      state.zone = state.written;
      state.implicit_default = true;
      zones.uses.push_back(state);
    }
    search_from = *index + 1 + parsed.first_operand;
  }
}

}  // namespace

bool holds_options_at_run_time(const ServiceCommand& command, std::size_t word_index) {
  if (command.source != LaunchSource::run_script || word_index + 1 >= command.argv.size())
    return false;
  std::string_view word = command.argv[word_index];
  if (word.size() >= 2 && (word.front() == '`' || word.substr(0, 2) == "$(")) return true;
  if (word.size() < 2 || word.front() != '$') return false;
  std::string_view name = word.substr(1);
  if (name.front() == '{') {
    if (name.back() != '}') return false;
    name = name.substr(1, name.size() - 2);
  }
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char character) {
    return std::isalnum(static_cast<unsigned char>(character)) || character == '_';
  });
}

RblsmtpdZones collect_rblsmtpd_zones(const std::vector<ServiceCommand>& commands) {
  RblsmtpdZones zones;
  for (const ServiceCommand& command : commands) {
    if (command.enabled) collect_from_command(command, zones);
  }
  return zones;
}

std::optional<std::string> dns_zone_problem(std::string_view zone) {
  if (!zone.empty() && zone.back() == '.') zone.remove_suffix(1);
  if (zone.empty()) return "it is empty";
  if (zone.find_first_of("$`") != std::string_view::npos) {
    return "it comes from a shell variable, which qharden does not expand";
  }
  in_addr address{};
  if (::inet_pton(AF_INET, std::string(zone).c_str(), &address) == 1) {
    return "it is an IP address, not a DNS zone";
  }
  constexpr std::size_t kReversedAddressBytes = 16;  // "255.255.255.255."
  if (zone.size() > 253 - kReversedAddressBytes) {
    return "it is longer than " + std::to_string(253 - kReversedAddressBytes) +
           " characters, so the names rblsmtpd builds from it exceed 253";
  }
  std::size_t start = 0;
  while (start <= zone.size()) {
    std::size_t dot = zone.find('.', start);
    if (dot == std::string_view::npos) dot = zone.size();
    std::string_view label = zone.substr(start, dot - start);
    if (label.empty()) return std::string("it has an empty label (two dots in a row)");
    if (label.size() > 63) return "the label '" + std::string(label) + "' is longer than 63";
    for (char character : label) {
      if (!std::isalnum(static_cast<unsigned char>(character)) && character != '-' &&
          character != '_') {
        std::string shown = std::isprint(static_cast<unsigned char>(character))
                                ? std::string(1, character)
                                : "byte " + std::to_string(static_cast<unsigned char>(character));
        return "'" + shown + "' cannot appear in a DNS name";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "the label '" + std::string(label) + "' starts or ends with '-'";
    }
    start = dot + 1;
  }
  return std::nullopt;
}

Expected<std::vector<DefunctZone>> load_defunct_zones(std::string_view toml_text,
                                                      const std::string& name) {
  toml::table table;
  // Debian's toml++ reports parse errors as exceptions; they end here.
  try {
    table = toml::parse(toml_text, name);
  } catch (const toml::parse_error& error) {
    return fail_with(name + ":" + std::to_string(error.source().begin.line) + ": " +
                     std::string(error.description()));
  }
  std::vector<DefunctZone> zones;
  const toml::array* entries = table["zone"].as_array();
  if (entries == nullptr) return fail_with(name + ": no [[zone]] entries");
  for (const toml::node& entry : *entries) {
    const toml::table* fields = entry.as_table();
    const toml::value<std::string>* zone =
        fields != nullptr ? fields->get_as<std::string>("zone") : nullptr;
    if (zone == nullptr) {
      return fail_with(name + ":" + std::to_string(entry.source().begin.line) +
                       ": a [[zone]] entry needs zone = \"...\"");
    }
    DefunctZone defunct;
    defunct.zone = normalise_zone(zone->get());
    defunct.since = (*fields)["since"].value_or(std::string());
    defunct.behaviour = (*fields)["behaviour"].value_or(std::string());
    defunct.lists_everything = (*fields)["lists_everything"].value_or(false);
    defunct.source = (*fields)["source"].value_or(std::string());
    zones.push_back(std::move(defunct));
  }
  return zones;
}

const DefunctZone* find_defunct_zone(const std::vector<DefunctZone>& defunct,
                                     std::string_view zone) {
  for (const DefunctZone& entry : defunct) {
    if (zone == entry.zone) return &entry;
    if (zone.size() > entry.zone.size() && zone.ends_with(entry.zone) &&
        zone[zone.size() - entry.zone.size() - 1] == '.') {
      return &entry;
    }
  }
  return nullptr;
}

}  // namespace qharden
