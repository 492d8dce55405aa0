// sockets.stuck without the host: tallies a sock_diag dump per watched state and
// turns it into findings, so unit tests can feed it any dump and any owners.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "engine/rule.h"
#include "host/process_sockets.h"
#include "host/sock_diag.h"
#include "host/sockstat.h"

namespace qharden {

struct WatchedState {
  TcpState state;
  std::string_view name;  // the finding's subject
  std::int64_t threshold;
};

// The six watched states in the design's order, with their thresholds.
std::vector<WatchedState> watched_states(const Config::SocketsStuck& config);

// The request's state mask: the watched states plus LISTEN, whose ports decide
// which side of a connection is the service.
std::uint32_t census_state_mask();

struct StateTally {
  std::int64_t count = 0;
  std::map<std::uint16_t, std::int64_t> by_port;  // only for the states asked for
  std::vector<std::uint32_t> inodes;              // non-zero inodes only
};

constexpr std::uint32_t kEveryState = ~std::uint32_t{0};

// One tally per watched state, in watched_states() order; by_port is filled
// only for the states in by_port_states, since finding each socket's service
// side costs a listener lookup per socket.
std::vector<StateTally> tally_sockets(const std::vector<DiagSocket>& sockets,
                                      std::uint32_t by_port_states = kEveryState);

// The counts, and how they were taken (evidence.census).
struct Census {
  std::vector<StateTally> tallies;  // watched_states() order
  // "full": one dump of every watched state; "sockstat+filtered": TIME_WAIT
  // from /proc/net/sockstat, the other states from a dump without TIME_WAIT.
  std::string method;
  std::string full_reason;               // why the fast path was not taken; empty on it
  std::int64_t sockstat_time_wait = -1;  // the `tw` used; -1 when not read
  std::int64_t fin_wait_2_timewait = 0;  // orphaned FIN_WAIT_2 mini-sockets taken off `tw`
};

// expected_count: how many sockets sockstat suggests the dump holds (room is
// made for them at once); 0 when unknown.
using SocketDumper = std::function<Expected<std::vector<DiagSocket>>(std::uint32_t state_mask,
                                                                     std::size_t expected_count)>;
using SockstatReader = std::function<Expected<SockstatTcp>()>;

// The fast path when sockstat shows TIME_WAIT cannot be over its threshold;
// otherwise, or when sockstat and the dump disagree, one full dump.
Expected<Census> take_census(const Config::SocketsStuck& config, const SocketDumper& dumper,
                             const SockstatReader& sockstat);

// The census of a dump already taken of every watched state.
Expected<Census> census_of_dump(const Config::SocketsStuck& config,
                                const Expected<std::vector<DiagSocket>>& dump);

using OwnerScanner =
    std::function<Expected<OwnerScan>(const std::unordered_map<std::uint32_t, int>& inode_groups)>;

// One finding per watched state. The scanner runs once, for the states over
// their threshold that have inodes, and only then.
std::vector<Finding> census_findings(const RuleInfo& info, const Config::SocketsStuck& config,
                                     const Expected<Census>& census, const OwnerScanner& scanner);

}  // namespace qharden
