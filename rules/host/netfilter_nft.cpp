// `nft -j list ruleset`: tables, chains (base chains carry hook and prio) and
// rules whose "expr" lists matches and statements. Each rule is judged for an
// ident connect of one family.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "host/netfilter.h"
#include "host/netfilter_match.h"

namespace qharden {
namespace {

using nlohmann::json;

// nlohmann's value() throws on a key of another type; nft's JSON is input.
std::string text_of(const json& object, const char* key, const char* fallback) {
  if (!object.is_object()) return fallback;
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

std::int64_t number_of(const json& object, const char* key, std::int64_t fallback) {
  if (!object.is_object()) return fallback;
  auto found = object.find(key);
  return found != object.end() && found->is_number_integer() ? found->get<std::int64_t>()
                                                             : fallback;
}

bool family_sees(const std::string& table_family, IpFamily family) {
  if (table_family == "inet") return true;
  return table_family == (family == IpFamily::ipv4 ? "ip" : "ip6");
}

std::string scalar_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
  return value.dump();
}

// Flattens a right-hand side into "a,b,100:200" when it is a plain value, a
// set, a range or a flag list; sets `readable` false for named sets (@s),
// prefixes and anything else.
std::string list_text(const json& right, bool& readable, int depth = 0) {
  if (depth > 8) {
    readable = false;
    return "";
  }
  if (right.is_string() && !right.get<std::string>().empty() &&
      right.get<std::string>()[0] == '@') {
    readable = false;
    return "";
  }
  if (right.is_string() || right.is_number_integer()) return scalar_text(right);
  if (right.is_array()) {
    std::string text;
    for (const json& item : right)
      text += (text.empty() ? "" : ",") + list_text(item, readable, depth + 1);
    return text;
  }
  if (right.is_object() && right.contains("set"))
    return list_text(right["set"], readable, depth + 1);
  if (right.is_object() && right.contains("range") && right["range"].is_array() &&
      right["range"].size() == 2) {
    return scalar_text(right["range"][0]) + ":" + scalar_text(right["range"][1]);
  }
  readable = false;
  return "";
}

// The packet's protocol family as a match on it implies (`ip daddr` only sees
// IPv4 in an inet table).
Applies implied_family(const std::string& protocol, IpFamily family) {
  if (protocol == "ip") return family == IpFamily::ipv4 ? Applies::always : Applies::never;
  if (protocol == "ip6") return family == IpFamily::ipv6 ? Applies::always : Applies::never;
  if (protocol == "tcp" || protocol == "th") return Applies::always;
  return Applies::never;  // udp, icmp, sctp, ...: not a TCP packet
}

Applies equal_or_listed(const json& right, Applies (*judge)(std::string_view)) {
  bool readable = true;
  std::string text = list_text(right, readable);
  return readable ? judge(text) : Applies::sometimes;
}

Applies judge_match(const json& match, IpFamily family) {
  std::string op = text_of(match, "op", "==");
  const json& left = match.contains("left") ? match["left"] : json();
  const json& right = match.contains("right") ? match["right"] : json();
  bool negate = op == "!=";
  bool equality = op == "==" || op == "in" || op == "!=";
  if (left.is_object() && left.contains("payload") && left["payload"].is_object()) {
    const json& payload = left["payload"];
    std::string protocol = text_of(payload, "protocol", "");
    std::string field = text_of(payload, "field", "");
    Applies dependency = implied_family(protocol, family);
    if (dependency == Applies::never) return Applies::never;
    if (!equality) return Applies::sometimes;
    if ((protocol == "tcp" || protocol == "th") && field == "dport") {
      return negated(equal_or_listed(right, port_list_applies), negate);
    }
    if ((protocol == "ip" && field == "protocol") || (protocol == "ip6" && field == "nexthdr")) {
      return negated(equal_or_listed(right, protocol_applies), negate);
    }
    if (field == "daddr" && right.is_string()) {
      return negated(destination_applies(right.get<std::string>(), family), negate);
    }
    if (field == "daddr" && right.is_object() && right.contains("prefix")) {
      const json& prefix = right["prefix"];
      std::string text =
          text_of(prefix, "addr", "") + "/" + std::to_string(number_of(prefix, "len", 128));
      return negated(destination_applies(text, family), negate);
    }
    if (protocol == "tcp" && field == "flags" && right.is_string() && right == "syn") {
      return negated(Applies::always, negate);  // `tcp flags syn`: the SYN bit is set
    }
    return Applies::sometimes;
  }
  if (left.is_object() && left.contains("meta") && left["meta"].is_object()) {
    std::string key = text_of(left["meta"], "key", "");
    if (!equality) return Applies::sometimes;
    if (key == "l4proto") return negated(equal_or_listed(right, protocol_applies), negate);
    if (key == "nfproto" || key == "protocol") {
      bool readable = true;
      std::string text = list_text(right, readable);
      if (!readable) return Applies::sometimes;
      std::string wanted = family == IpFamily::ipv4 ? "ipv4" : "ipv6";
      std::string ethertype = family == IpFamily::ipv4 ? "ip" : "ip6";
      bool listed = false;
      std::size_t start = 0;
      while (start <= text.size()) {
        std::size_t end = std::min(text.find(',', start), text.size());
        std::string item = text.substr(start, end - start);
        listed = listed || item == wanted || item == ethertype;
        start = end + 1;
      }
      return negated(listed ? Applies::always : Applies::never, negate);
    }
    if (key == "oifname" || key == "oif") {
      return right.is_string() ? negated(interface_applies(right.get<std::string>()), negate)
                               : Applies::sometimes;
    }
    if (key == "iifname" || key == "iif") return negated(Applies::never, negate);
    return Applies::sometimes;
  }
  if (left.is_object() && left.contains("ct") && left["ct"].is_object() &&
      text_of(left["ct"], "key", "") == "state") {
    if (!equality) return Applies::sometimes;
    return negated(equal_or_listed(right, connection_state_applies), negate);
  }
  return Applies::sometimes;
}

VerdictKind verdict_of(const std::string& key) {
  if (key == "accept") return VerdictKind::accept;
  if (key == "drop") return VerdictKind::drop;
  if (key == "reject") return VerdictKind::reject;
  if (key == "return") return VerdictKind::back;
  if (key == "jump") return VerdictKind::jump;
  if (key == "goto") return VerdictKind::go_to;
  return VerdictKind::next;
}

void read_statement(const std::string& key, const json& value, IpFamily family, Applies& applies,
                    NetfilterRule& rule) {
  if (key == "match") {
    applies = combine(applies, judge_match(value, family));
  } else if (key == "accept" || key == "drop" || key == "return") {
    rule.verdict = verdict_of(key);
  } else if (key == "reject") {
    rule.verdict = VerdictKind::reject;
    std::string type = value.is_object() ? text_of(value, "type", "") : "";
    std::string detail = value.is_object() ? text_of(value, "expr", "") : "";
    rule.reject_with =
        type == "tcp reset" ? "tcp-reset" : type + (detail.empty() ? "" : " " + detail);
    // `reject with icmp ...` in an inet table carries an implicit family match.
    if (type == "icmp" && family == IpFamily::ipv6) applies = Applies::never;
    if (type == "icmpv6" && family == IpFamily::ipv4) applies = Applies::never;
  } else if (key == "jump" || key == "goto") {
    rule.verdict = verdict_of(key);
    rule.target = value.is_object() ? text_of(value, "target", "") : "";
  } else if (key == "vmap") {
    const json& map_key = value.contains("key") ? value["key"] : json();
    bool by_dport = map_key.is_object() && map_key.contains("payload") &&
                    text_of(map_key["payload"], "field", "") == "dport" &&
                    (text_of(map_key["payload"], "protocol", "") == "tcp" ||
                     text_of(map_key["payload"], "protocol", "") == "th");
    const json& data =
        value.contains("data") && value["data"].is_object() && value["data"].contains("set")
            ? value["data"]["set"]
            : json();
    if (!by_dport || !data.is_array()) {
      rule.verdict = VerdictKind::unknown;
      rule.target = "vmap";
      applies = combine(applies, Applies::sometimes);
      return;
    }
    for (const json& element : data) {
      if (!element.is_array() || element.size() != 2 || !element[1].is_object() ||
          element[1].empty()) {
        continue;
      }
      bool readable = true;
      std::string ports = list_text(element[0], readable);
      bool ident = port_set_has_ident(ports, readable);
      if (!readable || ident) {
        auto decision = element[1].begin();
        read_statement(decision.key(), decision.value(), family, applies, rule);
        if (!readable) applies = combine(applies, Applies::sometimes);
        return;
      }
    }
    applies = Applies::never;  // no element for port 113: the map does not decide
  } else if (key == "xt") {
    std::string type = value.is_object() ? text_of(value, "type", "") : "";
    std::string name = value.is_object() ? text_of(value, "name", "") : "";
    if (type == "target") {
      rule.verdict = name == "REJECT" ? VerdictKind::reject : VerdictKind::unknown;
      rule.target = name;
    } else if (name != "comment") {
      applies = combine(applies, Applies::sometimes);
    }
  } else if (key == "snat" || key == "dnat" || key == "masquerade" || key == "redirect") {
    rule.verdict = VerdictKind::accept;
  } else if (key == "queue") {
    rule.verdict = VerdictKind::unknown;
    rule.target = "queue";
  } else if (key == "limit" || key == "quota") {
    applies = combine(applies, Applies::sometimes);
  }
  // counter, log, mangle, meta/ct set, notrack, set updates: they do not decide.
}

std::string render_rule(const json& rule) {
  std::string text = text_of(rule, "family", "") + " " + text_of(rule, "table", "") + " " +
                     text_of(rule, "chain", "") + " handle " +
                     std::to_string(number_of(rule, "handle", 0)) + ":";
  std::string expressions = rule.contains("expr") ? rule["expr"].dump() : "[]";
  if (expressions.size() > 300) expressions = expressions.substr(0, 300) + "...";
  return text + " " + expressions;
}

}  // namespace

Expected<std::vector<NetfilterTable>> parse_nft_json(std::string_view text, IpFamily family,
                                                     const std::vector<std::string>& skip_tables) {
  json document = json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object() || !document.contains("nftables") ||
      !document["nftables"].is_array()) {
    return fail_with("nft -j list ruleset: not the JSON nft writes");
  }
  std::vector<NetfilterTable> tables;
  auto find_table = [&](const std::string& table_family,
                        const std::string& name) -> NetfilterTable* {
    for (NetfilterTable& table : tables) {
      if (table.family == table_family && table.name == name) return &table;
    }
    return nullptr;
  };
  for (const json& item : document["nftables"]) {
    if (!item.is_object() || item.empty()) continue;
    auto first = item.begin();
    const std::string kind = first.key();
    const json& body = first.value();
    if (!body.is_object()) continue;
    std::string table_family = text_of(body, "family", "");
    if (!family_sees(table_family, family)) continue;
    std::string table_name =
        kind == "table" ? text_of(body, "name", "") : text_of(body, "table", "");
    if (std::find(skip_tables.begin(), skip_tables.end(), table_family + " " + table_name) !=
        skip_tables.end()) {
      continue;
    }
    if (kind == "table") {
      if (find_table(table_family, table_name) == nullptr) {
        tables.push_back({"nft", table_family, table_name, {}});
      }
      continue;
    }
    NetfilterTable* table = find_table(table_family, table_name);
    if (table == nullptr) continue;
    if (kind == "chain") {
      NetfilterChain chain;
      chain.name = text_of(body, "name", "");
      chain.output_base = text_of(body, "hook", "") == "output";
      chain.priority = static_cast<int>(
          std::clamp<std::int64_t>(number_of(body, "prio", 0), -1000000000, 1000000000));
      chain.policy =
          text_of(body, "policy", "accept") == "drop" ? VerdictKind::drop : VerdictKind::accept;
      table->chains.push_back(std::move(chain));
      continue;
    }
    if (kind != "rule") continue;
    std::string chain_name = text_of(body, "chain", "");
    auto chain = std::find_if(table->chains.begin(), table->chains.end(),
                              [&](const NetfilterChain& each) { return each.name == chain_name; });
    if (chain == table->chains.end()) continue;
    NetfilterRule rule;
    rule.text = render_rule(body);
    rule.owned = text_of(body, "comment", "") == kOwnedComment;
    Applies applies = Applies::always;
    if (body.contains("expr") && body["expr"].is_array()) {
      for (const json& statement : body["expr"]) {
        if (!statement.is_object() || statement.empty()) continue;
        auto only = statement.begin();
        read_statement(only.key(), only.value(), family, applies, rule);
      }
    }
    rule.applies = applies;
    chain->rules.push_back(std::move(rule));
  }
  return tables;
}

}  // namespace qharden
