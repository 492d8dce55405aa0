#include "host/sock_diag.h"

#include <algorithm>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace qharden {
namespace {

struct LegacyRequest {
  nlmsghdr header;
  inet_diag_req body;
};

class NetlinkSocket {
 public:
  explicit NetlinkSocket(int descriptor) : descriptor_(descriptor) {}
  ~NetlinkSocket() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  int get() const { return descriptor_; }

 private:
  int descriptor_;
};

std::string errno_text(const char* what, int number) {
  return std::string("sock_diag: ") + what + ": " + std::strerror(number);
}

bool listener_is_v6only(const nlmsghdr* header) {
  std::size_t attributes_offset = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(inet_diag_msg)));
  if (header->nlmsg_len <= attributes_offset) return false;
  const char* start = reinterpret_cast<const char*>(header) + attributes_offset;
  int remaining = static_cast<int>(header->nlmsg_len - attributes_offset);
  for (const auto* attribute = reinterpret_cast<const rtattr*>(start); RTA_OK(attribute, remaining);
       attribute = RTA_NEXT(attribute, remaining)) {
    if (attribute->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(attribute) >= 1) {
      return *static_cast<const std::uint8_t*>(RTA_DATA(attribute)) != 0;
    }
  }
  return false;
}

// Returns true when NLMSG_DONE was seen.
Expected<bool> parse_batch(const char* buffer, std::size_t length, std::uint32_t sequence,
                           std::vector<DiagSocket>& sockets) {
  // NLMSG_OK compares signed with unsigned, which clang rejects under -Werror.
  for (std::size_t offset = 0; offset + sizeof(nlmsghdr) <= length;) {
    const auto* header = reinterpret_cast<const nlmsghdr*>(buffer + offset);
    if (header->nlmsg_len < sizeof(nlmsghdr) || header->nlmsg_len > length - offset) break;
    offset += NLMSG_ALIGN(header->nlmsg_len);
    if (header->nlmsg_seq != sequence) continue;
    if (header->nlmsg_type == NLMSG_DONE) return true;
    if (header->nlmsg_type == NLMSG_ERROR) {
      const auto* error = static_cast<const nlmsgerr*>(NLMSG_DATA(header));
      if (header->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
        return fail_with("sock_diag: truncated error message from the kernel");
      }
      return fail_with(errno_text("the kernel refused the dump", -error->error));
    }
    if (header->nlmsg_type != TCPDIAG_GETSOCK) continue;
    if (header->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      return fail_with("sock_diag: truncated socket record from the kernel");
    }
    const auto* message = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
    DiagSocket socket;
    socket.state = message->idiag_state;
    socket.family = message->idiag_family;
    socket.local_port = ntohs(message->id.idiag_sport);
    socket.remote_port = ntohs(message->id.idiag_dport);
    socket.inode = message->idiag_inode;
    socket.timer = message->idiag_timer;
    std::memcpy(socket.local_address.data(), message->id.idiag_src, socket.local_address.size());
    socket.interface_index = message->id.idiag_if;
    // Attributes are read for listeners only: a census walks 150,000 sockets.
    if (socket.state == static_cast<std::uint8_t>(TcpState::listen) && socket.family == AF_INET6) {
      socket.v6only = listener_is_v6only(header);
    }
    sockets.push_back(socket);
  }
  return false;
}

}  // namespace

Expected<std::vector<DiagSocket>> dump_tcp_sockets(std::uint32_t state_mask,
                                                   std::size_t expected_count,
                                                   int netlink_protocol) {
  int protocol = netlink_protocol < 0 ? NETLINK_SOCK_DIAG : netlink_protocol;
  NetlinkSocket netlink(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol));
  if (netlink.get() < 0) return fail_with(errno_text("socket(AF_NETLINK)", errno));
  // A large receive buffer lets the kernel fill whole batches per recv; beyond
  // about 32 KiB it barely matters (tech notes), so failure here is harmless.
  int receive_buffer = 1 << 20;
  (void)::setsockopt(netlink.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);

  const std::uint32_t sequence = 1;
  LegacyRequest request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = TCPDIAG_GETSOCK;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.body.idiag_family = AF_INET;  // ignored by the compat path, which dumps both
  request.body.idiag_states = state_mask;
  request.body.idiag_ext = 0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent = ::sendto(netlink.get(), &request, sizeof request, 0,
                          reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
  if (sent < 0) return fail_with(errno_text("send", errno));

  std::vector<DiagSocket> sockets;
  // A hint, not a limit: capped, so that no sockstat figure reserves gigabytes.
  constexpr std::size_t kLargestReservation = std::size_t{1} << 22;
  sockets.reserve(std::min(expected_count, kLargestReservation));
  std::vector<char> buffer(256 * 1024);
  for (;;) {
    ssize_t received = ::recv(netlink.get(), buffer.data(), buffer.size(), 0);
    if (received < 0 && errno == EINTR) continue;
    if (received < 0) return fail_with(errno_text("recv", errno));
    if (received == 0) return fail_with("sock_diag: the kernel closed the dump early");
    Expected<bool> done =
        parse_batch(buffer.data(), static_cast<std::size_t>(received), sequence, sockets);
    if (!done) return Unexpected(done.error());
    if (*done) return sockets;
  }
}

}  // namespace qharden
