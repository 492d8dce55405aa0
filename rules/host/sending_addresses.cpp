#include "host/sending_addresses.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace qharden {
namespace {

RouteSourceFunction& route_source_override() {
  static RouteSourceFunction replacement;
  return replacement;
}

// The kernel's source address for a route to probe, or "" with why.
std::string kernel_route_source(const std::string& probe, std::string& why) {
  sockaddr_storage destination{};
  socklen_t length = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&destination);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&destination);
  if (::inet_pton(AF_INET, probe.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(53);
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, probe.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(53);
    length = sizeof(sockaddr_in6);
  } else {
    why = "'" + probe + "' is no IP address";
    return {};
  }
  int socket_fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (socket_fd < 0) {
    why = std::string("socket: ") + std::strerror(errno);
    return {};
  }
  // connect() on a UDP socket only binds the route and the source address.
  if (::connect(socket_fd, reinterpret_cast<sockaddr*>(&destination), length) != 0) {
    why = "no route to " + probe + " (" + std::strerror(errno) + ")";
    ::close(socket_fd);
    return {};
  }
  sockaddr_storage local{};
  socklen_t local_length = sizeof(local);
  int named = ::getsockname(socket_fd, reinterpret_cast<sockaddr*>(&local), &local_length);
  int saved = errno;
  ::close(socket_fd);
  if (named != 0) {
    why = std::string("getsockname: ") + std::strerror(saved);
    return {};
  }
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw =
      family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
  ::inet_ntop(family, raw, text, sizeof(text));
  return text;
}

}  // namespace

void replace_route_source_for_tests(RouteSourceFunction replacement) {
  route_source_override() = std::move(replacement);
}

SendingAddresses discover_sending_addresses(const std::vector<std::string>& configured,
                                            const std::vector<std::string>& route_probes) {
  SendingAddresses result;
  auto add = [&result](SendingAddress address) {
    for (const SendingAddress& each : result.addresses) {
      if (each.address == address.address) return;
    }
    result.addresses.push_back(std::move(address));
  };
  if (!configured.empty()) {
    for (const std::string& address : configured)
      add({address, address.find(':') != std::string::npos, "config", ""});
    return result;
  }
  for (const std::string& probe : route_probes) {
    std::string why;
    std::string source =
        route_source_override() ? route_source_override()(probe) : kernel_route_source(probe, why);
    if (source.empty()) {
      result.notes.push_back(why.empty() ? "no route to " + probe : why);
      continue;
    }
    // A link-local or loopback source is not what the world sees.
    if (source.starts_with("127.") || source == "::1" || source.starts_with("fe80:")) {
      result.notes.push_back("the route to " + probe + " leaves from " + source +
                             ", which is not a public sending address");
      continue;
    }
    add({source, source.find(':') != std::string::npos, "route", probe});
  }
  return result;
}

}  // namespace qharden
