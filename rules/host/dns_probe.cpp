// probe_dns: one c-ares channel per server, every query in flight at once,
// one wait over all channels' sockets, no threads. The wait is the installed
// SocketWaiter: poll(2) in the CLI, the agent's sd-event loop in qhardend.
#include "host/dns_probe.h"

#include "host/cares_compat.h"

#include "host/socket_waiter.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <deque>
#include <map>
#include <memory>
#include <set>

namespace qharden {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kClassInternet = 1;
constexpr int kReceiveBufferBytes = 1 << 20;  // bursts of answers must not be dropped
constexpr int kMaximumAddressAnswers = 64;

struct Channel {
  ares_channel handle = nullptr;
  unsigned scope_index = 0;  // sin6_scope_id for a link-local server
  int in_flight = 0;
  std::deque<std::size_t> waiting;
  std::set<ares_socket_t> datagram_sockets;
  std::map<std::pair<ares_socket_t, std::uint16_t>, std::string>
      questions;  // sent, by socket and id
  ~Channel() {
    if (handle != nullptr) ares_destroy(handle);
  }
};

struct Probe;

struct QueryState {
  Probe* probe = nullptr;
  Channel* channel = nullptr;
  std::size_t index = 0;
  Clock::time_point sent;
  bool finished = false;
};

struct Probe {
  const std::vector<DnsQuery>* queries = nullptr;
  std::vector<DnsResult> results;
  std::vector<QueryState> states;
  std::size_t remaining = 0;
  bool cancelled = false;  // the waiter said the process is stopping
};

// Two things c-ares 1.18 cannot do on its own are done where it opens, sends
// and reads its sockets:
// - an IPv6 scope id: its server list has no place for one, so a link-local
//   server gets it when the socket is connected;
// - refusals without a question section: unbound's access-control refuse (and
//   other servers) answer REFUSED with QDCOUNT 0, which c-ares drops as a reply
//   to some other question, so the query would read as a timeout. The question
//   that was sent under that id is put back before c-ares sees the reply.
constexpr std::size_t kHeaderOctets = 12;

std::uint16_t read_16(const unsigned char* bytes) {
  return static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
}

ares_socket_t open_socket(int family, int type, int protocol, void* user_data) {
  // c-ares leaves socket setup to whoever replaces socket(): its reads loop
  // until EAGAIN, so the socket must not block.
  ares_socket_t socket = ::socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (socket < 0) return ARES_SOCKET_BAD;
  if (type == SOCK_DGRAM) {
    int size = kReceiveBufferBytes;
    ::setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    static_cast<Channel*>(user_data)->datagram_sockets.insert(socket);
  }
  return socket;
}
int close_socket(ares_socket_t socket, void* user_data) {
  auto* channel = static_cast<Channel*>(user_data);
  channel->datagram_sockets.erase(socket);
  std::erase_if(channel->questions,
                [socket](const auto& entry) { return entry.first.first == socket; });
  return ::close(socket);
}
int connect_socket(ares_socket_t socket, const sockaddr* address, ares_socklen_t length,
                   void* user_data) {
  const auto* channel = static_cast<const Channel*>(user_data);
  if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6) &&
      channel->scope_index != 0) {
    sockaddr_in6 scoped{};
    std::copy_n(reinterpret_cast<const char*>(address), sizeof(scoped),
                reinterpret_cast<char*>(&scoped));
    scoped.sin6_scope_id = channel->scope_index;
    return ::connect(socket, reinterpret_cast<const sockaddr*>(&scoped), sizeof(scoped));
  }
  return ::connect(socket, address, length);
}
ares_ssize_t send_vector(ares_socket_t socket, const iovec* vectors, int count, void* user_data) {
  auto* channel = static_cast<Channel*>(user_data);
  if (count == 1 && channel->datagram_sockets.count(socket) != 0 &&
      vectors[0].iov_len > kHeaderOctets) {
    const auto* bytes = static_cast<const unsigned char*>(vectors[0].iov_base);
    channel->questions[{socket, read_16(bytes)}] = std::string(
        reinterpret_cast<const char*>(bytes) + kHeaderOctets, vectors[0].iov_len - kHeaderOctets);
  }
  ares_ssize_t sent = ::writev(socket, vectors, count);
  // The ICMP port-unreachable of an earlier query on this socket surfaces as
  // the error of the next send. c-ares would blame this query alone and leave
  // the earlier one waiting for its timeout; sending again lets the error come
  // back on a read, where c-ares ends every query on the socket as unreachable.
  if (sent < 0 && errno == ECONNREFUSED && channel->datagram_sockets.count(socket) != 0) {
    sent = ::writev(socket, vectors, count);
  }
  return sent;
}
ares_ssize_t receive_from(ares_socket_t socket, void* buffer, size_t length, int flags,
                          sockaddr* from, ares_socklen_t* from_length, void* user_data) {
  ares_ssize_t received = ::recvfrom(socket, buffer, length, flags, from, from_length);
  auto* channel = static_cast<Channel*>(user_data);
  if (received < static_cast<ares_ssize_t>(kHeaderOctets) ||
      channel->datagram_sockets.count(socket) == 0) {
    return received;
  }
  auto* bytes = static_cast<unsigned char*>(buffer);
  bool response = (bytes[2] & 0x80) != 0;
  int response_code = bytes[3] & 0x0f;
  auto sent = channel->questions.find({socket, read_16(bytes)});
  if (!response || response_code == 0 || read_16(bytes + 4) != 0 ||
      sent == channel->questions.end() ||
      static_cast<std::size_t>(received) + sent->second.size() > length) {
    return received;
  }
  std::string rest(reinterpret_cast<const char*>(bytes) + kHeaderOctets, received - kHeaderOctets);
  bytes[5] = 1;  // QDCOUNT
  std::copy(sent->second.begin(), sent->second.end(), bytes + kHeaderOctets);
  std::copy(rest.begin(), rest.end(), bytes + kHeaderOctets + sent->second.size());
  return received + static_cast<ares_ssize_t>(sent->second.size());
}
const ares_socket_functions kSocketFunctions = {open_socket, close_socket, connect_socket,
                                                receive_from, send_vector};

DnsOutcome outcome_of(int status) {
  switch (status) {
    case ARES_SUCCESS:
      return DnsOutcome::answer;
    case ARES_ENOTFOUND:
      return DnsOutcome::nxdomain;
    case ARES_ENODATA:
      return DnsOutcome::nodata;
    case ARES_ESERVFAIL:
      return DnsOutcome::servfail;
    case ARES_EREFUSED:
      return DnsOutcome::refused;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
      return DnsOutcome::timeout;
    // With NOCHECKRESP, SERVFAIL and REFUSED keep their own codes, so this
    // one is left for an ICMP port-unreachable or a send that failed.
    case ARES_ECONNREFUSED:
      return DnsOutcome::unreachable;
    default:
      return DnsOutcome::other;
  }
}

int parse_answers(DnsRecordType type, const unsigned char* buffer, int length,
                  std::vector<std::string>& answers) {
  if (type == DnsRecordType::a) {
    ares_addrttl addresses[kMaximumAddressAnswers];
    int count = kMaximumAddressAnswers;
    int status = ares_parse_a_reply(buffer, length, nullptr, addresses, &count);
    for (int index = 0; status == ARES_SUCCESS && index < count; ++index) {
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &addresses[index].ipaddr, text, sizeof(text));
      answers.emplace_back(text);
    }
    return status;
  }
  if (type == DnsRecordType::aaaa) {
    ares_addr6ttl addresses[kMaximumAddressAnswers];
    int count = kMaximumAddressAnswers;
    int status = ares_parse_aaaa_reply(buffer, length, nullptr, addresses, &count);
    for (int index = 0; status == ARES_SUCCESS && index < count; ++index) {
      char text[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET6, &addresses[index].ip6addr, text, sizeof(text));
      answers.emplace_back(text);
    }
    return status;
  }
  if (type == DnsRecordType::txt) {
    ares_txt_ext* records = nullptr;
    int status = ares_parse_txt_reply_ext(buffer, length, &records);
    for (ares_txt_ext* chunk = records; status == ARES_SUCCESS && chunk != nullptr;
         chunk = chunk->next) {
      std::string text(reinterpret_cast<const char*>(chunk->txt), chunk->length);
      if (chunk->record_start || answers.empty()) {
        answers.push_back(std::move(text));
      } else {
        answers.back() += text;  // one TXT record split into character-strings
      }
    }
    if (records != nullptr) ares_free_data(records);
    return status;
  }
  hostent* host = nullptr;
  unsigned char unused_address[4] = {};
  int status =
      ares_parse_ptr_reply(buffer, length, unused_address, sizeof(unused_address), AF_INET, &host);
  if (status == ARES_SUCCESS && host != nullptr) {
    if (host->h_name != nullptr) answers.emplace_back(host->h_name);
    // c-ares lists the first name again among the aliases.
    for (char** alias = host->h_aliases; alias != nullptr && *alias != nullptr; ++alias) {
      if (std::find(answers.begin(), answers.end(), *alias) == answers.end())
        answers.emplace_back(*alias);
    }
  }
  if (host != nullptr) ares_free_hostent(host);
  return status;
}

void query_done(void* argument, int status, int /*timeouts*/, unsigned char* buffer, int length) {
  auto* state = static_cast<QueryState*>(argument);
  if (state->finished) return;
  state->finished = true;
  state->channel->in_flight--;
  state->probe->remaining--;
  DnsResult& result = state->probe->results[state->index];
  result.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - state->sent).count();
  if (state->probe->cancelled) {
    result.outcome = DnsOutcome::other;
    result.detail = kWaitCancelledReason;
    return;
  }
  result.outcome = outcome_of(status);
  if (status == ARES_SUCCESS && buffer != nullptr) {
    DnsRecordType type = (*state->probe->queries)[state->index].type;
    int parsed = parse_answers(type, buffer, length, result.answers);
    if (parsed == ARES_ENODATA) {
      result.outcome = DnsOutcome::nodata;
    } else if (parsed != ARES_SUCCESS) {
      result.outcome = DnsOutcome::other;
      result.detail = std::string("unparsable answer: ") + ares_strerror(parsed);
    }
  } else if (result.outcome == DnsOutcome::other) {
    result.detail = ares_strerror(status);
  }
}

Expected<std::unique_ptr<Channel>> open_channel(const DnsServer& server,
                                                const DnsProbeOptions& options) {
  auto channel = std::make_unique<Channel>();
  ares_addr_port_node node{};
  node.udp_port = server.port;
  node.tcp_port = server.port;
  if (::inet_pton(AF_INET, server.address.c_str(), &node.addr.addr4) == 1) {
    node.family = AF_INET;
  } else if (::inet_pton(AF_INET6, server.address.c_str(), &node.addr.addr6) == 1) {
    node.family = AF_INET6;
  } else {
    return fail_with(server.describe() + " is no IPv4 or IPv6 address");
  }
  if (!server.scope.empty()) {
    channel->scope_index = ::if_nametoindex(server.scope.c_str());
    if (channel->scope_index == 0) {
      char* end = nullptr;
      unsigned long number = std::strtoul(server.scope.c_str(), &end, 10);
      if (end == nullptr || *end != '\0' || number == 0 || number > UINT_MAX) {
        return fail_with(server.describe() + ": no interface \"" + server.scope +
                         "\" in this network namespace");
      }
      channel->scope_index = static_cast<unsigned>(number);
    }
  }
  ares_options settings{};
  settings.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH;
  settings.timeout = static_cast<int>(std::max<long long>(1, options.timeout.count()));
  settings.tries = std::max(1, options.tries);
  settings.socket_receive_buffer_size = kReceiveBufferBytes;
  char lookups[] = "b";
  settings.lookups = lookups;
  char no_file[] = "/dev/null";  // the servers come from the caller, never the live resolv.conf
  settings.resolvconf_path = no_file;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_RCVBUF |
             ARES_OPT_LOOKUPS | ARES_OPT_RESOLVCONF;
  keep_probes_literal(settings, mask, settings.timeout, settings.tries);
  int status = ares_init_options(&channel->handle, &settings, mask);
  if (status != ARES_SUCCESS) {
    channel->handle = nullptr;
    return fail_with(std::string("c-ares: cannot set up a channel: ") + ares_strerror(status));
  }
  status = ares_set_servers_ports(channel->handle, &node);
  if (status != ARES_SUCCESS) {
    return fail_with(server.describe() + ": c-ares refused the server: " + ares_strerror(status));
  }
  ares_set_socket_functions(channel->handle, &kSocketFunctions, channel.get());
  return channel;
}

void launch_waiting(Probe& probe, Channel& channel, int cap) {
  while (channel.in_flight < cap && !channel.waiting.empty()) {
    std::size_t index = channel.waiting.front();
    channel.waiting.pop_front();
    const DnsQuery& query = (*probe.queries)[index];
    QueryState& state = probe.states[index];
    state.sent = Clock::now();
    channel.in_flight++;
    int type = query.type == DnsRecordType::a      ? 1
               : query.type == DnsRecordType::aaaa ? 28
               : query.type == DnsRecordType::txt  ? 16
                                                   : 12;
    ares_query(channel.handle, query.name.c_str(), kClassInternet, type, query_done, &state);
  }
}

// Ends every query now: those in flight through c-ares, those still queued here.
void cancel(Probe& probe, std::vector<std::unique_ptr<Channel>>& channels) {
  probe.cancelled = true;
  for (auto& channel : channels) {
    if (!channel) continue;
    for (std::size_t index : channel->waiting) {
      probe.results[index].outcome = DnsOutcome::other;
      probe.results[index].detail = kWaitCancelledReason;
      probe.remaining--;
    }
    channel->waiting.clear();
    ares_cancel(channel->handle);
  }
}

// Waits for the next socket event or c-ares timeout of any channel and hands
// it to the owning channel.
void wait_once(Probe& probe, std::vector<std::unique_ptr<Channel>>& channels) {
  std::vector<pollfd> descriptors;
  std::vector<Channel*> owners;
  long long wait_ms = 1000;
  for (auto& channel : channels) {
    if (!channel || channel->in_flight == 0) continue;
    ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
    int bits = ares_getsock(channel->handle, sockets, ARES_GETSOCK_MAXNUM);
    for (int index = 0; index < ARES_GETSOCK_MAXNUM; ++index) {
      short events = 0;
      if (ARES_GETSOCK_READABLE(bits, index)) events |= POLLIN;
      if (ARES_GETSOCK_WRITABLE(bits, index)) events |= POLLOUT;
      if (events == 0) continue;
      descriptors.push_back({sockets[index], events, 0});
      owners.push_back(channel.get());
    }
    timeval next{};
    if (ares_timeout(channel->handle, nullptr, &next) != nullptr) {
      // Rounded up: waking a millisecond early would only spin.
      long long milliseconds = next.tv_sec * 1000LL + (next.tv_usec + 999) / 1000;
      wait_ms = std::min(wait_ms, milliseconds);
    }
  }
  int ready = socket_waiter().wait(descriptors.data(), descriptors.size(),
                                   static_cast<int>(std::max(0LL, wait_ms)));
  if (ready < 0 && errno == ECANCELED) {
    cancel(probe, channels);
    return;
  }
  if (ready < 0 && errno != EINTR) return;
  for (std::size_t index = 0; ready > 0 && index < descriptors.size(); ++index) {
    short events = descriptors[index].revents;
    if (events == 0) continue;
    ares_socket_t readable =
        (events & (POLLIN | POLLERR | POLLHUP)) ? descriptors[index].fd : ARES_SOCKET_BAD;
    ares_socket_t writable = (events & POLLOUT) ? descriptors[index].fd : ARES_SOCKET_BAD;
    ares_process_fd(owners[index]->handle, readable, writable);
  }
  for (auto& channel : channels) {
    if (channel && channel->in_flight > 0)
      ares_process_fd(channel->handle, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  }
}

DnsProbeFunction& probe_replacement() {
  static DnsProbeFunction replacement;
  return replacement;
}

}  // namespace

void replace_dns_probe_for_tests(DnsProbeFunction replacement) {
  probe_replacement() = std::move(replacement);
}

Expected<std::vector<DnsResult>> probe_dns(const std::vector<DnsServer>& servers,
                                           const std::vector<DnsQuery>& queries,
                                           const DnsProbeOptions& options) {
  if (probe_replacement()) return probe_replacement()(servers, queries, options);
  static const int library_status = ares_library_init(ARES_LIB_INIT_ALL);
  if (library_status != ARES_SUCCESS) {
    return fail_with(std::string("c-ares: ") + ares_strerror(library_status));
  }
  Probe probe;
  probe.queries = &queries;
  probe.results.resize(queries.size());
  probe.states.resize(queries.size());
  std::vector<std::unique_ptr<Channel>> channels(servers.size());
  std::vector<std::string> channel_errors(servers.size());
  for (std::size_t index = 0; index < servers.size(); ++index) {
    Expected<std::unique_ptr<Channel>> channel = open_channel(servers[index], options);
    if (channel) {
      channels[index] = std::move(*channel);
    } else {
      channel_errors[index] = channel.error().message;
    }
  }
  for (std::size_t index = 0; index < queries.size(); ++index) {
    const DnsQuery& query = queries[index];
    DnsResult& result = probe.results[index];
    std::optional<std::string> name_problem = dns_name_problem(query.name);
    if (query.server >= servers.size()) {
      result.detail = "no server " + std::to_string(query.server);
    } else if (!channels[query.server]) {
      result.detail = channel_errors[query.server];
    } else if (name_problem) {
      result.detail = "not queried: " + *name_problem;
    } else {
      probe.states[index] = QueryState{&probe, channels[query.server].get(), index, {}, false};
      channels[query.server]->waiting.push_back(index);
      probe.remaining++;
    }
  }
  int cap = std::max(1, options.maximum_in_flight_per_server);
  while (probe.remaining > 0) {
    for (auto& channel : channels) {
      if (channel) launch_waiting(probe, *channel, cap);
    }
    wait_once(probe, channels);
  }
  return std::move(probe.results);
}

}  // namespace qharden
