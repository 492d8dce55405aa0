#include "journal/extended_attributes.h"

#include <sys/types.h>
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>

namespace qharden {
namespace {

constexpr const char* kAccessAcl = "system.posix_acl_access";

// Every failure here happens before the rename, so the original stays.
std::string refusal(const std::string& host_path, const std::string& doing, int number) {
  return host_path + ": " + doing + ": " + std::strerror(number) + "; nothing was written";
}

struct Filled {
  std::string bytes;
  int error = 0;
};

// The xattr calls are asked for a size first; a value that grew in between
// shows as ERANGE, so the question is asked again.
template <typename Call>
Filled fill(Call call) {
  for (;;) {
    ssize_t size = call(nullptr, 0);
    if (size < 0) return {{}, errno};
    if (size == 0) return {};
    std::string bytes(static_cast<std::size_t>(size), '\0');
    ssize_t filled = call(bytes.data(), bytes.size());
    if (filled >= 0) {
      bytes.resize(static_cast<std::size_t>(filled));
      return {std::move(bytes), 0};
    }
    if (errno != ERANGE) return {{}, errno};
  }
}

Filled value_of(int descriptor, const std::string& name) {
  return fill([&](char* buffer, std::size_t size) {
    return ::fgetxattr(descriptor, name.c_str(), buffer, size);
  });
}

}  // namespace

Expected<std::vector<ExtendedAttribute>> read_extended_attributes(int descriptor,
                                                                  const std::string& host_path) {
  std::vector<ExtendedAttribute> attributes;
  Filled names =
      fill([&](char* buffer, std::size_t size) { return ::flistxattr(descriptor, buffer, size); });
  if (names.error == ENOTSUP) return attributes;
  if (names.error != 0) {
    return fail_with(refusal(host_path, "cannot list extended attributes", names.error));
  }
  std::size_t start = 0;
  while (start < names.bytes.size()) {
    std::size_t end = names.bytes.find('\0', start);
    if (end == std::string::npos) end = names.bytes.size();
    std::string name = names.bytes.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    Filled value = value_of(descriptor, name);
    // Removed since it was listed: the file no longer carries it.
    if (value.error == ENODATA) continue;
    if (value.error != 0) {
      return fail_with(refusal(host_path, "cannot read extended attribute " + name, value.error));
    }
    attributes.push_back({std::move(name), std::move(value.bytes)});
  }
  return attributes;
}

Outcome copy_extended_attributes(int descriptor, const std::vector<ExtendedAttribute>& attributes,
                                 const std::string& host_path) {
  bool carries_acl = false;
  for (const ExtendedAttribute& attribute : attributes) {
    if (attribute.name == kAccessAcl) carries_acl = true;
    // A label the policy already gave the new file needs no relabel
    // permission, and a second pass only restores what chown dropped.
    Filled present = value_of(descriptor, attribute.name);
    if (present.error == 0 && present.bytes == attribute.value) continue;
    if (::fsetxattr(descriptor, attribute.name.c_str(), attribute.value.data(),
                    attribute.value.size(), 0) != 0) {
      return fail_with(
          refusal(host_path, "cannot copy extended attribute " + attribute.name, errno));
    }
  }
  // A folder's default ACL is inherited by every new file; the original did
  // not carry one, and keeping it would change who may read the replacement.
  if (!carries_acl && ::fgetxattr(descriptor, kAccessAcl, nullptr, 0) >= 0 &&
      ::fremovexattr(descriptor, kAccessAcl) != 0) {
    return fail_with(refusal(host_path,
                             "cannot remove the ACL inherited from the folder's default ACL "
                             "(the original had none)",
                             errno));
  }
  return Done{};
}

}  // namespace qharden
