// Service names to TCP ports as getservbyname() reads them from /etc/services
// (through the Host, so a --root tree uses its own file). The mail ports are
// known even when that file is absent, as on minimal containers.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qharden {

class Host;

// A name database file (/etc/services, /etc/protocols); nullopt when unreadable.
std::optional<std::string> read_name_file(const Host& host, const char* path);
// The words of each of its lines that holds any, after '#' is cut off, one
// line at a time: these files can be large, and only the names are kept.
void visit_name_file_entries(const std::string& text,
                             const std::function<void(const std::vector<std::string>&)>& visit);

class ServicePorts {
 public:
  explicit ServicePorts(const Host& host);
  // The text of /etc/services, or nullopt when there is none.
  explicit ServicePorts(const std::optional<std::string>& services_text);

  // A decimal port or a service name; nullopt when neither.
  std::optional<int> find(const std::string& name_or_number) const;

  // getservbyname(name, protocol): the first line naming it, the protocol
  // compared with case as glibc does. Without the file, the mail ports only.
  std::optional<int> find_listed(const std::string& name, const std::string& protocol) const;
  bool file_read() const { return file_read_; }

 private:
  std::map<std::pair<std::string, std::string>, int> listed_;  // (name, protocol)
  bool file_read_ = false;
};

}  // namespace qharden
