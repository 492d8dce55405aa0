// What the fixer does to itself before it reads a request, so that it is
// confined the same way whether systemd started it (qharden-fixer@.service,
// which confines it further) or the agent did (fork and exec, in tests and on
// hosts where qhardend runs by hand).
#pragma once

#include <chrono>

#include "engine/expected.h"
#include "fixer/serve.h"

namespace qharden::fixer {

// No new privileges, no core dumps, a hard end after time_limit (SIGALRM
// kills it; the journal's interrupted-change handling settles a fix it cut
// short), and only the capabilities of what it serves, each for a reason.
// Fixes:
//   CAP_CHOWN            a replaced file keeps its owner
//   CAP_FOWNER           ... and its mode and ACL once it has that owner
//   CAP_DAC_OVERRIDE     folders and files of other users (qmail's run scripts)
//   CAP_DAC_READ_SEARCH  reading them
//   CAP_NET_ADMIN        netfilter (read and write) and net.* sysctls
//   CAP_NET_RAW          iptables-legacy's raw socket
//   CAP_SYS_ADMIN        extended attributes no LSM guards: security.selinux
//                        where SELinux is disabled, and trusted.*
// Reads:
//   CAP_NET_ADMIN, CAP_NET_RAW  reading netfilter
//   CAP_SYS_PTRACE       /proc/PID/fd and environ of another user's process
//   CAP_DAC_READ_SEARCH  ... whose environ is that user's 0400 file
// Capabilities the process does not have are left as they are.
Outcome confine_fixer(std::chrono::seconds time_limit, Serves serves);

}  // namespace qharden::fixer
