// Service names to TCP ports as getservbyname() reads them from /etc/services
// (through the Host, so a --root tree uses its own file). The mail ports are
// known even when that file is absent, as on minimal containers.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace qharden {

class Host;

class ServicePorts {
 public:
  explicit ServicePorts(const Host& host);

  // A decimal port or a service name; nullopt when neither.
  std::optional<int> find(const std::string& name_or_number) const;

  // getservbyname(name, protocol): the first line naming it, the protocol
  // compared with case as glibc does. Without the file, the mail ports only.
  std::optional<int> find_listed(const std::string& name, const std::string& protocol) const;
  bool file_read() const { return file_read_; }

 private:
  std::map<std::string, int> ports_;
  std::map<std::pair<std::string, std::string>, int> listed_;  // (name, protocol)
  bool file_read_ = false;
};

}  // namespace qharden
