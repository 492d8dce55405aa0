// The SMTP listeners smtp.greeting probes: LISTEN sockets of this network
// namespace on the configured ports, each with the command line that answers
// it, plus services the inventory configures on those ports that nothing
// listens on.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/expected.h"
#include "inventory/inventory.h"

namespace qharden {

struct AuditContext;

struct SmtpListener {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> address{};
  std::uint32_t interface_index = 0;
  int port = 0;
  bool listening = false;  // false: configured, but no LISTEN socket
  bool v6only = false;     // an IPv6 socket with IPV6_V6ONLY: no IPv4 client reaches it
  std::optional<pid_t> pid;
  std::string process;  // the holder's comm
  // What runs for each connection: an inventory entry for xinetd and inetd,
  // else the holder's own argv from /proc/PID/cmdline (a tcpserver started by
  // hand is judged from what runs, not from a run script).
  std::optional<ServiceCommand> command;
  std::string command_source;  // "/etc/xinetd.d/smtp_psa:smtp", "/proc/812/cmdline"
  std::string note;            // why no command is known, or other caveats

  std::string address_text() const;  // "0.0.0.0", "::", "fe80::1%2"
  std::string subject() const;       // "0.0.0.0:25", "[::]:25"
};

// proc_root is "/proc" except in tests.
Expected<std::vector<SmtpListener>> find_smtp_listeners(AuditContext& context,
                                                        const std::vector<int>& ports,
                                                        const std::string& proc_root = "/proc");

// The port a tcpserver command line binds (its second operand), if it names one.
std::optional<int> tcpserver_port(const AuditContext& context, const ServiceCommand& command);

// /proc/PID/cmdline split at its NULs.
std::vector<std::string> split_command_line(std::string_view raw);

}  // namespace qharden
