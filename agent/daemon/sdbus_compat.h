#pragma once
// The one place where sdbus-c++ 1.x (Debian 12, EPEL 9) and 2.x (Debian 13)
// differ for qhardend. Everything else in agent/daemon calls these names and
// compiles unchanged on both. QHARDEN_SDBUS_MAJOR comes from the version CMake
// found (sdbus-c++'s headers define no version macro).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "daemon/bus_text.h"

#ifndef QHARDEN_SDBUS_MAJOR
#error "QHARDEN_SDBUS_MAJOR must be set by CMake (the found sdbus-c++'s major version)"
#endif

namespace qharden::agent::sdbus_compat {

// 2.x made error names, service names and property names strong types.
// The message quotes what failed, a file name too: made valid UTF-8, or the
// error reply itself could not be sent.
inline sdbus::Error make_error(const char* name, const std::string& message) {
#if QHARDEN_SDBUS_MAJOR >= 2
  return sdbus::Error(sdbus::Error::Name{name}, bus_text(message));
#else
  return sdbus::Error(name, bus_text(message));
#endif
}

inline std::unique_ptr<sdbus::IProxy> create_proxy(sdbus::IConnection& connection,
                                                   const char* service, const char* path) {
#if QHARDEN_SDBUS_MAJOR >= 2
  return sdbus::createProxy(connection, sdbus::ServiceName{service}, sdbus::ObjectPath{path});
#else
  return sdbus::createProxy(connection, service, path);
#endif
}

inline void request_name(sdbus::IConnection& connection, const char* name) {
#if QHARDEN_SDBUS_MAJOR >= 2
  connection.requestName(sdbus::ServiceName{name});
#else
  connection.requestName(name);
#endif
}

template <typename Adaptor>
void emit_properties_changed(Adaptor& adaptor, const char* interface,
                             const std::vector<std::string>& names) {
#if QHARDEN_SDBUS_MAJOR >= 2
  std::vector<sdbus::PropertyName> property_names(names.begin(), names.end());
  adaptor.emitPropertiesChangedSignal(interface, property_names);
#else
  adaptor.emitPropertiesChangedSignal(interface, names);
#endif
}

// The bus name of the caller whose method call is being handled; nothing
// outside a handler. 1.x hands out a pointer, 2.x a Message by value.
inline std::optional<std::string> current_sender(sdbus::IObject& object) {
#if QHARDEN_SDBUS_MAJOR >= 2
  sdbus::Message message = object.getCurrentlyProcessedMessage();
  if (!message.isValid()) return std::nullopt;
  const char* sender = message.getSender();
  if (sender == nullptr) return std::nullopt;
  return std::string(sender);
#else
  const sdbus::Message* message = object.getCurrentlyProcessedMessage();
  if (message == nullptr) return std::nullopt;
  return message->getSender();
#endif
}

// The first parameter of an async reply callback: a pointer in 1.x, an
// optional in 2.x. Both test false when the call succeeded and give ->.
#if QHARDEN_SDBUS_MAJOR >= 2
using AsyncReplyError = std::optional<sdbus::Error>;
#else
using AsyncReplyError = const sdbus::Error*;
#endif

// When the connection wants to be woken, as an absolute CLOCK_MONOTONIC time
// in microseconds; UINT64_MAX for never.
inline std::uint64_t poll_timeout_usec(const sdbus::IConnection::PollData& poll) {
#if QHARDEN_SDBUS_MAJOR >= 2
  if (poll.timeout == std::chrono::microseconds::max()) return UINT64_MAX;
  return static_cast<std::uint64_t>(poll.timeout.count());
#else
  return poll.timeout_usec;
#endif
}

// 2.x also signals work queued inside the library through an eventfd, which
// the loop must watch for POLLIN beside the bus fd; 1.x has none (-1).
inline int poll_event_fd([[maybe_unused]] const sdbus::IConnection::PollData& poll) {
#if QHARDEN_SDBUS_MAJOR >= 2
  return poll.eventFd;
#else
  return -1;
#endif
}

// Handles one queued message or event; false when nothing was pending.
inline bool process_pending(sdbus::IConnection& connection) {
#if QHARDEN_SDBUS_MAJOR >= 2
  return connection.processPendingEvent();
#else
  return connection.processPendingRequest();
#endif
}

// A match whose lifetime the returned slot owns; the callback ignores the
// message (1.x passes it by reference, 2.x by value).
template <typename Callback>
sdbus::Slot add_match(sdbus::IConnection& connection, const std::string& match, Callback callback) {
#if QHARDEN_SDBUS_MAJOR >= 2
  return connection.addMatch(
      match, [callback = std::move(callback)](sdbus::Message /*message*/) { callback(); },
      sdbus::return_slot);
#else
  return connection.addMatch(
      match, [callback = std::move(callback)](sdbus::Message& /*message*/) { callback(); });
#endif
}

}  // namespace qharden::agent::sdbus_compat
