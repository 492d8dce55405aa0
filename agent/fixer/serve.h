// The fixer's work: one decoded request against its own root and config.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qharden::fixer {

// What one installed fixer does. Under systemd there are two units, each with
// only the privileges of its part: qharden-fixer@ writes (fixes) and
// qharden-reader@ reads (netfilter, other users' /proc). Started by qhardend
// itself, one program does both.
enum class Serves { fixes, reads, all };

struct FixerSettings {
  std::string root = "/";
  std::optional<std::string> config_file;
  Serves serves = Serves::all;
};

struct Served {
  std::string response;  // encoded, ready to send
  std::string summary;   // one line for the log: what was done and how it ended
};

// Never throws; every refusal is an error response that says why.
Served serve_request(std::string_view request_text, const FixerSettings& settings);

}  // namespace qharden::fixer
