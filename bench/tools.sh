# bench/tools.sh — what bench/profile.sh and bench/stalls.sh share (sourced, from the
# repository root, after they set NAME for their messages): the processes they started
# (PIDS, stopped on exit), waiting for a port, and building the mock and the load client.
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
PIDS=""

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
stop_pid() {
    local i
    kill -"${2:-TERM}" "$1" 2>/dev/null || return 0
    for i in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
}
cleanup() { local p; for p in $PIDS; do stop_pid "$p"; done; PIDS=""; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# Polls until something listens on 127.0.0.1:PORT (30 s at most).
wait_port() {
    local i
    for i in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
build_tools() {
    local cf="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow"
    mkdir -p build/bench
    cc $cf -o build/bench/mock bench/mock.c bench/text.c &&
        cc $cf -o build/bench/load bench/load.c bench/hist.c bench/proc.c bench/resp.c \
            bench/ssec.c bench/text.c -lm
}
