// The effective burst limits of one listener, each weighed against the
// configured bound. Shared by the check, the plan and the tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "inventory/inventory.h"

namespace qharden {

class Host;

inline constexpr std::int64_t kInetdBuiltInPerMinute = 256;  // openbsd-inetd's toomany
inline constexpr std::int64_t kTcpserverBuiltInConcurrency = 40;

struct JudgedLimit {
  // "cps" (rate), "cps_wait", "instances", "per_source" (xinetd); "per_minute"
  // (inetd); "concurrency" (tcpserver -c); "MaxConnections", "TriggerLimitBurst"
  // (systemd sockets).
  std::string name;
  std::optional<std::int64_t> value;  // nullopt: unlimited
  std::string from;                   // "service", "defaults", "drop-in" or "built-in"
  std::string file;
  int line = 0;
  std::string written;  // as written or built in: "cps = 50 10", "nowait.5", "-c 5"
  std::int64_t bound = 0;
  bool bound_is_maximum = false;  // cps_wait: the value must not exceed it
  bool ok = true;
};

struct ListenerLimits {
  std::string kind;  // "xinetd", "inetd", "tcpserver" or "systemd"
  std::vector<JudgedLimit> limits;
  std::optional<std::string> error;  // the limits cannot be read (a shell variable, a bad value)
  bool all_ok() const;
};

ListenerLimits judge_xinetd_limits(const ServiceCommand& command,
                                   const Config::ListenerBurstLimits& bounds);
ListenerLimits judge_inetd_limits(const ServiceCommand& command,
                                  const Config::ListenerBurstLimits& bounds);
// A systemd Accept=yes socket: MaxConnections and TriggerLimitBurst (0, or a
// TriggerLimitIntervalSec of 0, turns the trigger limit off).
ListenerLimits judge_systemd_limits(const ServiceCommand& command,
                                    const Config::ListenerBurstLimits& bounds);
// tcpserver_index: the argv word that runs tcpserver. With a host, a -c from a
// variable set to `cat FILE` (Life with qmail's MAXSMTPD and its
// control/concurrencyincoming) is read from that file.
ListenerLimits judge_tcpserver_limits(const ServiceCommand& command, std::size_t tcpserver_index,
                                      const Config::ListenerBurstLimits& bounds,
                                      const Host* host = nullptr);

// openbsd-inetd's reading of "nowait.N": N when it is a number of at least 1,
// else its built-in 256 (it logs "illegal max field" and uses that).
std::int64_t inetd_per_minute(const std::string& wait_field);

// tcpserver's port operand (the second word after its options), when written.
std::optional<std::string> tcpserver_port_word(const std::vector<std::string>& argv,
                                               std::size_t tcpserver_index);

// "cps 50 (built-in default) is below 100", for messages.
std::string describe_limit(const JudgedLimit& limit);

}  // namespace qharden
