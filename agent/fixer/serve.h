// The fixer's work: one decoded request against its own root and config.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qharden::fixer {

struct FixerSettings {
  std::string root = "/";
  std::optional<std::string> config_file;
};

struct Served {
  std::string response;  // encoded, ready to send
  std::string summary;   // one line for the log: what was done and how it ended
};

// Never throws; every refusal is an error response that says why.
Served serve_request(std::string_view request_text, const FixerSettings& settings);

}  // namespace qharden::fixer
