#include "inventory/xinetd_check_entry.h"

#include <cstdlib>
#include <string_view>
#include <vector>

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

constexpr std::string_view kSpace = " \t\r\v\f";  // isspace() but '\n'

// nss_database.c: a line is a database name up to a space or ':', then
// spaces and colons, then its sources; the last line for a database counts.
// A '#' inside the sources is not a comment: glibc loads it as a module.
std::optional<std::string> passwd_sources(const std::string& nsswitch) {
  std::optional<std::string> sources;
  std::string_view text = nsswitch;
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    line.remove_prefix(std::min(line.size(), line.find_first_not_of(kSpace)));
    if (line.empty() || line.front() == '#') continue;
    std::size_t name_end = std::min(line.size(), line.find_first_of(" \t\r\v\f:"));
    if (line.substr(0, name_end) != "passwd") continue;
    line.remove_prefix(name_end);
    line.remove_prefix(std::min(line.size(), line.find_first_not_of(" \t\r\v\f:")));
    sources = std::string(line);
  }
  return sources;
}

// nss_files' passwd parser wants seven fields and numeric ids of 32 bits.
bool is_passwd_entry(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    std::size_t colon = line.find(':');
    fields.push_back(line.substr(0, colon));
    if (colon == std::string_view::npos) break;
    line.remove_prefix(colon + 1);
  }
  if (fields.size() < 7) return false;
  for (std::size_t index : {2u, 3u}) {
    std::string id(fields[index]);
    std::size_t start = id.find_first_not_of(kSpace);
    if (start == std::string::npos || id[start] == '-') return false;
    char* end = nullptr;
    unsigned long value = std::strtoul(id.c_str(), &end, 10);
    if (end == id.c_str() + start || *end != '\0' || value > 0xffffffffUL) return false;
  }
  return true;
}

// The users the files give, or nullopt when others may come from elsewhere.
std::optional<std::set<std::string>> local_users(const XinetdNameTexts& texts) {
  if (!texts.passwd) return std::nullopt;
  // Without the file, or without a passwd line, glibc takes files alone; an
  // empty passwd line has no source at all, so no user exists.
  std::optional<std::string> sources =
      texts.nsswitch ? passwd_sources(*texts.nsswitch) : std::optional<std::string>();
  if (!sources) sources = "files";
  std::set<std::string> users;
  bool files = false;
  for (std::string_view rest = *sources;;) {
    std::size_t start = rest.find_first_not_of(kSpace);
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    std::size_t end = std::min(rest.size(), rest.find_first_of(kSpace));
    std::string_view source = rest.substr(0, end);
    rest.remove_prefix(end);
    if (source == "files" || source == "compat") {
      files = true;
    } else if (source == "systemd") {
      // nss-systemd always has these two; userdb records or homed could add any.
      if (texts.userdb_records) return std::nullopt;
      users.insert({"root", "nobody"});
    } else {
      return std::nullopt;  // ldap, sss, nis, winbind, an action like [NOTFOUND=return], a '#'
    }
  }
  if (!files) return users;
  std::string_view text = *texts.passwd;
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    // nss_files skips leading spaces, empty lines and comments.
    line.remove_prefix(std::min(line.size(), line.find_first_not_of(kSpace)));
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '+' || line.front() == '-') return std::nullopt;  // compat's NIS lines
    if (is_passwd_entry(line)) users.insert(std::string(line.substr(0, line.find(':'))));
  }
  return users;
}

bool has_userdb_records(const Host& host) {
  // systemd 252's drop-in folders, and homed's varlink socket.
  for (const char* folder : {"/etc/userdb", "/run/userdb", "/run/host/userdb",
                             "/usr/local/lib/userdb", "/usr/lib/userdb"}) {
    Expected<std::vector<std::string>> entries = host.list_directory(folder);
    if (entries && !entries->empty()) return true;
  }
  Expected<FileStatus> homed = host.status("/run/systemd/userdb/io.systemd.Home", false);
  return homed && homed->kind != FileKind::missing;
}

}  // namespace

XinetdNameFiles::XinetdNameFiles(const Host& host)
    : XinetdNameFiles(XinetdNameTexts{
          read_name_file(host, "/etc/services"), read_name_file(host, "/etc/protocols"),
          read_name_file(host, "/etc/passwd"), read_name_file(host, "/etc/nsswitch.conf"),
          has_userdb_records(host)}) {}

XinetdNameFiles::XinetdNameFiles(const XinetdNameTexts& texts)
    : ports_(std::make_shared<const ServicePorts>(texts.services)) {
  if (std::optional<std::set<std::string>> users = local_users(texts)) {
    users_ = std::make_shared<const std::set<std::string>>(std::move(*users));
  }
  if (!texts.protocols) return;
  std::map<std::string, int> protocols;
  visit_name_file_entries(*texts.protocols, [&](const std::vector<std::string>& words) {
    if (words.size() < 2 || words[1].front() == '-') return;
    // strtoul, base 10, refused above 32 bits; then cut to an int.
    char* end = nullptr;
    unsigned long number = std::strtoul(words[1].c_str(), &end, 10);
    if (end == words[1].c_str() || *end != '\0' || number > 0xffffffffUL) return;
    for (std::size_t index = 0; index < words.size(); ++index) {
      if (index != 1) protocols.emplace(words[index], static_cast<int>(number));  // first wins
    }
  });
  protocols_ = std::make_shared<const std::map<std::string, int>>(std::move(protocols));
}

std::optional<int> XinetdNameFiles::protocol_number(const std::string& name) const {
  if (!protocols_) {
    if (name == "tcp") return 6;
    if (name == "udp") return 17;
    return std::nullopt;
  }
  auto found = protocols_->find(name);
  if (found == protocols_->end()) return std::nullopt;
  return found->second;
}

XinetdLookups XinetdNameFiles::lookups() const {
  XinetdLookups lookups;
  if (protocols_) {
    lookups.protocol_exists = [protocols = protocols_](const std::string& name) {
      return protocols->count(name) != 0;
    };
  }
  if (users_) {
    lookups.user_exists = [users = users_](const std::string& name) {
      return users->count(name) != 0;
    };
  }
  if (ports_->file_read()) {
    lookups.tcp_service_exists = [ports = ports_](const std::string& name) {
      return ports->find_listed(name, "tcp").has_value();
    };
  }
  return lookups;
}

std::optional<std::string> xinetd_start_refusal(const XinetdService& service,
                                                const XinetdNameFiles& names) {
  auto has_type = [&](const char* type) { return service.types.count(type) != 0; };
  auto has_flag = [&](const char* flag) { return service.flags.count(flag) != 0; };
  if (has_type("RPC") || has_type("INTERNAL") || has_type("TCPMUX") || has_type("TCPMUXPLUS") ||
      has_flag("SENSOR")) {
    return std::nullopt;
  }
  const std::string& name = service.name;
  const std::string& id = service.id;
  bool waits = service.wait.value_or(false);
  // service_fill, in its order: fix_server_argv first (a redirect runs /bin/true).
  if (service.server.empty() && !service.redirected && !service.redirect_to_a_name) {
    return refusal("Must specify a server in " + name, "add a server line");
  }
  if (service.name_in_args && !service.server_args_end) {
    return refusal("Must specify server args if using NAMEINARGS flag",
                   "add a server_args line, or remove NAMEINARGS from flags");
  }
  std::optional<std::string> protocol = effective_protocol(service);
  std::optional<std::string> socket_type = effective_socket_type(service);
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
  if (has_flag("LABELED")) {
    if (socket_type != "stream") {
      return refusal("Non-stream socket types cannot support labeled networking: " + id,
                     "remove LABELED from flags");
    }
    if (waits) {
      return refusal("Tcp wait services cannot support labeled networking: " + id,
                     "remove LABELED from flags");
    }
    if (service.redirected) {
      return refusal("Redirected services cannot support labeled networking: " + id,
                     "remove LABELED from flags");
    }
  }
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
  if (service.redirected) {
    if (socket_type != "stream") {
      return refusal("Only tcp sockets are supported for redirected service " + name,
                     "write socket_type = stream");
    }
    if (waits) return refusal("Redirected service " + name + " must not wait", "write wait = no");
    if (service.name_in_args) {
      return refusal("Redirected service " + name + " should not have NAMEINARGS flag set",
                     "remove NAMEINARGS from flags");
    }
  } else if (service.log_on_success.count("TRAFFIC") != 0 && !service.redirect_to_a_name) {
    return refusal("Service " + name + " should not have TRAFFIC flag set since its not redirected",
                   "remove TRAFFIC from log_on_success, here or in defaults");
  }
  // service_attr_check: lines a service must have itself, not from defaults,
  // named in xinetd's attribute order.
  std::string missing;
  auto require = [&](bool present, const char* attribute) {
    if (present) return;
    if (!missing.empty()) missing += ", ";
    missing += "\"Service " + id + " missing attribute " + attribute + " - DISABLING\"";
  };
  require(service.wait.has_value(), "wait");
  require(socket_type.has_value(), "socket_type");
  if (unlisted) require(protocol.has_value(), "protocol");
  require(service.user_set, "user");
  if (unlisted) require(service.port.has_value(), "port");
  if (!missing.empty()) return "xinetd drops it at start (" + missing + "): add the lines";
  // Then it opens the socket. Only the pairs seen failing on Debian 12 are
  // claimed: the kernel takes others (mptcp over stream, udplite over dgram).
  int number = protocol ? names.protocol_number(*protocol).value_or(-1) : -1;
  if ((socket_type == "stream" && number == 17) || (socket_type == "seqpacket" && number == 6)) {
    return "xinetd cannot open its socket (\"socket creation failed\", \"Service " + id +
           " failed to start and is deactivated\"): socket_type = " + *socket_type +
           " does not carry protocol " + *protocol;
  }
  if (service.name_in_args_after_server_args) {
    return "xinetd runs no server (\"Unexpected signal: 11 (Segmentation fault)\" for each "
           "connection: server_args came before NAMEINARGS, so argv[0] is unset): write the "
           "flags line before server_args";
  }
  return std::nullopt;
}

}  // namespace qharden
