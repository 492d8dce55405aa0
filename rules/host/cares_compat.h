// The one place where the c-ares versions qharden builds against differ:
// Debian 12's 1.18 and Debian 13's 1.34. A health probe must see every server
// as it is, each time, which newer c-ares works against by default.
#pragma once

// 1.28 marks the parse and query calls qharden uses deprecated (for
// ares_dns_parse and ares_query_dnsrec, which 1.18 lacks); this keeps one code
// path for both, with warnings as errors.
#define CARES_NO_DEPRECATED
#include <ares.h>

namespace qharden {

// Turns off what c-ares does on its own from some version on, so that a probe
// asks the server every time and waits exactly the configured timeout:
// - the query cache (1.23; on by default from 1.31 with a one-hour TTL),
//   which would answer a repeated probe without asking;
// - failover probing (1.29), which sends extra copies to servers that failed;
// - adaptive timeouts (1.32 computes them after the first answer): capped at
//   what 1.18 waits on the last try, the timeout doubled for each retry, so a
//   probe never waits longer than it says and may still back off as 1.18
//   does (a cap of the bare timeout made every retry exactly as short as the
//   first). Within one channel, 1.32+ also shortens the first wait to a
//   multiple of the server's average latency after a few answers; there is
//   no option to turn that off.
inline void keep_probes_literal([[maybe_unused]] ares_options& settings, [[maybe_unused]] int& mask,
                                [[maybe_unused]] int timeout_ms, [[maybe_unused]] int tries) {
#ifdef ARES_OPT_QUERY_CACHE
  settings.qcache_max_ttl = 0;
  mask |= ARES_OPT_QUERY_CACHE;
#endif
#ifdef ARES_OPT_SERVER_FAILOVER
  settings.server_failover_opts.retry_chance = 0;
  settings.server_failover_opts.retry_delay = 0;
  mask |= ARES_OPT_SERVER_FAILOVER;
#endif
#ifdef ARES_OPT_MAXTIMEOUTMS
  int doublings = tries > 1 ? tries - 1 : 0;
  settings.maxtimeout = timeout_ms << (doublings < 16 ? doublings : 16);
  mask |= ARES_OPT_MAXTIMEOUTMS;
#endif
}

// How long a probe with two tries waits in all, at least, in timeouts. From
// 1.22 c-ares draws each retry's wait at random between the timeout and the
// doubled timeout (jitter against thundering herds), so the second try may be
// as short as the first; 1.18 waits exactly the doubled timeout.
inline constexpr double kTwoTriesShortestWaitInTimeouts = ARES_VERSION >= 0x011600 ? 2.0 : 3.0;

}  // namespace qharden
