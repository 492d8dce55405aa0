#include "fixer/protocol.h"

#include <array>
#include <map>

#include <nlohmann/json.hpp>

#include "parsers/byte_text.h"

namespace qharden::fixer {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<Operation, std::string_view>, 5> kOperationNames{{
    {Operation::apply, "apply"},
    {Operation::rollback, "rollback"},
    {Operation::read_commands, "read-commands"},
    {Operation::socket_owners, "socket-owners"},
    {Operation::read_process, "read-process"},
}};

// UTF-8 travels as a string, other bytes as {"base64": ...}.
json text(const std::string& bytes) {
  if (is_valid_utf8(bytes)) return bytes;
  return json{{"base64", base64_encode(bytes)}};
}

json texts(const std::vector<std::string>& values) {
  json array = json::array();
  for (const std::string& value : values) array.push_back(text(value));
  return array;
}

// Reading throws nothing: a malformed field is an error that names it.
class Reader {
 public:
  explicit Reader(const json& object, std::string where) : object_(object), where_(where) {}

  const json* field(const char* name) const {
    auto found = object_.find(name);
    return found == object_.end() ? nullptr : &*found;
  }
  std::string missing(const char* name, const char* kind) {
    error_ = where_ + name + ": expected " + kind;
    return {};
  }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  std::string bytes_of(const json& value, const char* name) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_object() && value.size() == 1 && value.contains("base64") &&
        value["base64"].is_string()) {
      if (std::optional<std::string> decoded = base64_decode(value["base64"].get<std::string>())) {
        return *decoded;
      }
    }
    return missing(name, "text");
  }
  std::string text_field(const char* name, bool required = true) {
    const json* value = field(name);
    if (value == nullptr) return required ? missing(name, "text") : std::string();
    return bytes_of(*value, name);
  }
  std::vector<std::string> text_list(const json* value, const char* name) {
    std::vector<std::string> result;
    if (value == nullptr || !value->is_array()) {
      missing(name, "a list of texts");
      return result;
    }
    for (const json& item : *value) result.push_back(bytes_of(item, name));
    return result;
  }
  std::vector<std::string> text_list(const char* name) { return text_list(field(name), name); }
  bool flag(const char* name) {
    const json* value = field(name);
    if (value == nullptr || !value->is_boolean()) {
      missing(name, "true or false");
      return false;
    }
    return value->get<bool>();
  }
  std::int64_t number(const char* name, std::int64_t smallest, std::int64_t largest) {
    const json* value = field(name);
    if (value == nullptr || !value->is_number_integer() || value->get<std::int64_t>() < smallest ||
        value->get<std::int64_t>() > largest) {
      error_ = where_ + name + ": expected a whole number from " + std::to_string(smallest) +
               " to " + std::to_string(largest);
      return smallest;
    }
    return value->get<std::int64_t>();
  }

 private:
  const json& object_;
  std::string where_;
  std::string error_;
};

Expected<json> parse_object(std::string_view text_in, const char* what) {
  json parsed = json::parse(text_in, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return fail_with(std::string(what) + ": not a JSON object (" + std::to_string(text_in.size()) +
                     " bytes)");
  }
  return parsed;
}

// The result object of a successful response, or the fixer's error.
Expected<json> result_of(std::string_view response) {
  Expected<json> parsed = parse_object(response, "fixer response");
  if (!parsed) return parsed;
  auto ok = parsed->find("ok");
  if (ok == parsed->end() || !ok->is_boolean()) return fail_with("fixer response: no \"ok\"");
  if (!ok->get<bool>()) {
    Reader reader(*parsed, "fixer response: ");
    std::string message = reader.text_field("error");
    if (reader.failed()) return fail_with(reader.error());
    return fail_with(message);
  }
  auto result = parsed->find("result");
  if (result == parsed->end()) return fail_with("fixer response: no \"result\"");
  return *result;
}

std::string success(json result) {
  return json{{"ok", true}, {"result", std::move(result)}}.dump();
}

json outcomes_json(const std::vector<ChangeOutcome>& outcomes) {
  json array = json::array();
  for (const ChangeOutcome& outcome : outcomes) {
    array.push_back(json::array({text(outcome.rule), text(outcome.subject), text(outcome.outcome),
                                 text(outcome.result), text(outcome.reason)}));
  }
  return array;
}

std::vector<ChangeOutcome> outcomes_from(Reader& reader, const char* name) {
  std::vector<ChangeOutcome> outcomes;
  const json* array = reader.field(name);
  const char* shape = "a list of [rule, subject, outcome, result, reason]";
  if (array == nullptr || !array->is_array()) {
    reader.missing(name, shape);
    return outcomes;
  }
  for (const json& row : *array) {
    if (!row.is_array() || row.size() != 5) {
      reader.missing(name, shape);
      return outcomes;
    }
    outcomes.push_back({reader.bytes_of(row[0], name), reader.bytes_of(row[1], name),
                        reader.bytes_of(row[2], name), reader.bytes_of(row[3], name),
                        reader.bytes_of(row[4], name)});
  }
  return outcomes;
}

}  // namespace

std::string_view to_string(Operation operation) {
  for (const auto& [each, name] : kOperationNames) {
    if (each == operation) return name;
  }
  return "unknown";
}

std::string encode_request(const Request& request) {
  json message = {{"version", kProtocolVersion},
                  {"operation", to_string(request.operation)},
                  {"root", text(request.root)},
                  {"caller", text(request.caller)}};
  if (request.config_file) message["config"] = text(*request.config_file);
  switch (request.operation) {
    case Operation::apply:
      message["rules"] = texts(request.rules);
      message["rules_named"] = request.rules_named;
      message["only_kept"] = request.only_kept;
      message["reload"] = request.reload;
      break;
    case Operation::rollback:
      message["change_id"] = text(request.change_id);
      break;
    case Operation::read_commands: {
      json commands = json::array();
      for (const auto& argv : request.commands) commands.push_back(texts(argv));
      message["commands"] = commands;
      message["timeout_ms"] = request.timeout_ms;
      break;
    }
    case Operation::socket_owners: {
      json pairs = json::array();
      for (const auto& [inode, group] : request.inode_groups) {
        pairs.push_back(json::array({inode, group}));
      }
      message["inode_groups"] = pairs;
      break;
    }
    case Operation::read_process:
      message["pid"] = request.pid;
      break;
  }
  return message.dump();
}

Expected<Request> decode_request(std::string_view text_in) {
  Expected<json> parsed = parse_object(text_in, "request");
  if (!parsed) return Unexpected(parsed.error());
  Reader reader(*parsed, "request: ");
  Request request;
  if (reader.number("version", 0, 1000) != kProtocolVersion) {
    if (reader.failed()) return fail_with(reader.error());
    return fail_with("request: protocol version " +
                     std::to_string((*parsed)["version"].get<int>()) + ", this fixer speaks " +
                     std::to_string(kProtocolVersion) +
                     " (agent and fixer come from different builds; restart qhardend)");
  }
  std::string operation = reader.text_field("operation");
  bool known = false;
  for (const auto& [each, name] : kOperationNames) {
    if (name == operation) {
      request.operation = each;
      known = true;
    }
  }
  if (!reader.failed() && !known)
    return fail_with("request: unknown operation \"" + operation + "\"");
  request.root = reader.text_field("root");
  request.caller = reader.text_field("caller");
  if (reader.field("config") != nullptr) request.config_file = reader.text_field("config");
  switch (request.operation) {
    case Operation::apply:
      request.rules = reader.text_list("rules");
      request.rules_named = reader.flag("rules_named");
      request.only_kept = reader.flag("only_kept");
      request.reload = reader.flag("reload");
      break;
    case Operation::rollback:
      request.change_id = reader.text_field("change_id");
      break;
    case Operation::read_commands: {
      const json* commands = reader.field("commands");
      if (commands == nullptr || !commands->is_array() || commands->empty()) {
        reader.missing("commands", "a list of argv lists");
        break;
      }
      for (const json& argv : *commands)
        request.commands.push_back(reader.text_list(&argv, "commands"));
      request.timeout_ms = reader.number("timeout_ms", 1, 120000);
      break;
    }
    case Operation::socket_owners: {
      const json* pairs = reader.field("inode_groups");
      if (pairs == nullptr || !pairs->is_array()) {
        reader.missing("inode_groups", "a list of [inode, group]");
        break;
      }
      for (const json& pair : *pairs) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_unsigned() ||
            !pair[1].is_number_integer() || pair[0].get<std::uint64_t>() > UINT32_MAX) {
          reader.missing("inode_groups", "a list of [inode, group]");
          break;
        }
        request.inode_groups.emplace_back(pair[0].get<std::uint32_t>(), pair[1].get<int>());
      }
      break;
    }
    case Operation::read_process:
      request.pid = static_cast<pid_t>(reader.number("pid", 1, 4194304));
      break;
  }
  if (reader.failed()) return fail_with(reader.error());
  return request;
}

std::string encode_error(const std::string& message) {
  return json{{"ok", false}, {"error", text(message)}}.dump();
}

std::string encode_apply_result(const ApplyResult& result) {
  return success({{"change_id", text(result.change_id)},
                  {"changed_anything", result.changed_anything},
                  {"all_succeeded", result.all_succeeded},
                  {"outcomes", outcomes_json(result.outcomes)},
                  {"notes", texts(result.notes)}});
}

std::string encode_rollback_result(const RollbackResult& result) {
  return success({{"change_id", text(result.change_id)},
                  {"restored", outcomes_json(result.restored)},
                  {"notes", texts(result.notes)}});
}

std::string encode_command_results(const std::vector<Expected<CommandResult>>& results) {
  json array = json::array();
  for (const Expected<CommandResult>& result : results) {
    if (!result) {
      array.push_back({{"error", text(result.error().message)}});
      continue;
    }
    array.push_back({{"exit_code", result->exit_code},
                     {"stdout", text(result->standard_output)},
                     {"stderr", text(result->standard_error)}});
  }
  return success(array);
}

std::string encode_owner_scan(const OwnerScan& scan) {
  json holdings = json::array();
  for (const SocketHolding& holding : scan.holdings) {
    holdings.push_back(
        json::array({holding.pid, text(holding.comm), holding.group, holding.count}));
  }
  return success({{"holdings", holdings},
                  {"processes", scan.processes},
                  {"descriptors", scan.descriptors},
                  {"milliseconds", scan.milliseconds}});
}

std::string encode_process_details(const ProcessDetails& details) {
  json environment = json::object();
  for (const auto& [name, value] : details.environment) environment[name] = text(value);
  return success(
      {{"comm", text(details.comm)}, {"argv", texts(details.argv)}, {"environment", environment}});
}

Expected<ApplyResult> decode_apply_result(std::string_view response) {
  Expected<json> result = result_of(response);
  if (!result) return Unexpected(result.error());
  Reader reader(*result, "fixer apply result: ");
  ApplyResult applied;
  applied.change_id = reader.text_field("change_id");
  applied.changed_anything = reader.flag("changed_anything");
  applied.all_succeeded = reader.flag("all_succeeded");
  applied.outcomes = outcomes_from(reader, "outcomes");
  applied.notes = reader.text_list("notes");
  if (reader.failed()) return fail_with(reader.error());
  return applied;
}

Expected<RollbackResult> decode_rollback_result(std::string_view response) {
  Expected<json> result = result_of(response);
  if (!result) return Unexpected(result.error());
  Reader reader(*result, "fixer rollback result: ");
  RollbackResult rolled;
  rolled.change_id = reader.text_field("change_id");
  rolled.restored = outcomes_from(reader, "restored");
  rolled.notes = reader.text_list("notes");
  if (reader.failed()) return fail_with(reader.error());
  return rolled;
}

Expected<std::vector<Expected<CommandResult>>> decode_command_results(std::string_view response) {
  Expected<json> result = result_of(response);
  if (!result) return Unexpected(result.error());
  if (!result->is_array()) return fail_with("fixer command results: expected a list");
  std::vector<Expected<CommandResult>> results;
  for (const json& item : *result) {
    if (!item.is_object()) return fail_with("fixer command results: expected objects");
    Reader reader(item, "fixer command result: ");
    if (reader.field("error") != nullptr) {
      std::string message = reader.text_field("error");
      if (reader.failed()) return fail_with(reader.error());
      results.emplace_back(fail_with(message));
      continue;
    }
    CommandResult command;
    command.exit_code = static_cast<int>(reader.number("exit_code", -1000, 1000));
    command.standard_output = reader.text_field("stdout");
    command.standard_error = reader.text_field("stderr");
    if (reader.failed()) return fail_with(reader.error());
    results.emplace_back(std::move(command));
  }
  return results;
}

Expected<OwnerScan> decode_owner_scan(std::string_view response) {
  Expected<json> result = result_of(response);
  if (!result) return Unexpected(result.error());
  Reader reader(*result, "fixer owner scan: ");
  OwnerScan scan;
  const json* holdings = reader.field("holdings");
  if (holdings == nullptr || !holdings->is_array()) return fail_with("fixer owner scan: holdings");
  for (const json& row : *holdings) {
    if (!row.is_array() || row.size() != 4 || !row[0].is_number_integer() ||
        !row[2].is_number_integer() || !row[3].is_number_integer()) {
      return fail_with("fixer owner scan: holdings: expected [pid, comm, group, count]");
    }
    scan.holdings.push_back({row[0].get<pid_t>(), reader.bytes_of(row[1], "holdings"),
                             row[2].get<int>(), row[3].get<int>()});
  }
  scan.processes = reader.number("processes", 0, INT64_MAX);
  scan.descriptors = reader.number("descriptors", 0, INT64_MAX);
  const json* milliseconds = reader.field("milliseconds");
  if (milliseconds != nullptr && milliseconds->is_number()) {
    scan.milliseconds = milliseconds->get<double>();
  }
  if (reader.failed()) return fail_with(reader.error());
  return scan;
}

Expected<ProcessDetails> decode_process_details(std::string_view response) {
  Expected<json> result = result_of(response);
  if (!result) return Unexpected(result.error());
  Reader reader(*result, "fixer process details: ");
  ProcessDetails details;
  details.comm = reader.text_field("comm");
  details.argv = reader.text_list("argv");
  const json* environment = reader.field("environment");
  if (environment == nullptr || !environment->is_object()) {
    return fail_with("fixer process details: environment: expected an object");
  }
  for (const auto& [name, value] : environment->items()) {
    details.environment[name] = reader.bytes_of(value, "environment");
  }
  if (reader.failed()) return fail_with(reader.error());
  return details;
}

}  // namespace qharden::fixer
