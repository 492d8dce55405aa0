// sockets.stuck without the host: tallies a sock_diag dump per watched state and
// turns it into findings, so unit tests can feed it any dump and any owners.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "engine/rule.h"
#include "host/process_sockets.h"
#include "host/sock_diag.h"

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
  std::map<std::uint16_t, std::int64_t> by_port;
  std::vector<std::uint32_t> inodes;  // non-zero inodes only
};

// One tally per watched state, in watched_states() order.
std::vector<StateTally> tally_sockets(const std::vector<DiagSocket>& sockets);

using OwnerScanner =
    std::function<Expected<OwnerScan>(const std::unordered_map<std::uint32_t, int>& inode_groups)>;

// One finding per watched state. The scanner runs once, for the states over
// their threshold that have inodes, and only then.
std::vector<Finding> census_findings(const RuleInfo& info, const Config::SocketsStuck& config,
                                     const Expected<std::vector<DiagSocket>>& dump,
                                     const OwnerScanner& scanner);

}  // namespace qharden
