#include "dnsbl_self/classify.h"

#include <algorithm>
#include <cctype>

#include <toml++/toml.h>

namespace qharden {
namespace {

std::string lower_zone(std::string_view zone) {
  std::string text(zone);
  if (!text.empty() && text.back() == '.') text.pop_back();
  for (char& character : text)
    character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
  return text;
}

bool answered(const DnsResult& result) {
  return result.outcome == DnsOutcome::answer;
}

bool denied(const DnsResult& result) {
  return result.outcome == DnsOutcome::nxdomain || result.outcome == DnsOutcome::nodata;
}

std::optional<std::string> blocked_code(const DnsResult& result) {
  for (const std::string& address : result.answers) {
    if (is_resolver_blocked_code(address)) return address;
  }
  return std::nullopt;
}

std::string first_answer(const DnsResult& result) {
  return result.answers.empty() ? std::string() : result.answers.front();
}

}  // namespace

std::string dns_failure_word(DnsOutcome outcome) {
  switch (outcome) {
    case DnsOutcome::timeout:
      return "timeout";
    case DnsOutcome::servfail:
      return "servfail";
    case DnsOutcome::refused:
    case DnsOutcome::unreachable:
      return "refused";
    default:
      return "error";
  }
}

Expected<std::vector<DnsblZoneData>> load_dnsbl_zone_data(std::string_view toml_text,
                                                          const std::string& name) {
  toml::table table;
  // Debian's toml++ reports parse errors as exceptions; they end here.
  try {
    table = toml::parse(toml_text, name);
  } catch (const toml::parse_error& error) {
    return fail_with(name + ":" + std::to_string(error.source().begin.line) + ": " +
                     std::string(error.description()));
  }
  const toml::array* entries = table["zone"].as_array();
  if (entries == nullptr) return fail_with(name + ": no [[zone]] entries");
  std::vector<DnsblZoneData> zones;
  for (const toml::node& entry : *entries) {
    std::string where = name + ":" + std::to_string(entry.source().begin.line);
    const toml::table* fields = entry.as_table();
    const toml::value<std::string>* zone =
        fields != nullptr ? fields->get_as<std::string>("zone") : nullptr;
    if (zone == nullptr) return fail_with(where + ": a [[zone]] entry needs zone = \"...\"");
    DnsblZoneData data;
    data.zone = lower_zone(zone->get());
    data.is_default = (*fields)["default"].value_or(false);
    data.ipv6 = (*fields)["ipv6"].value_or(false);
    data.blocks_public_resolvers = (*fields)["blocks_public_resolvers"].value_or(false);
    data.terms = (*fields)["terms"].value_or(std::string());
    std::string severity = (*fields)["severity"].value_or(std::string("critical"));
    if (severity == "info") {
      data.severity = Severity::info;
    } else if (severity == "warning") {
      data.severity = Severity::warning;
    } else if (severity == "critical") {
      data.severity = Severity::critical;
    } else {
      return fail_with(where + ": severity must be info, warning or critical, not '" + severity +
                       "'");
    }
    if (const toml::table* codes = (*fields)["codes"].as_table()) {
      for (const auto& [code, meaning] : *codes) {
        const toml::value<std::string>* text = meaning.as_string();
        if (text == nullptr) {
          return fail_with(name + ":" + std::to_string(meaning.source().begin.line) +
                           ": the meaning of code " + std::string(code.str()) +
                           " must be a string");
        }
        data.codes.emplace(std::string(code.str()), text->get());
      }
    }
    zones.push_back(std::move(data));
  }
  return zones;
}

const DnsblZoneData* find_dnsbl_zone_data(const std::vector<DnsblZoneData>& data,
                                          std::string_view zone) {
  std::string wanted = lower_zone(zone);
  for (const DnsblZoneData& entry : data) {
    if (entry.zone == wanted) return &entry;
  }
  return nullptr;
}

bool is_resolver_blocked_code(std::string_view address) {
  return address.starts_with("127.255.255.");
}

bool is_resolver_error_text(std::string_view text) {
  std::string lower(text.substr(0, 64));
  for (char& character : lower)
    character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
  return lower.starts_with("error:") || lower.find("open resolver") != std::string::npos;
}

Expected<std::string> dnsbl_name_for_address(std::string_view address, std::string_view zone) {
  if (address.find(':') == std::string_view::npos) return dnsbl_query_name(address, zone);
  Expected<std::string> reverse = reverse_lookup_name(address);
  if (!reverse) return reverse;
  constexpr std::string_view kSuffix = ".ip6.arpa";
  std::string name = *reverse;
  if (name.ends_with(kSuffix)) name.resize(name.size() - kSuffix.size());
  return name + "." + lower_zone(zone);
}

ZoneJudgement judge_zone(const std::string& zone, const DnsblZoneData* data,
                         const TestPointResults& test_points,
                         const std::vector<std::pair<std::string, DnsResult>>& address_results) {
  ZoneJudgement judgement;
  for (const auto& [address, result] : address_results) {
    AddressVerdict verdict;
    verdict.address = address;
    verdict.answers = result.answers;
    if (std::optional<std::string> code = blocked_code(result)) {
      verdict.verdict = "resolver-blocked";
      verdict.detail = "A " + *code;
    } else if (answered(result)) {
      verdict.verdict = "listed";
      for (const std::string& answer : result.answers) {
        std::string meaning = answer + ": listed, code meaning unknown";
        if (data != nullptr) {
          auto known = data->codes.find(answer);
          if (known != data->codes.end()) meaning = answer + ": " + known->second;
        }
        verdict.meanings.push_back(std::move(meaning));
      }
    } else if (denied(result)) {
      verdict.verdict = "not-listed";
    } else if (result.outcome == DnsOutcome::other && !result.detail.empty() &&
               result.latency_ms == 0) {
      verdict.verdict = "not-queried";
      verdict.detail = result.detail;
    } else {
      verdict.verdict = dns_failure_word(result.outcome);
      verdict.detail = std::string(dns_outcome_name(result.outcome)) +
                       (result.detail.empty() ? "" : " (" + result.detail + ")");
    }
    judgement.addresses.push_back(std::move(verdict));
  }

  // Test points first: until they pass, no address answer means anything.
  const DnsResult& listed = test_points.listed;
  const DnsResult& unlisted = test_points.unlisted;
  std::optional<std::string> blocked = blocked_code(listed);
  if (!blocked) blocked = blocked_code(unlisted);
  for (const AddressVerdict& each : judgement.addresses) {
    if (!blocked && each.verdict == "resolver-blocked") blocked = each.detail.substr(2);
  }
  judgement.status = Status::error;
  if (blocked) {
    judgement.verdict = "resolver-blocked";
    judgement.detail = zone + " refuses this resolver (A " + *blocked +
                       ": 127.255.255.252 typo in the zone, 254 public or open resolver, 255 "
                       "too many queries); its answers are no listings";
    return judgement;
  }
  if (!answered(listed) && !denied(listed)) {
    judgement.verdict = dns_failure_word(listed.outcome);
    judgement.detail = "the test point 2.0.0.127." + zone + " got " +
                       std::string(dns_outcome_name(listed.outcome));
    return judgement;
  }
  if (!answered(unlisted) && !denied(unlisted)) {
    judgement.verdict = dns_failure_word(unlisted.outcome);
    judgement.detail = "the test point 1.0.0.127." + zone + " got " +
                       std::string(dns_outcome_name(unlisted.outcome));
    return judgement;
  }
  if (!answered(listed)) {
    judgement.verdict = "test-point-missing";
    judgement.detail = "2.0.0.127." + zone +
                       " is not listed (RFC 5782 says it must be): the zone is dead, not a "
                       "DNSBL, or unusable from here";
    return judgement;
  }
  if (answered(unlisted)) {
    judgement.verdict = "lists-everything";
    judgement.detail = "1.0.0.127." + zone + " is listed (A " + first_answer(unlisted) +
                       "), which RFC 5782 says must never be: its answers mean nothing";
    return judgement;
  }

  std::vector<std::string> listed_addresses;
  std::vector<std::string> failed_addresses;
  for (const AddressVerdict& each : judgement.addresses) {
    if (each.verdict == "listed") {
      std::string meanings;
      for (const std::string& meaning : each.meanings)
        meanings += (meanings.empty() ? "" : "; ") + meaning;
      listed_addresses.push_back(each.address + " (" + meanings + ")");
    } else if (each.verdict != "not-listed") {
      failed_addresses.push_back(each.address + ": " + each.verdict);
    }
  }
  auto join = [](const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
  };
  if (!listed_addresses.empty()) {
    judgement.status = Status::fail;
    judgement.verdict = "listed";
    judgement.detail = zone + " lists " + join(listed_addresses);
    if (!failed_addresses.empty()) judgement.detail += "; no answer for " + join(failed_addresses);
    return judgement;
  }
  if (!failed_addresses.empty()) {
    judgement.verdict = "error";
    judgement.detail = "no answer for " + join(failed_addresses);
    return judgement;
  }
  judgement.status = Status::pass;
  judgement.verdict = "ok";
  judgement.detail = zone + " answers its test points and lists none of the addresses";
  return judgement;
}

}  // namespace qharden
