// What `qharden status` in both formats needs to reach qhardend with sd-bus:
// the agent's names, owners for sd-bus's C resources, and the bus by name.
#pragma once

#include <systemd/sd-bus.h>

#include <string>

namespace qharden::agent_bus {

inline constexpr const char* kDestination = "org.qharden.Agent1";
inline constexpr const char* kPath = "/org/qharden/Agent1";
inline constexpr const char* kInterface = "org.qharden.Agent1";

// sd-bus hands out C resources; these free them on every return path.
struct BusReference {
  sd_bus* bus = nullptr;
  ~BusReference() { sd_bus_flush_close_unref(bus); }
};
struct ErrorReference {
  sd_bus_error error{};  // all-zero is SD_BUS_ERROR_NULL, without its C99 compound literal
  ~ErrorReference() { sd_bus_error_free(&error); }
};
struct MessageReference {
  sd_bus_message* message = nullptr;
  ~MessageReference() { sd_bus_message_unref(message); }
};

// "system", "session", or a D-Bus address.
inline int open_bus(const std::string& bus_name, sd_bus** bus) {
  if (bus_name == "system") return sd_bus_open_system(bus);
  if (bus_name == "session") return sd_bus_open_user(bus);
  int result = sd_bus_new(bus);
  if (result < 0) return result;
  if ((result = sd_bus_set_address(*bus, bus_name.c_str())) < 0) return result;
  if ((result = sd_bus_set_bus_client(*bus, 1)) < 0) return result;
  return sd_bus_start(*bus);
}

}  // namespace qharden::agent_bus
