#include "sockets_stuck/census.h"

#include <algorithm>
#include <array>
#include <bitset>
#include <optional>
#include <string>

namespace qharden {
namespace {

using nlohmann::json;

// A port number alone is not enough: an outgoing IPv4 connection may get, as
// its ephemeral port, the number an IPv6 or other-address service listens on
// (a CI run saw this), and would then be counted against the wrong port.
// A connection can only come from a listener of its own family bound to its
// local address or to the wildcard; [::] takes IPv4 clients as v4-mapped AF_INET6.
bool accepted_by(const DiagSocket& listener, const DiagSocket& connection) {
  if (listener.family != connection.family || listener.local_port != connection.local_port) {
    return false;
  }
  static constexpr std::array<std::uint8_t, 16> wildcard{};
  return listener.local_address == wildcard || listener.local_address == connection.local_address;
}

std::string state_meaning(TcpState state) {
  switch (state) {
    case TcpState::close_wait:
      return "the peer closed but the named local process never closed its end, and no timeout "
             "will do it; fix or restart that process";
    case TcpState::fin_wait_1:
      return "our FIN is not acknowledged yet: the peer or the path is slow or gone; orphans are "
             "bounded by net.ipv4.tcp_orphan_retries";
    case TcpState::fin_wait_2:
      return "we closed and the peer never closed its end; for orphans (no owner) this is bounded "
             "by net.ipv4.tcp_fin_timeout, for held sockets only by the owner closing them";
    case TcpState::closing:
      return "both sides closed at once and our FIN is not acknowledged yet";
    case TcpState::last_ack:
      return "we closed after the peer and wait for its last ACK: the peer or the path is gone";
    case TcpState::time_wait:
      return "normal after an active close and gone within 60 s; it matters only when huge "
             "(port exhaustion for outgoing connections)";
    default:
      return "";
  }
}

json by_port_json(const StateTally& tally) {
  json ports = json::object();
  for (const auto& [port, count] : tally.by_port) ports[std::to_string(port)] = count;
  return ports;
}

std::string top_ports(const StateTally& tally) {
  std::vector<std::pair<std::int64_t, std::uint16_t>> ranked;
  for (const auto& [port, count] : tally.by_port) ranked.emplace_back(-count, port);
  std::sort(ranked.begin(), ranked.end());
  std::string text;
  for (std::size_t index = 0; index < ranked.size() && index < 3; ++index) {
    text += (text.empty() ? "" : ", ") + std::string("port ") +
            std::to_string(ranked[index].second) + " (" + std::to_string(-ranked[index].first) +
            ")";
  }
  return text;
}

std::string top_processes(const json& by_process) {
  std::string text;
  for (std::size_t index = 0; index < by_process.size() && index < 3; ++index) {
    const json& entry = by_process[index];
    text += (text.empty() ? "" : ", ") + entry["comm"].get<std::string>() + " (pid " +
            std::to_string(entry["pid"].get<std::int64_t>()) + ", " +
            std::to_string(entry["count"].get<std::int64_t>()) + ")";
  }
  return text;
}

}  // namespace

std::vector<WatchedState> watched_states(const Config::SocketsStuck& config) {
  return {{TcpState::close_wait, "CLOSE_WAIT", config.close_wait_max},
          {TcpState::fin_wait_1, "FIN_WAIT_1", config.fin_wait_1_max},
          {TcpState::fin_wait_2, "FIN_WAIT_2", config.fin_wait_2_max},
          {TcpState::closing, "CLOSING", config.closing_max},
          {TcpState::last_ack, "LAST_ACK", config.last_ack_max},
          {TcpState::time_wait, "TIME_WAIT", config.time_wait_max}};
}

std::uint32_t census_state_mask() {
  std::uint32_t mask = state_bit(TcpState::listen);
  for (const WatchedState& watched : watched_states(Config::SocketsStuck{})) {
    mask |= state_bit(watched.state);
  }
  return mask;
}

namespace {

int state_index(std::uint8_t state) {
  switch (static_cast<TcpState>(state)) {
    case TcpState::close_wait:
      return 0;
    case TcpState::fin_wait_1:
      return 1;
    case TcpState::fin_wait_2:
      return 2;
    case TcpState::closing:
      return 3;
    case TcpState::last_ack:
      return 4;
    case TcpState::time_wait:
      return 5;
    default:
      return -1;
  }
}

// Listeners by (family, port), so each socket looks at the few listeners on
// its own port instead of all of them.
using ListenerIndex = std::unordered_map<std::uint32_t, std::vector<const DiagSocket*>>;

std::uint32_t listener_key(const DiagSocket& socket) {
  return (std::uint32_t{socket.family} << 16) | socket.local_port;
}

void add_ports(std::vector<StateTally>& tallies, const std::vector<DiagSocket>& sockets,
               std::uint32_t by_port_states) {
  if (by_port_states == 0) return;
  ListenerIndex listeners;
  // Most sockets' local port has no listener (the client side of a
  // connection): a bit per port answers those without a hash lookup.
  std::bitset<65536> listened_ports;
  for (const DiagSocket& socket : sockets) {
    if (socket.state == static_cast<std::uint8_t>(TcpState::listen)) {
      listeners[listener_key(socket)].push_back(&socket);
      listened_ports.set(socket.local_port);
    }
  }
  // Counted in flat arrays first: a map insert per socket costs more than the
  // dump itself when 150,000 TIME_WAIT sockets are broken down.
  std::vector<std::vector<std::int64_t>> per_port(tallies.size());
  for (const DiagSocket& socket : sockets) {
    int index = state_index(socket.state);
    if (index < 0 || (by_port_states & (std::uint32_t{1} << socket.state)) == 0) continue;
    bool local_is_service = false;
    if (listened_ports.test(socket.local_port)) {
      if (auto found = listeners.find(listener_key(socket)); found != listeners.end()) {
        local_is_service =
            std::any_of(found->second.begin(), found->second.end(),
                        [&](const DiagSocket* listener) { return accepted_by(*listener, socket); });
      }
    }
    std::vector<std::int64_t>& counts = per_port[static_cast<std::size_t>(index)];
    if (counts.empty()) counts.resize(65536);
    ++counts[local_is_service ? socket.local_port : socket.remote_port];
  }
  for (std::size_t index = 0; index < tallies.size(); ++index) {
    const std::vector<std::int64_t>& counts = per_port[index];
    for (std::size_t port = 0; port < counts.size(); ++port) {
      if (counts[port] != 0)
        tallies[index].by_port[static_cast<std::uint16_t>(port)] += counts[port];
    }
  }
}

std::uint32_t states_over_threshold(const std::vector<StateTally>& tallies,
                                    const std::vector<WatchedState>& states) {
  std::uint32_t over = 0;
  for (std::size_t index = 0; index < states.size(); ++index) {
    if (tallies[index].count > states[index].threshold) over |= state_bit(states[index].state);
  }
  return over;
}

Expected<Census> full_census(const Config::SocketsStuck& config,
                             const Expected<std::vector<DiagSocket>>& dump, std::string reason) {
  if (!dump) return Unexpected(dump.error());
  Census census;
  census.method = "full";
  census.full_reason = std::move(reason);
  census.tallies = tally_sockets(*dump, 0);
  add_ports(census.tallies, *dump, states_over_threshold(census.tallies, watched_states(config)));
  return census;
}

}  // namespace

std::vector<StateTally> tally_sockets(const std::vector<DiagSocket>& sockets,
                                      std::uint32_t by_port_states) {
  std::vector<StateTally> tallies(watched_states(Config::SocketsStuck{}).size());
  for (const DiagSocket& socket : sockets) {
    int index = state_index(socket.state);
    if (index < 0) continue;
    StateTally& tally = tallies[static_cast<std::size_t>(index)];
    ++tally.count;
    if (socket.inode != 0) tally.inodes.push_back(socket.inode);
  }
  add_ports(tallies, sockets, by_port_states);
  return tallies;
}

Expected<Census> census_of_dump(const Config::SocketsStuck& config,
                                const Expected<std::vector<DiagSocket>>& dump) {
  return full_census(config, dump, "");
}

Expected<Census> take_census(const Config::SocketsStuck& config, const SocketDumper& dumper,
                             const SockstatReader& sockstat) {
  // Room for a full dump: sockstat's tw (TIME_WAIT and FIN_WAIT_2 mini-sockets)
  // makes it large, and the listeners and rare states (in inuse) come on top;
  // room made for tw alone was a little short, and the one doubling that
  // followed cost what the room saved. inuse counts ESTABLISHED too, which no
  // census dumps, so it adds at most tw again: never more than that doubling
  // would have taken. The filtered dump, small, gets no hint.
  static constexpr std::int64_t kLargestHint = std::int64_t{1} << 22;
  auto clamped = [](std::int64_t count) {
    return static_cast<std::size_t>(std::clamp<std::int64_t>(count, 0, kLargestHint));
  };
  std::size_t expected_full = 0;
  auto full = [&](std::string reason, std::int64_t time_wait_seen) {
    Expected<Census> census =
        full_census(config, dumper(census_state_mask(), expected_full), std::move(reason));
    if (census) census->sockstat_time_wait = time_wait_seen;
    return census;
  };
  Expected<SockstatTcp> before = sockstat();
  if (!before) return full(before.error().message, -1);
  expected_full =
      clamped(before->time_wait) + std::min(clamped(before->in_use), clamped(before->time_wait));
  // tw counts TIME_WAIT plus some FIN_WAIT_2, so it bounds TIME_WAIT from above.
  if (before->time_wait > config.time_wait_max) {
    return full("sockstat tw " + std::to_string(before->time_wait) +
                    " is over the TIME_WAIT threshold: every socket is walked for by_port",
                before->time_wait);
  }
  std::uint32_t mask = census_state_mask() & ~state_bit(TcpState::time_wait);
  Expected<std::vector<DiagSocket>> dump = dumper(mask, 0);
  if (!dump) return Unexpected(dump.error());
  // Read after the dump, so that mini-sockets created during it are in both.
  Expected<SockstatTcp> after = sockstat();
  if (!after) return full(after.error().message, -1);
  std::int64_t minis = 0;
  for (const DiagSocket& socket : *dump) {
    if (socket.state == static_cast<std::uint8_t>(TcpState::fin_wait_2) &&
        socket.timer == kTimewaitTimer) {
      ++minis;
    }
  }
  std::int64_t time_wait = after->time_wait - minis;
  if (time_wait < 0 || time_wait > config.time_wait_max) {
    return full("TIME_WAIT moved during the census (sockstat tw " +
                    std::to_string(before->time_wait) + " then " +
                    std::to_string(after->time_wait) + ", " + std::to_string(minis) +
                    " FIN_WAIT_2 mini-sockets)",
                after->time_wait);
  }
  Census census;
  census.method = "sockstat+filtered";
  census.sockstat_time_wait = after->time_wait;
  census.fin_wait_2_timewait = minis;
  census.tallies = tally_sockets(*dump, 0);
  census
      .tallies[static_cast<std::size_t>(
          state_index(static_cast<std::uint8_t>(TcpState::time_wait)))]
      .count = time_wait;
  add_ports(census.tallies, *dump, states_over_threshold(census.tallies, watched_states(config)));
  return census;
}

std::vector<Finding> census_findings(const RuleInfo& info, const Config::SocketsStuck& config,
                                     const Expected<Census>& census, const OwnerScanner& scanner) {
  std::vector<WatchedState> states = watched_states(config);
  std::vector<Finding> findings;
  if (!census) {
    for (const WatchedState& watched : states) {
      Finding finding = make_finding(info, std::string(watched.name), Status::error,
                                     "cannot count sockets: " + census.error().message);
      finding.evidence["threshold"] = watched.threshold;
      findings.push_back(std::move(finding));
    }
    return findings;
  }
  const std::vector<StateTally>& tallies = census->tallies;
  json census_evidence = {{"method", census->method}};
  if (census->sockstat_time_wait >= 0) census_evidence["sockstat_tw"] = census->sockstat_time_wait;
  if (census->method != "full") {
    census_evidence["fin_wait_2_timewait"] = census->fin_wait_2_timewait;
  }
  if (!census->full_reason.empty()) census_evidence["reason"] = census->full_reason;
  std::unordered_map<std::uint32_t, int> inode_groups;
  for (std::size_t index = 0; index < states.size(); ++index) {
    if (tallies[index].count <= states[index].threshold) continue;
    for (std::uint32_t inode : tallies[index].inodes) {
      inode_groups.emplace(inode, static_cast<int>(index));
    }
  }
  std::optional<Expected<OwnerScan>> owners;
  if (!inode_groups.empty()) owners = scanner(inode_groups);

  for (std::size_t index = 0; index < states.size(); ++index) {
    const WatchedState& watched = states[index];
    const StateTally& tally = tallies[index];
    bool over = tally.count > watched.threshold;
    json evidence = json::object();
    evidence["count"] = tally.count;
    evidence["threshold"] = watched.threshold;
    evidence["by_port"] = by_port_json(tally);
    evidence["by_process"] = json::array();
    evidence["owned"] = static_cast<std::int64_t>(tally.inodes.size());
    evidence["census"] = census_evidence;
    std::string owner_note;
    if (over && !tally.inodes.empty() && owners) {
      if (!*owners) {
        owner_note = "; owners unknown: " + owners->error().message;
      } else {
        for (const SocketHolding& holding : (*owners)->holdings) {
          if (holding.group != static_cast<int>(index)) continue;
          evidence["by_process"].push_back(
              {{"pid", holding.pid}, {"comm", holding.comm}, {"count", holding.count}});
        }
        std::stable_sort(evidence["by_process"].begin(), evidence["by_process"].end(),
                         [](const json& left, const json& right) {
                           return left["count"].get<std::int64_t>() >
                                  right["count"].get<std::int64_t>();
                         });
        evidence["owner_scan"] = {{"processes", (*owners)->processes},
                                  {"fds", (*owners)->descriptors},
                                  {"ms", (*owners)->milliseconds}};
        std::string named = top_processes(evidence["by_process"]);
        owner_note = named.empty() ? "; no process holds them any more" : "; held by " + named;
      }
    }
    std::string message = std::to_string(tally.count) + " TCP socket" +
                          (tally.count == 1 ? "" : "s") + " in " + std::string(watched.name);
    if (!over) {
      message += ", within the threshold of " + std::to_string(watched.threshold);
    } else {
      message += ", over the threshold of " + std::to_string(watched.threshold) + ": " +
                 state_meaning(watched.state) + ". Most on " + top_ports(tally) + owner_note;
    }
    Finding finding =
        make_finding(info, std::string(watched.name), over ? Status::fail : Status::pass, message);
    finding.evidence = std::move(evidence);
    findings.push_back(std::move(finding));
  }
  return findings;
}

}  // namespace qharden
