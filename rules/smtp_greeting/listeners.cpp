#include "smtp_greeting/listeners.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/context.h"
#include "host/privileged_reads.h"
#include "host/process_sockets.h"
#include "host/sock_diag.h"
#include "inventory/service_ports.h"
#include "parsers/getopt.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {
namespace {

std::string base_name(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_super_server(const std::string& name, std::string_view kind) {
  if (kind == "xinetd") return name == "xinetd";
  return name == "inetd" || name == "openbsd-inetd" || name == "inetutils-inetd";
}

bool address_is_any(const SmtpListener& listener) {
  std::size_t length = listener.family == AF_INET ? 4 : 16;
  return std::all_of(listener.address.begin(), listener.address.begin() + static_cast<long>(length),
                     [](std::uint8_t byte) { return byte == 0; });
}

// inetd's "127.0.0.1:smtp" binds one address; a plain "smtp" binds any.
bool inetd_service_matches_address(const ServiceCommand& command, const SmtpListener& listener) {
  std::size_t colon = command.service.rfind(':');
  if (colon == std::string::npos) return true;
  std::string host = command.service.substr(0, colon);
  if (host == "*") return address_is_any(listener);
  return host == listener.address_text();
}

// xinetd's services (and inetd.conf under INETD_COMPAT) or inetd's lines only:
// run scripts and systemd units are matched by their own holders.
const ServiceCommand* find_configured(const ServiceInventory& inventory,
                                      const SmtpListener& listener, bool xinetd) {
  const ServiceCommand* fallback = nullptr;
  for (const ServiceCommand& command : inventory.commands) {
    if (!command.enabled || command.port != listener.port) continue;
    bool inetd_line = command.source == LaunchSource::inetd;
    if (xinetd && !(command.source == LaunchSource::xinetd ||
                    (inetd_line && inventory.xinetd_serves_inetd_conf))) {
      continue;
    }
    if (!xinetd && !inetd_line) continue;
    if (!inetd_line || inetd_service_matches_address(command, listener)) return &command;
    if (fallback == nullptr) fallback = &command;
  }
  return fallback;
}

// The live /proc may need privileges this process lacks (another user's
// environ); a test's fake one is read directly.
Expected<ProcessDetails> process_details(pid_t pid, const std::string& proc_root) {
  if (proc_root == "/proc") return privileged_reader().read_process(pid);
  return read_process_details(pid, proc_root);
}

void attach_command(AuditContext& context, SmtpListener& listener, const std::string& proc_root) {
  const ServiceInventory& inventory = context.inventory();
  std::string process_directory = proc_root + "/" + std::to_string(*listener.pid);
  Expected<ProcessDetails> details = process_details(*listener.pid, proc_root);
  std::vector<std::string> argv = details ? details->argv : std::vector<std::string>{};
  std::string program = argv.empty() ? listener.process : base_name(argv.front());
  for (std::string_view kind : {"xinetd", "inetd"}) {
    if (!is_super_server(program, kind) && !is_super_server(listener.process, kind)) continue;
    if (const ServiceCommand* command = find_configured(inventory, listener, kind == "xinetd")) {
      listener.command = *command;
      listener.command_source = command->subject;
    } else {
      listener.note = std::string(kind) + " (pid " + std::to_string(*listener.pid) +
                      ") listens, but no enabled " + std::string(kind) +
                      " service on this port was found in the configuration";
    }
    return;
  }
  // systemd (pid 1) holds an Accept=yes socket itself and starts the unit's
  // ExecStart= per connection: that command is what answers. Other sockets it
  // holds (Accept=no) keep the old reading of the holder's command line.
  if (*listener.pid == 1 || listener.process == "systemd") {
    for (const ServiceCommand& command : inventory.commands) {
      if (command.source != LaunchSource::systemd || !command.enabled) continue;
      if (command.port != listener.port) continue;
      listener.command = command;
      listener.command_source = command.subject;
      return;
    }
  }
  if (argv.empty()) {
    listener.note = "the command line of pid " + std::to_string(*listener.pid) + " is unreadable" +
                    (details ? std::string() : ": " + details.error().message);
    return;
  }
  ServiceCommand command;
  command.source = LaunchSource::run_script;
  command.file = process_directory + "/cmdline";
  command.subject = command.file;
  command.service = program;
  command.argv = std::move(argv);
  command.locations.resize(command.argv.size());
  command.details->environment = std::move(details->environment);
  listener.command = std::move(command);
  listener.command_source = listener.command->subject;
}

// Without a holder (another user's process, or /proc hidden), the configuration
// is the best guess at what answers.
void attach_configured_guess(AuditContext& context, SmtpListener& listener) {
  const ServiceInventory& inventory = context.inventory();
  for (const ServiceCommand& command : inventory.commands) {
    if (!command.enabled) continue;
    std::optional<int> port = command.source == LaunchSource::run_script
                                  ? tcpserver_port(context, command)
                                  : command.port;
    if (port != listener.port) continue;
    listener.command = command;
    listener.command_source = command.subject;
    listener.note = "no process holding the socket was found; judged from " + command.subject;
    return;
  }
  listener.note = "no process holding the socket was found (run as root to see it)";
}

}  // namespace

std::vector<std::string> split_command_line(std::string_view raw) {
  return split_at_nuls(raw);
}

std::string SmtpListener::address_text() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, address.data(), text, sizeof text);
  std::string result = text;
  bool link_local = family == AF_INET6 && address[0] == 0xfe && (address[1] & 0xc0) == 0x80;
  if (link_local && interface_index != 0) result += "%" + std::to_string(interface_index);
  return result;
}

std::string SmtpListener::subject() const {
  std::string text = address_text();
  if (family == AF_INET6) text = "[" + text + "]";
  return text + ":" + std::to_string(port);
}

std::optional<int> tcpserver_port(const AuditContext& context, const ServiceCommand& command) {
  std::optional<std::size_t> word = find_program_word(command.argv, "tcpserver");
  if (!word) return std::nullopt;
  std::vector<std::string> after(command.argv.begin() + static_cast<long>(*word) + 1,
                                 command.argv.end());
  GetoptResult parsed = parse_options(after, kTcpserverIpv6Optstring);
  if (parsed.error || parsed.first_operand + 1 >= after.size()) return std::nullopt;
  return ServicePorts(context.host).find(after[parsed.first_operand + 1]);
}

Expected<std::vector<SmtpListener>> find_smtp_listeners(AuditContext& context,
                                                        const std::vector<int>& ports,
                                                        const std::string& proc_root) {
  Expected<std::vector<DiagSocket>> sockets = dump_tcp_sockets(state_bit(TcpState::listen));
  if (!sockets) return fail_with("listening sockets: " + sockets.error().message);
  std::set<int> wanted(ports.begin(), ports.end());
  std::vector<SmtpListener> listeners;
  std::unordered_map<std::uint32_t, int> inode_groups;
  for (const DiagSocket& socket : *sockets) {
    if (socket.state != static_cast<std::uint8_t>(TcpState::listen)) continue;
    if (!wanted.count(socket.local_port)) continue;
    SmtpListener listener;
    listener.family = socket.family;
    listener.address = socket.local_address;
    listener.interface_index = socket.interface_index;
    listener.port = socket.local_port;
    listener.listening = true;
    listener.v6only = socket.v6only;
    if (socket.inode != 0) inode_groups.emplace(socket.inode, static_cast<int>(listeners.size()));
    listeners.push_back(listener);
  }
  if (!inode_groups.empty()) {
    Expected<OwnerScan> owners = proc_root == "/proc"
                                     ? privileged_reader().scan_socket_owners(inode_groups)
                                     : scan_socket_owners(inode_groups, proc_root);
    if (owners) {
      // Holders come sorted by pid: the lowest is the parent that listens,
      // the others are children that inherited the descriptor.
      for (const SocketHolding& holding : owners->holdings) {
        SmtpListener& listener = listeners[static_cast<std::size_t>(holding.group)];
        if (listener.pid) continue;
        listener.pid = holding.pid;
        listener.process = holding.comm;
      }
    }
  }
  for (SmtpListener& listener : listeners) {
    if (listener.pid) {
      attach_command(context, listener, proc_root);
    } else {
      attach_configured_guess(context, listener);
    }
  }
  // Configured services that nothing answers: said, so that a dead mail
  // service is not mistaken for a fast one.
  std::set<std::string> answered;
  for (const SmtpListener& listener : listeners) {
    if (listener.command) answered.insert(listener.command->subject);
  }
  std::set<int> ports_listening;
  for (const SmtpListener& listener : listeners) ports_listening.insert(listener.port);
  for (const ServiceCommand& command : context.inventory().commands) {
    if (!command.enabled || answered.count(command.subject)) continue;
    std::optional<int> port = command.source == LaunchSource::run_script
                                  ? tcpserver_port(context, command)
                                  : command.port;
    if (!port || !wanted.count(*port) || ports_listening.count(*port)) continue;
    SmtpListener listener;
    listener.family = AF_INET;
    listener.port = *port;
    listener.command = command;
    listener.command_source = command.subject;
    listeners.push_back(listener);
    ports_listening.insert(*port);
  }
  return listeners;
}

}  // namespace qharden
