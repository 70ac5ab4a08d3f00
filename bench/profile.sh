#!/usr/bin/env bash
# bench/profile.sh — where chatd spends its time under load.
#
#   bench/profile.sh [perf|callgrind] [streams] [off|adaptive]
#
# Starts the mock and chatd (provider openai pointed at the mock), drives STREAMS streams
# with the load client and profiles chatd:
#   perf       perf record -e cpu-clock -g (a software clock: works in VMs without a PMU;
#              includes kernel time); prints the top shared objects and symbols.
#   callgrind  valgrind --tool=callgrind (user-space instructions only; ~50x slower, so
#              use a few hundred streams); prints the top functions, self and inclusive.
# Defaults: perf, 9000 streams, adaptive. Output files stay in build/bench/profile/.
set -u
cd "$(dirname "$0")/.." || exit 1

TOOL=${1:-perf}
N=${2:-9000}
PACE=${3:-adaptive}
CHATD_BIN=${CHATD_BIN:-build/chatd}
PORT_BASE=${BENCH_PORT_BASE:-27150}
TOKENS=${BENCH_TOKENS:-32} TOKEN_BYTES=${BENCH_TOKEN_BYTES:-8} RATE=${BENCH_RATE:-4}
OUT=build/bench/profile
MOCK_PORT=$PORT_BASE CHATD_PORT=$((PORT_BASE + 1))
NAME=profile
. bench/tools.sh

case $TOOL in perf | callgrind) ;; *) log "tool: perf or callgrind"; exit 2 ;; esac
command -v "${TOOL/callgrind/valgrind}" >/dev/null || { log "$TOOL is not installed"; exit 1; }
[ -x "$CHATD_BIN" ] || { log "$CHATD_BIN is missing (make)"; exit 1; }
mkdir -p "$OUT/cwd"
build_tools || exit 1

(ulimit -n "$NOFILE" && exec build/bench/mock --port "$MOCK_PORT" --tokens "$TOKENS" \
    --token-bytes "$TOKEN_BYTES" --rate "$RATE" --max-seconds 900) >"$OUT/mock.log" 2>&1 &
PIDS="$PIDS $!"
wait_port "$MOCK_PORT" || { log "mock did not start"; exit 1; }

CHATD=$(realpath "$CHATD_BIN")
WRAP=()
[ "$TOOL" = callgrind ] && WRAP=(valgrind --tool=callgrind --callgrind-out-file="$(realpath "$OUT")/callgrind.out")
(ulimit -n "$NOFILE" && cd "$OUT/cwd" && exec env CHATD_LISTEN="127.0.0.1:$CHATD_PORT" \
    CHATD_PROVIDER=openai CHATD_UPSTREAM_URL="http://127.0.0.1:$MOCK_PORT/v1" \
    CHATD_UPSTREAM_API_KEY=bench CHATD_PACE="$PACE" CHATD_LOG_LEVEL=warn \
    CHATD_MAX_STREAMS=100000 CHATD_MAX_STREAMS_PER_CLIENT=1000000 "${WRAP[@]}" "$CHATD") \
    >"$OUT/chatd.log" 2>&1 &
CHATD_PID=$!
PIDS="$PIDS $CHATD_PID"
wait_port "$CHATD_PORT" || { log "chatd did not start: $(tail -3 "$OUT/chatd.log")"; exit 1; }

if [ "$TOOL" = perf ]; then
    perf record -e cpu-clock -F 499 -g -p "$CHATD_PID" -o "$OUT/perf.data" >"$OUT/perf.log" 2>&1 &
    PERF_PID=$!
    PIDS="$PIDS $PERF_PID"
    sleep 0.5
fi
(ulimit -n "$NOFILE" && exec build/bench/load --port "$CHATD_PORT" --path /api/chat --api native \
    --streams "$N" --ramp 2000 --tokens "$TOKENS" --token-bytes "$TOKEN_BYTES" --rate "$RATE" \
    --timeout 120 --duration 150 --pid "$CHATD_PID" --label "chatd-$PACE") | sed -n 1,6p

if [ "$TOOL" = perf ]; then
    stop_pid "$PERF_PID" INT
    perf report -i "$OUT/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null |
        grep '%' | head -8
    perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
        grep '%' | head -25
else
    stop_pid "$CHATD_PID" INT # callgrind writes its profile at exit
    callgrind_annotate "$OUT/callgrind.out" 2>/dev/null | sed -n '/file:function/,$p' | head -25
    callgrind_annotate --inclusive=yes "$OUT/callgrind.out" 2>/dev/null |
        sed -n '/file:function/,$p' | grep -v 'libcurl\|pthread_create\|thread_main' | head -30
fi
