#include "fixer/confine.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

namespace qharden::fixer {
namespace {

constexpr std::array kForFixes{CAP_CHOWN,     CAP_FOWNER,  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
                               CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN};
constexpr std::array kForReads{CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH};

bool kept(int capability, Serves serves) {
  bool for_fixes = std::find(kForFixes.begin(), kForFixes.end(), capability) != kForFixes.end();
  bool for_reads = std::find(kForReads.begin(), kForReads.end(), capability) != kForReads.end();
  return (for_fixes && serves != Serves::reads) || (for_reads && serves != Serves::fixes);
}

Outcome failed(const char* what) {
  return fail_with(std::string("confining the fixer: ") + what + ": " + std::strerror(errno));
}

}  // namespace

Outcome confine_fixer(std::chrono::seconds time_limit, Serves serves) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return failed("no_new_privs");
  // Under its unit setrlimit is filtered, and LimitCORE=0 has done this.
  rlimit core{};
  if (::getrlimit(RLIMIT_CORE, &core) != 0) return failed("RLIMIT_CORE");
  rlimit no_core{0, 0};
  if (core.rlim_max != 0 && ::setrlimit(RLIMIT_CORE, &no_core) != 0) return failed("RLIMIT_CORE");

  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  std::array<__user_cap_data_struct, 2> data{};
  if (::syscall(SYS_capget, &header, data.data()) != 0) return failed("capget");
  bool may_drop_bounding = (data[0].effective & (1U << CAP_SETPCAP)) != 0;
  // The bounding set first (that needs CAP_SETPCAP, which goes next), so a
  // program the fixer runs (iptables, systemctl) cannot regain the rest.
  for (int capability = 0; capability <= CAP_LAST_CAP; ++capability) {
    if (kept(capability, serves) || ::prctl(PR_CAPBSET_READ, capability, 0, 0, 0) != 1) continue;
    if (!may_drop_bounding) continue;
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) {
      return failed("bounding set");
    }
  }
  for (int word = 0; word < 2; ++word) {
    std::uint32_t mask = 0;
    for (int bit = 0; bit < 32; ++bit) {
      if (kept(word * 32 + bit, serves)) mask |= 1U << bit;
    }
    data[static_cast<std::size_t>(word)].effective &= mask;
    data[static_cast<std::size_t>(word)].permitted &= mask;
    data[static_cast<std::size_t>(word)].inheritable = 0;
  }
  if (::syscall(SYS_capset, &header, data.data()) != 0) return failed("capset");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return failed("ambient capabilities");
  }
  ::alarm(static_cast<unsigned>(time_limit.count()));
  return Done{};
}

}  // namespace qharden::fixer
