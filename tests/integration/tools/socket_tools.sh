# Finds or builds tests/integration/tools/socket_states.cpp: the build tree's
# qharden-socket-states when it is there, else a private g++ build. Sourced by
# the sockets test and the socket benchmark.
socket_states_program() {
  local source_dir build_guess binary
  source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  build_guess=$(dirname "$(dirname "$QHARDEN")")/tests/integration/tools/qharden-socket-states
  if [ -x "$build_guess" ] && [ "$build_guess" -nt "$source_dir/socket_states.cpp" ]; then
    echo "$build_guess"
    return
  fi
  binary=$(mktemp /tmp/qharden-socket-states.XXXXXX)
  c++ -std=c++20 -O2 -I "$source_dir/../../../rules" -o "$binary" "$source_dir/socket_states.cpp" \
    "$source_dir/../../../rules/host/sock_diag.cpp" || return 1
  echo "$binary"
}
