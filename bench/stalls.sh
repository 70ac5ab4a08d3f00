#!/usr/bin/env bash
# bench/stalls.sh — where the occasional 10–130 ms first-character stalls come from.
#
#   bench/stalls.sh [runs] [streams]
#
# RUNS times (default 5): a fresh mock and a fresh chatd (pacing off), a warm-up, then
# STREAMS streams (default 1000) opened at 2,000/s, with `perf sched record -a` over the
# whole machine during the load and the load client's per-stream dump (start, first
# character). For each run it prints the first-character p50/p99/max, the window where the
# slowest streams started, and from `perf sched timehist`:
#   - waits after idle: chatd, the mock or the load client waited runnable over 8 ms on a
#     CPU that the guest had just shown idle for about that long (a CPU the hypervisor was
#     not running), and the longest such wait;
#   - other waits: runnable over 8 ms on a busy CPU (plain contention);
#   - chatd's longest time on CPU without a switch.
# Needs perf (Debian package linux-perf) with the sched tracepoints. Files stay in
# build/bench/stalls/.
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${1:-5}
N=${2:-1000}
CHATD_BIN=${CHATD_BIN:-build/chatd}
PORT_BASE=${BENCH_PORT_BASE:-27170}
OUT=build/bench/stalls
MOCK_PORT=$PORT_BASE CHATD_PORT=$((PORT_BASE + 1))
NAME=stalls
. bench/tools.sh

command -v perf >/dev/null || { log "perf is not installed"; exit 1; }
[ -x "$CHATD_BIN" ] || { log "$CHATD_BIN is missing (make)"; exit 1; }
mkdir -p "$OUT/cwd"
build_tools || exit 1
CHATD=$(realpath "$CHATD_BIN")

one_run() {
    local r=$1 chatd_pid perf_pid res
    (ulimit -n "$NOFILE" && exec build/bench/mock --port "$MOCK_PORT" --tokens 32 \
        --token-bytes 8 --rate 4 --max-seconds 300) >"$OUT/mock-$r.log" 2>&1 &
    PIDS="$PIDS $!"
    wait_port "$MOCK_PORT" || { log "mock did not start"; return 1; }
    (ulimit -n "$NOFILE" && cd "$OUT/cwd" && exec env CHATD_LISTEN="127.0.0.1:$CHATD_PORT" \
        CHATD_PROVIDER=openai CHATD_UPSTREAM_URL="http://127.0.0.1:$MOCK_PORT/v1" \
        CHATD_UPSTREAM_API_KEY=bench CHATD_PACE=off CHATD_LOG_LEVEL=warn \
        CHATD_MAX_STREAMS=100000 CHATD_MAX_STREAMS_PER_CLIENT=1000000 "$CHATD") \
        >"$OUT/chatd-$r.log" 2>&1 &
    chatd_pid=$!
    PIDS="$PIDS $chatd_pid"
    wait_port "$CHATD_PORT" || { log "chatd did not start"; return 1; }
    (ulimit -n "$NOFILE" && exec build/bench/load --port "$CHATD_PORT" --streams 20 --ramp 0 \
        --tokens 32 --token-bytes 8 --rate 4 --max-tokens 2 --timeout 30 --duration 30) >/dev/null 2>&1
    perf sched record -a -o "$OUT/sched-$r.data" >"$OUT/perf-$r.log" 2>&1 &
    perf_pid=$!
    PIDS="$PIDS $perf_pid"
    sleep 0.5
    (ulimit -n "$NOFILE" && exec build/bench/load --port "$CHATD_PORT" --streams "$N" --ramp 2000 \
        --tokens 32 --token-bytes 8 --rate 4 --timeout 60 --duration 60 --pid "$chatd_pid" \
        --dump "$OUT/dump-$r.txt" --label "stalls-$r") >"$OUT/load-$r.log" 2>&1
    stop_pid "$perf_pid" INT
    cleanup
    res=$(grep '^RESULT ' "$OUT/load-$r.log")
    printf 'run %d: first character p50 %s p99 %s max %s ms' "$r" \
        "$(echo "$res" | sed -nE 's/.* ttfc_p50_ms=([^ ]+).*/\1/p')" \
        "$(echo "$res" | sed -nE 's/.* ttfc_p99_ms=([^ ]+).*/\1/p')" \
        "$(echo "$res" | sed -nE 's/.* ttfc_max_ms=([^ ]+).*/\1/p')"
    sort -k2 -n -r "$OUT/dump-$r.txt" | head -n $((N / 100 + 1)) |
        awk '{ if (!n++ || $1 < lo) lo = $1; if ($1 > hi) hi = $1 } END { printf "; slowest 1 %% started %.0f–%.0f ms into the ramp\n", lo, hi }'
    perf sched timehist -i "$OUT/sched-$r.data" 2>/dev/null | awk '
        $3 == "<idle>" && $6 + 0 > 8 { idle_end[$2] = $1 + 0 }
        $3 ~ /^(chatd|mock|load)\[/ && $5 + 0 > 8 {
            c = $2
            if ((c in idle_end) && ($1 + 0) - idle_end[c] < 0.01) { n++; if ($5 + 0 > mx) mx = $5 + 0 }
            else { m++; if ($5 + 0 > mo) mo = $5 + 0 }
        }
        $3 ~ /^chatd/ && $6 + 0 > run { run = $6 + 0 }
        END { printf "       waits after idle > 8 ms: %d (longest %.1f ms); other waits > 8 ms: %d (longest %.1f ms); chatd longest on CPU: %.1f ms\n", n, mx, m, mo, run }'
}

for r in $(seq "$RUNS"); do
    one_run "$r"
done
