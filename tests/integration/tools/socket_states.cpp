// Makes loopback TCP sockets in chosen states for the sockets.stuck tests and
// the benchmark, then holds them until stdin closes or a signal arrives.
//
//   qharden-socket-states --port BASE --listeners N --time-wait N
//                         --close-wait-orphans N --fin-wait-2-held N [--ipv6]
//
// --close-wait-orphans N: N connections whose client end is closed (an orphan
//   in FIN_WAIT_2, no owner) while the server end stays open (CLOSE_WAIT).
// --fin-wait-2-held N: N connections whose client end is shut down for writing
//   but kept open (FIN_WAIT_2 with an owner); the server end is CLOSE_WAIT too.
// --time-wait N: N connections closed by the client first (client TIME_WAIT).
// The server ends are handed to a forked holder process, so CLOSE_WAIT has an
// owner distinct from the FIN_WAIT_2 owner. Prints one line when ready,
//   ready generator=PID holder=PID
// and holds everything until SIGTERM; the holder dies with the generator.
//
//   qharden-socket-states --dump
// is the benchmark's baseline instead: one bare sock_diag dump of the states
// sockets.stuck watches, through the same host-layer function, printing the
// number of sockets and the microseconds the dump took.
//
//   qharden-socket-states --dump-without-time-wait
// is the same dump without TIME_WAIT, as sockets.stuck's fast path asks for it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "host/sock_diag.h"

namespace {

struct Options {
  int port = 40000;
  int listeners = 4;
  long time_wait = 0;
  long close_wait_orphans = 0;
  long fin_wait_2_held = 0;
  bool ipv6 = false;  // ::1 instead of 127.0.0.1
};

struct Endpoint {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

bool use_ipv6 = false;

Endpoint loopback(int port) {
  Endpoint endpoint;
  if (use_ipv6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&endpoint.storage);
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(static_cast<std::uint16_t>(port));
    address->sin6_addr = in6addr_loopback;
    endpoint.length = sizeof *address;
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&endpoint.storage);
    address->sin_family = AF_INET;
    address->sin_port = htons(static_cast<std::uint16_t>(port));
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    endpoint.length = sizeof *address;
  }
  return endpoint;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "socket_states: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

int make_listener(int port) {
  int descriptor = ::socket(use_ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (descriptor < 0) die("socket");
  int yes = 1;
  ::setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  Endpoint endpoint = loopback(port);
  if (::bind(descriptor, reinterpret_cast<sockaddr*>(&endpoint.storage), endpoint.length) != 0) {
    die("bind");
  }
  if (::listen(descriptor, 4096) != 0) die("listen");
  return descriptor;
}

// Returns {client, server}.
std::pair<int, int> connect_pair(int port, int listener) {
  int client = ::socket(use_ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0) die("socket");
  Endpoint endpoint = loopback(port);
  if (::connect(client, reinterpret_cast<sockaddr*>(&endpoint.storage), endpoint.length) != 0) {
    die("connect to port " + std::to_string(port));
  }
  int server = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (server < 0) die("accept");
  return {client, server};
}

long number_after(int& index, int count, char** arguments) {
  if (index + 1 >= count) {
    std::fprintf(stderr, "socket_states: %s needs a number\n", arguments[index]);
    std::exit(2);
  }
  return std::strtol(arguments[++index], nullptr, 10);
}

int bare_dump(bool with_time_wait) {
  std::uint32_t mask = 0;
  for (qharden::TcpState state :
       {qharden::TcpState::close_wait, qharden::TcpState::fin_wait_1, qharden::TcpState::fin_wait_2,
        qharden::TcpState::closing, qharden::TcpState::last_ack, qharden::TcpState::time_wait,
        qharden::TcpState::listen}) {
    mask |= qharden::state_bit(state);
  }
  if (!with_time_wait) mask &= ~qharden::state_bit(qharden::TcpState::time_wait);
  auto started = std::chrono::steady_clock::now();
  qharden::Expected<std::vector<qharden::DiagSocket>> sockets = qharden::dump_tcp_sockets(mask);
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  if (!sockets) {
    std::fprintf(stderr, "%s\n", sockets.error().message.c_str());
    return 1;
  }
  std::printf("sockets=%zu microseconds=%lld\n", sockets->size(),
              static_cast<long long>(elapsed.count()));
  return 0;
}

}  // namespace

int main(int count, char** arguments) {
  if (count == 2 && std::string(arguments[1]) == "--dump") return bare_dump(true);
  if (count == 2 && std::string(arguments[1]) == "--dump-without-time-wait")
    return bare_dump(false);
  Options options;
  for (int index = 1; index < count; ++index) {
    std::string word = arguments[index];
    if (word == "--port")
      options.port = static_cast<int>(number_after(index, count, arguments));
    else if (word == "--listeners")
      options.listeners = static_cast<int>(number_after(index, count, arguments));
    else if (word == "--time-wait")
      options.time_wait = number_after(index, count, arguments);
    else if (word == "--close-wait-orphans")
      options.close_wait_orphans = number_after(index, count, arguments);
    else if (word == "--fin-wait-2-held")
      options.fin_wait_2_held = number_after(index, count, arguments);
    else if (word == "--ipv6")
      options.ipv6 = true;
    else {
      std::fprintf(stderr, "socket_states: unknown option %s\n", word.c_str());
      return 2;
    }
  }
  if (options.listeners < 1) options.listeners = 1;
  use_ipv6 = options.ipv6;
  std::vector<int> listeners;
  for (int index = 0; index < options.listeners; ++index) {
    listeners.push_back(make_listener(options.port + index));
  }
  auto listener_for = [&](long number) {
    int index = static_cast<int>(number % options.listeners);
    return std::pair<int, int>{options.port + index, listeners[static_cast<std::size_t>(index)]};
  };
  for (long number = 0; number < options.time_wait; ++number) {
    auto [port, listener] = listener_for(number);
    auto [client, server] = connect_pair(port, listener);
    ::close(client);
    ::close(server);
  }
  std::vector<int> server_ends;
  std::vector<int> held_clients;
  for (long number = 0; number < options.close_wait_orphans + options.fin_wait_2_held; ++number) {
    auto [port, listener] = listener_for(number);
    auto [client, server] = connect_pair(port, listener);
    server_ends.push_back(server);
    if (number < options.close_wait_orphans) {
      ::close(client);
    } else {
      ::shutdown(client, SHUT_WR);
      held_clients.push_back(client);
    }
  }
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, nullptr);
  pid_t holder = ::fork();
  if (holder < 0) die("fork");
  if (holder == 0) {
    sigprocmask(SIG_UNBLOCK, &blocked, nullptr);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) return 0;
    for (int listener : listeners) ::close(listener);
    for (int client : held_clients) ::close(client);
    ::pause();
    return 0;
  }
  for (int server : server_ends) ::close(server);
  std::printf("ready generator=%d holder=%d\n", static_cast<int>(::getpid()),
              static_cast<int>(holder));
  std::fflush(stdout);
  // SIGTERM or SIGINT ends both; the holder is reaped here, because an init
  // that does not reap would keep it as a zombie.
  sigset_t endings;
  sigemptyset(&endings);
  sigaddset(&endings, SIGTERM);
  sigaddset(&endings, SIGINT);
  int received = 0;
  sigwait(&endings, &received);
  ::kill(holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  return 0;
}
