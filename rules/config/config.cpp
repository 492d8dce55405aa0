#include "config/config.h"

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "config/config_values.h"
#include "host/host.h"

namespace qharden {
namespace {

std::string describe_position(const std::string& file_name, const toml::source_region& region) {
  return file_name + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

// Checks every key of overrides against the defaults: the defaults file is the
// schema, so a key it lacks is unknown and a type it does not use is wrong.
Outcome check_against_schema(const toml::table& defaults, const toml::table& overrides,
                             const std::string& dotted_prefix, const std::string& file_name) {
  for (const auto& [key, node] : overrides) {
    std::string dotted = dotted_prefix.empty() ? std::string(key.str())
                                               : dotted_prefix + "." + std::string(key.str());
    const toml::node* expected = defaults.get(key.str());
    if (expected == nullptr) {
      return fail_with(describe_position(file_name, key.source()) + ": unknown key '" + dotted +
                       "'");
    }
    if (expected->type() != node.type()) {
      return fail_with(describe_position(file_name, node.source()) + ": '" + dotted + "' must be " +
                       std::string(type_name(expected->type())) + ", not " +
                       std::string(type_name(node.type())));
    }
    if (const toml::table* nested = node.as_table()) {
      Outcome nested_check =
          check_against_schema(*expected->as_table(), *nested, dotted, file_name);
      if (!nested_check) return nested_check;
    }
    if (const toml::array* array = node.as_array()) {
      const toml::array* expected_array = expected->as_array();
      if (!expected_array->empty()) {
        toml::node_type element_type = expected_array->front().type();
        for (const toml::node& element : *array) {
          if (element.type() != element_type) {
            return fail_with(describe_position(file_name, element.source()) + ": '" + dotted +
                             "' holds " + std::string(type_name(element_type)) + " values, not " +
                             std::string(type_name(element.type())));
          }
        }
      }
    }
  }
  return Done{};
}

Expected<toml::table> parse_toml(std::string_view text, const std::string& file_name) {
  // Debian builds toml++ with exceptions, so parse errors arrive as one; it is
  // turned into an Expected here and goes no further.
  try {
    return toml::parse(text, file_name);
  } catch (const toml::parse_error& error) {
    return fail_with(describe_position(file_name, error.source()) + ": " +
                     std::string(error.description()));
  }
}

}  // namespace

Expected<Config> load_config_from_text(std::string_view override_text,
                                       const std::string& override_name) {
  Expected<toml::table> defaults = parse_toml(builtin_config_text(), "built-in defaults");
  if (!defaults) return Unexpected(defaults.error());
  Expected<toml::table> overrides = parse_toml(override_text, override_name);
  if (!overrides) return Unexpected(overrides.error());
  Outcome schema = check_against_schema(*defaults, *overrides, "", override_name);
  if (!schema) return Unexpected(schema.error());
  return read_config_values(*defaults, *overrides, override_name);
}

Expected<Config> load_builtin_config() {
  return load_config_from_text("", "built-in defaults");
}

Expected<Config> load_config(const std::optional<std::string>& explicit_file, const Host& host) {
  if (explicit_file) {
    std::ifstream stream(*explicit_file, std::ios::binary);
    if (!stream) return fail_with("--config " + *explicit_file + ": cannot be read");
    std::ostringstream content;
    content << stream.rdbuf();
    if (stream.bad()) return fail_with("--config " + *explicit_file + ": read error");
    return load_config_from_text(content.str(), *explicit_file);
  }
  const std::string host_config = "/etc/qharden/qharden.toml";
  if (!host.exists(host_config)) return load_builtin_config();
  Expected<std::string> content = host.read_file(host_config);
  if (!content) return Unexpected(content.error());
  return load_config_from_text(*content, path_under_root(host.root(), host_config));
}

}  // namespace qharden
