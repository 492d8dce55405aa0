// inetd.conf lines into the inventory, read through the Host.
#include <map>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "inventory/service_ports.h"
#include "parsers/inetd.h"

namespace qharden {

void collect_inetd_services(const Host& host, const Config& config, ServiceInventory& inventory) {
  const std::string& file = config.paths.inetd_conf;
  Expected<FileStatus> file_status = host.status(file, true);
  if (file_status && file_status->kind == FileKind::missing) return;
  inventory.inetd_present = true;
  Expected<std::string> text = host.read_file(file);
  if (!text) {
    std::string message = text.error().message;
    if (message.rfind(file + ": ", 0) == 0) message.erase(0, file.size() + 2);
    inventory.problems.push_back(InventoryProblem{LaunchSource::inetd, file, 0, message});
    return;
  }
  inventory.files_read.push_back(file);
  InetdFile parsed = parse_inetd_text(file, *text);
  for (InetdProblem& problem : parsed.problems) {
    inventory.problems.push_back(
        InventoryProblem{LaunchSource::inetd, file, problem.line, std::move(problem.message)});
  }
  // tcp and tcp6 lines of one service share the service field; the protocol
  // then tells them apart in the subject.
  ServicePorts service_ports(host);
  std::map<std::string, int> lines_per_service;
  for (const InetdEntry& entry : parsed.entries) ++lines_per_service[entry.service];
  for (const InetdEntry& entry : parsed.entries) {
    ServiceCommand command;
    command.source = LaunchSource::inetd;
    command.file = file;
    command.line = entry.line;
    command.service = entry.service;
    command.subject = file + ":" + entry.service;
    if (lines_per_service[entry.service] > 1) command.subject += "/" + entry.protocol;
    InetdCommandLine command_line = inetd_command_line(entry);
    command.argv = std::move(command_line.argv);
    command.locations = std::move(command_line.locations);
    command.server_location = entry.server_location;
    // "127.0.0.1:smtp" binds one address; the port is the part after it.
    std::size_t colon = entry.service.rfind(':');
    command.port = service_ports.find(colon == std::string::npos ? entry.service
                                                                 : entry.service.substr(colon + 1));
    // openbsd-inetd's wait/nowait[.max] field: max forks a minute (256 without
    // it) before inetd stops the service for ten minutes.
    BurstLimitSetting wait_field;
    wait_field.name = "wait";
    wait_field.words = {entry.wait};
    wait_field.from = entry.wait.find('.') != std::string::npos ? "service" : "built-in";
    wait_field.file = file;
    wait_field.line = entry.line;
    wait_field.locations = {entry.wait_location};
    command.burst_limits.push_back(std::move(wait_field));
    inventory.commands.push_back(std::move(command));
  }
}

}  // namespace qharden
