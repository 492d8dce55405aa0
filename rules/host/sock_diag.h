// A census of TCP sockets in this network namespace over NETLINK_SOCK_DIAG.
// It uses the legacy TCPDIAG_GETSOCK request on purpose: the kernel answers it
// with family AF_UNSPEC, so one walk of the shared established hash covers IPv4
// and IPv6 (two inet_diag_req_v2 requests would walk it twice).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/expected.h"

namespace qharden {

// The kernel's TCP state numbers (include/net/tcp_states.h).
enum class TcpState : std::uint8_t {
  established = 1,
  syn_sent = 2,
  syn_recv = 3,
  fin_wait_1 = 4,
  fin_wait_2 = 5,
  time_wait = 6,
  close = 7,
  close_wait = 8,
  last_ack = 9,
  listen = 10,
  closing = 11,
};

inline constexpr std::uint8_t kTimewaitTimer = 3;  // inet_twsk_diag_fill()

constexpr std::uint32_t state_bit(TcpState state) {
  return std::uint32_t{1} << static_cast<unsigned>(state);
}

struct DiagSocket {
  std::uint8_t state = 0;  // a TimeWait mini-socket reports its substate (FIN_WAIT_2 orphans)
  std::uint8_t family = 0;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  std::uint32_t inode = 0;  // 0: no file holds it (TIME_WAIT, orphans)
  // idiag_timer: kTimewaitTimer marks a timewait mini-socket, which is how an
  // orphaned FIN_WAIT_2 under tcp_fin_timeout <= 60 s is kept; sockstat's `tw`
  // counts those too. A full orphan (longer fin_timeout) has inode 0 as well,
  // so only this tells the two apart.
  std::uint8_t timer = 0;
  // IPv6 listeners only (INET_DIAG_SKV6ONLY): a wildcard `[::]` socket with
  // IPV6_V6ONLY takes no IPv4 client. The kernel sends it for LISTEN sockets.
  bool v6only = false;
  // Network byte order; IPv4 uses the first 4 bytes. The interface index
  // matters for link-local IPv6 listeners, which are reached through it.
  std::array<std::uint8_t, 16> local_address{};
  std::uint32_t interface_index = 0;
};

// Every TCP socket of this namespace whose state bit is in state_mask, IPv4 and
// IPv6, without extensions. expected_count, when known (from sockstat), is
// room made at once: growing a vector of 160,000 sockets by doubling copied
// it about twice over. netlink_protocol exists so that tests can make the
// kernel refuse the socket; callers pass the default.
Expected<std::vector<DiagSocket>> dump_tcp_sockets(std::uint32_t state_mask,
                                                   std::size_t expected_count = 0,
                                                   int netlink_protocol = -1);

}  // namespace qharden
