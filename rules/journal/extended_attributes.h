// Extended attributes that a replacement carries over from the file it
// replaces: the SELinux label (security.selinux), the POSIX ACL
// (system.posix_acl_access), user.* and trusted.*. Losing one would change who
// may read the file or how it is labelled, so none is ever dropped silently: an
// attribute that cannot be copied fails the write and is named.
#pragma once

#include <string>
#include <vector>

#include "engine/expected.h"

namespace qharden {

struct ExtendedAttribute {
  std::string name;
  std::string value;
};

// Every attribute of the open file that this process may read (trusted.* needs
// CAP_SYS_ADMIN to be listed at all). A file system without extended
// attributes has none.
Expected<std::vector<ExtendedAttribute>> read_extended_attributes(int descriptor,
                                                                  const std::string& host_path);

// Makes the open file carry `attributes`: each one that is missing or differs
// is set, and an ACL inherited from the folder's default ACL is removed when
// the original had none. Safe to call again: what already matches is left
// alone, so a second call needs no privilege unless something was dropped.
// host_path names the file in messages.
Outcome copy_extended_attributes(int descriptor, const std::vector<ExtendedAttribute>& attributes,
                                 const std::string& host_path);

}  // namespace qharden
