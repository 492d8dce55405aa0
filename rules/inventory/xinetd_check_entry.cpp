#include "inventory/xinetd_check_entry.h"

#include <string_view>

#include "host/host.h"
#include "parsers/xinetd_words.h"

namespace qharden {
namespace {

std::string refusal(const std::string& xinetd_message, const std::string& way_out) {
  return "xinetd drops it at start (\"" + xinetd_message + "\"): " + way_out;
}

// service_fill: a protocol, given or taken from socket_type stream or dgram.
std::optional<std::string> effective_protocol(const XinetdService& service) {
  if (service.protocol) return service.protocol;
  if (service.socket_type == "stream") return "tcp";
  if (service.socket_type == "dgram") return "udp";
  return std::nullopt;
}

// service_fill: then a socket type, given or taken from protocol tcp or udp.
std::optional<std::string> effective_socket_type(const XinetdService& service) {
  if (service.socket_type) return service.socket_type;
  if (service.protocol && xinetd_equals(*service.protocol, "tcp")) return "stream";
  if (service.protocol && xinetd_equals(*service.protocol, "udp")) return "dgram";
  return std::nullopt;
}

}  // namespace

XinetdNameFiles::XinetdNameFiles(const Host& host)
    : XinetdNameFiles(read_name_file(host, "/etc/services"),
                      read_name_file(host, "/etc/protocols")) {}

XinetdNameFiles::XinetdNameFiles(const std::optional<std::string>& services_text,
                                 const std::optional<std::string>& protocols_text)
    : ports_(services_text) {
  if (!protocols_text) {
    protocols_ = {"tcp", "udp"};
    return;
  }
  for (const std::vector<std::string>& words : name_file_entries(*protocols_text)) {
    for (std::size_t index = 0; index < words.size(); ++index) {
      if (index != 1) protocols_.insert(words[index]);  // the second is the number
    }
  }
}

bool XinetdNameFiles::knows_protocol(const std::string& name) const {
  return protocols_.count(name) != 0;
}

std::optional<std::string> xinetd_start_refusal(const XinetdService& service,
                                                const XinetdNameFiles& names) {
  auto has_type = [&](const char* type) { return service.types.count(type) != 0; };
  if (has_type("RPC") || has_type("INTERNAL") || has_type("TCPMUX") || has_type("TCPMUXPLUS")) {
    return std::nullopt;
  }
  const std::string& name = service.name;
  // service_fill, in its order: fix_server_argv first (a redirect runs /bin/true).
  if (service.server.empty() && !service.redirected) {
    return refusal("Must specify a server in " + name, "add a server line");
  }
  if (service.name_in_args && !service.server_args_end && !service.redirected) {
    return refusal("Must specify server args if using NAMEINARGS flag",
                   "add a server_args line, or remove NAMEINARGS from flags");
  }
  if (service.protocol && !names.knows_protocol(*service.protocol)) {
    // protocol_parser refuses it; not in /etc/protocols, it cannot be listed either.
    return refusal("Protocol " + *service.protocol + " not in /etc/protocols",
                   "write protocol = tcp");
  }
  std::optional<std::string> protocol = effective_protocol(service);
  bool unlisted = has_type("UNLISTED");
  if (!service.port) {
    if (unlisted) {
      return refusal("Unlisted service: " + name + " must have a port entry", "add a port line");
    }
    if (!protocol) {
      return refusal("Port not specified for service: " + name + " and no protocol given",
                     "add socket_type = stream");
    }
    if (names.ports().file_read() && !names.ports().find_listed(name, *protocol)) {
      return refusal(
          "Port not specified and can't find service: " + name + " with getservbyname",
          name + "/" + *protocol + " is not in /etc/services: add a port line and type = UNLISTED");
    }
  }
  // check_entry, in its order.
  if (!unlisted) {
    if (!protocol) {
      return refusal("A protocol or a socket_type must be specified for service: " + name + ".",
                     "add socket_type = stream");
    }
    // Without /etc/services only the mail names are known: nothing is claimed for the rest.
    std::optional<int> listed_port = names.ports().find_listed(name, *protocol);
    if (!listed_port && names.ports().file_read()) {
      return refusal("service/protocol combination not in /etc/services: " + name + "/" + *protocol,
                     "add type = UNLISTED and a port line");
    }
    if (listed_port && service.port && *service.port != *listed_port) {
      return refusal("Service " + name + " expects port " + std::to_string(*listed_port) +
                         ", not " + std::to_string(*service.port),
                     "add type = UNLISTED to serve port " + std::to_string(*service.port));
    }
  }
  std::optional<std::string> socket_type = effective_socket_type(service);
  if (socket_type == "dgram" && !service.wait.value_or(false)) {
    return refusal("Service " + name + " has socket_type dgram, but does not wait",
                   "write wait = yes");
  }
  // service_attr_check: lines a service must have itself, not from defaults.
  std::string missing;
  auto require = [&](bool present, const char* attribute) {
    if (present) return;
    if (!missing.empty()) missing += ", ";
    missing += "\"Service " + service.id + " missing attribute " + attribute + " - DISABLING\"";
  };
  require(socket_type.has_value(), "socket_type");
  require(service.wait.has_value(), "wait");
  require(service.user_set, "user");
  if (unlisted) {
    require(protocol.has_value(), "protocol");
    require(service.port.has_value(), "port");
  }
  if (!missing.empty()) return "xinetd drops it at start (" + missing + "): add the lines";
  return std::nullopt;
}

}  // namespace qharden
