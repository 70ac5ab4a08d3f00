#!/usr/bin/env bash
# bench/run.sh — chatd side by side with its peers on this machine, in one run.
#
# Builds the load client and the mock upstream (build/bench/), starts the mock, then for
# each system and each stream count N measures, with a fresh process of the system and
# after a short warm-up:
#   direct          load -> mock                               (the floor)
#   nginx           load -> nginx -> mock                      (proxy_buffering off)
#   portkey         load -> Portkey AI gateway (Node) -> mock  (passthrough streaming)
#   chatd-off       load -> chatd, CHATD_PACE=off -> mock      (native /api/chat)
#   chatd-adaptive  load -> chatd, CHATD_PACE=adaptive -> mock (its normal mode)
#   chatd-routed-off load -> chatd, CHATD_PACE=off, a model map -> mock (1,000 streams only:
#                   40 model entries, the one used last but one, two keys in turn and a
#                   fallback, so every answer is held until its first character)
#   chatd-before-off load -> another chatd binary (BENCH_BEFORE_BIN), CHATD_PACE=off -> mock
#                   (a change's before and after in the same run)
#   chatd-h2-off    load -> chatd, CHATD_PACE=off -> nginx speaking HTTP/2 over TLS (a
#                   certificate made for the run) -> mock: chatd's upstream streams
#                   multiplexed on a few connections; at 1,000 streams and at BENCH_H2_N
#                   (two client-side sockets per stream would not fit the open-file limit)
#   chatd-redis-off load -> chatd, CHATD_PACE=off, CHATD_REDIS_URL -> mock (one replica
#                   writing every stream into a redis-server of its own; that server's CPU
#                   is counted with chatd's, and its commands per stream are reported)
# prints one table with the targets met or missed, and writes both into
# docs/BENCHMARKS.md between its bench markers. A peer that cannot start is skipped with
# a message. Every process runs with its open-files limit raised to the hard limit.
#
# Environment (defaults in brackets):
#   CHATD_BIN [build/chatd]  BENCH_NS ["100 1000 9000"]
#   BENCH_SYSTEMS ["direct nginx portkey chatd-off chatd-routed-off chatd-h2-off chatd-redis-off chatd-adaptive"]
#   BENCH_TOKENS [32] BENCH_TOKEN_BYTES [8] BENCH_RATE [4] (tokens/s per stream)
#   BENCH_RAMP [2000] (new connections/s)  BENCH_PORT_BASE [27100] (below the ephemeral range)
#   BENCH_BUDGET_S [540] (runs that would end later are skipped)
#   BENCH_H2_N [19000] (chatd-h2-off's large run; at most the open-file limit less a margin)
#   BENCH_DOC [docs/BENCHMARKS.md] (empty: do not write it)
#
# Then the throughput: BENCH_THRU_STREAMS [20] streams of BENCH_THRU_TOKENS [20000] tokens
# of 32 bytes from a second mock that sends as fast as it can, through nginx and chatd-off;
# characters per second and per CPU-second of the system.
#
# Then the steady state: for each of BENCH_STEADY_SYSTEMS ["direct nginx portkey chatd-off"],
# BENCH_STEADY_REPS [3] times (the systems interleaved in each repetition), a fresh process
# with BENCH_STEADY_N [1000] streams open and receiving a token every 1/BENCH_RATE s, while
# BENCH_STEADY_NEW [2000] new requests arrive open-loop at BENCH_STEADY_RATE [1000]/s, each
# answered with 2 tokens; their first character is timed. Reported per repetition.
set -u
cd "$(dirname "$0")/.." || exit 1

CHATD_BIN=${CHATD_BIN:-build/chatd}
NS=${BENCH_NS:-"100 1000 9000"}
SYSTEMS=${BENCH_SYSTEMS:-"direct nginx portkey chatd-off chatd-routed-off chatd-h2-off chatd-redis-off chatd-adaptive"}
TOKENS=${BENCH_TOKENS:-32}
TOKEN_BYTES=${BENCH_TOKEN_BYTES:-8}
RATE=${BENCH_RATE:-4}
RAMP=${BENCH_RAMP:-2000}
PORT_BASE=${BENCH_PORT_BASE:-27100}
BUDGET_S=${BENCH_BUDGET_S:-540}
DOC=${BENCH_DOC-docs/BENCHMARKS.md}
STEADY_SYSTEMS=${BENCH_STEADY_SYSTEMS-"direct nginx portkey chatd-off"}
H2_N=${BENCH_H2_N:-19000}
THRU_STREAMS=${BENCH_THRU_STREAMS:-20}
THRU_TOKENS=${BENCH_THRU_TOKENS:-20000}
STEADY_REPS=${BENCH_STEADY_REPS:-3}
STEADY_N=${BENCH_STEADY_N:-1000}
STEADY_NEW=${BENCH_STEADY_NEW:-2000}
STEADY_RATE=${BENCH_STEADY_RATE:-1000}
PACE_BASE_CPS=80 # chatd's default adaptive base rate: its target gap is 1000/80 ms
OUT=build/bench
PORTKEY_DIR=bench/portkey
PORTKEY_JS=$PORTKEY_DIR/node_modules/@portkey-ai/gateway/build/start-server.js
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576

log() { printf 'bench: %s\n' "$*" >&2; }

TMP=$(mktemp -d /tmp/chatd-bench.XXXXXX) || exit 1
chmod 755 "$TMP"
STARTED=""
RESULTS=$TMP/results.txt
STEADY=$TMP/steady.txt
: >"$RESULTS"

# Stops a process this script started: TERM, up to 5 s, then KILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local p
    for p in $STARTED; do stop_pid "$p"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until pid listens on port (10 s); 1 when it died or never listened.
wait_port() {
    local port=$1 pid=$2 i
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        port_busy "$port" && return 0
        sleep 0.1
    done
    return 1
}

# Runs "$@" in the background with the open-files limit at the hard limit; sets BG_PID.
start_bg() {
    local logf=$1
    shift
    (ulimit -n "$NOFILE" && exec "$@") >"$logf" 2>&1 &
    BG_PID=$!
    STARTED="$STARTED $BG_PID"
}

forget_pid() { STARTED=$(echo "$STARTED" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' '); }

build() {
    local cflags="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow"
    mkdir -p "$OUT"
    cc $cflags -o "$OUT/mock" bench/mock.c bench/text.c &&
        cc $cflags -o "$OUT/load" bench/load.c bench/hist.c bench/proc.c bench/resp.c \
            bench/ssec.c bench/text.c -lm
}

pick_ports() {
    local try
    for try in 0 1 2 3 4; do
        MOCK_PORT=$((PORT_BASE + try * 10))
        NGINX_PORT=$((MOCK_PORT + 1))
        PORTKEY_PORT=$((MOCK_PORT + 2))
        CHATD_PORT=$((MOCK_PORT + 3))
        REDIS_PORT=$((MOCK_PORT + 4))
        H2_PORT=$((MOCK_PORT + 5))
        FAST_PORT=$((MOCK_PORT + 6))
        port_busy $MOCK_PORT || port_busy $NGINX_PORT || port_busy $PORTKEY_PORT ||
            port_busy $CHATD_PORT || port_busy $REDIS_PORT || port_busy $H2_PORT ||
            port_busy $FAST_PORT || return 0
    done
    log "no free ports from $PORT_BASE (set BENCH_PORT_BASE)"
    return 1
}

start_mock() {
    start_bg "$TMP/mock.log" "$OUT/mock" --port "$MOCK_PORT" --tokens "$TOKENS" \
        --token-bytes "$TOKEN_BYTES" --rate "$RATE" --max-seconds 1800
    MOCK_PID=$BG_PID
    wait_port "$MOCK_PORT" "$MOCK_PID" || { log "mock did not start: $(cat "$TMP/mock.log")"; return 1; }
}

# ---- the systems: start_<system> sets PORT, API, PATH_, SYS_PID and HEADERS ----

# nginx in front of the mock: DIR, the listen line's address and parameters, and any
# more directives for the server block (TLS for the HTTP/2 front).
nginx_conf() {
    local d=$1 listen=$2 extra=${3:-}
    mkdir -p "$d/tmp" && chmod -R 755 "$d"
    cat >"$d/nginx.conf" <<EOF
worker_processes 2;
worker_rlimit_nofile $NOFILE;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 20000; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    upstream mock {
        server 127.0.0.1:$MOCK_PORT;
        keepalive 1024;
        keepalive_requests 1000000;
    }
    server {
        listen $listen;
        $extra
        location / {
            proxy_pass http://mock;
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 120s;
        }
    }
}
EOF
}

start_nginx() {
    local d=$TMP/nginx
    command -v nginx >/dev/null || { SKIP_WHY="nginx is not installed (Debian package nginx)"; return 1; }
    nginx_conf "$d" "127.0.0.1:$NGINX_PORT reuseport backlog=4096"
    start_bg "$TMP/nginx.log" nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;'
    SYS_PID=$BG_PID PORT=$NGINX_PORT API=openai PATH_=/v1/chat/completions HEADERS=()
    wait_port "$PORT" "$SYS_PID" || { SKIP_WHY="nginx did not start: $(tail -3 "$d/error.log" "$TMP/nginx.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
}

# The HTTP/2 upstream for chatd-h2-off: nginx speaking HTTP/2 over TLS in front of the mock
# (it plays the upstream, like the mock: its CPU is not chatd's).
start_h2front() {
    local d=$TMP/h2front
    command -v nginx >/dev/null || { SKIP_WHY="nginx is not installed (Debian package nginx)"; return 1; }
    mkdir -p "$d/tmp" && chmod -R 755 "$d"
    [ -f "$d/cert.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$d/key.pem" -out "$d/cert.pem" -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
        { SKIP_WHY="openssl could not make a certificate"; return 1; }
    chmod 644 "$d/key.pem"
    nginx_conf "$d" "127.0.0.1:$H2_PORT ssl http2 reuseport backlog=4096" \
        "ssl_certificate $d/cert.pem; ssl_certificate_key $d/key.pem; http2_max_requests 1000000;"
    start_bg "$TMP/h2front.log" nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;'
    H2FRONT_PID=$BG_PID
    wait_port "$H2_PORT" "$H2FRONT_PID" || { SKIP_WHY="nginx (HTTP/2 front) did not start: $(tail -3 "$d/error.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
}

portkey_install() {
    [ -f "$PORTKEY_JS" ] && return 0
    command -v npm >/dev/null || return 1
    local how=install
    [ -f "$PORTKEY_DIR/package-lock.json" ] && how=ci
    log "installing the Portkey gateway in $PORTKEY_DIR (npm $how)"
    (cd "$PORTKEY_DIR" && timeout 240 npm "$how" --no-audit --no-fund >"$TMP/npm.log" 2>&1)
    [ -f "$PORTKEY_JS" ]
}

start_portkey() {
    command -v node >/dev/null || { SKIP_WHY="node is not installed"; return 1; }
    portkey_install || { SKIP_WHY="npm could not install @portkey-ai/gateway: $(tail -2 "$TMP/npm.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
    start_bg "$TMP/portkey.log" node "$PORTKEY_JS" --port="$PORTKEY_PORT" --headless
    SYS_PID=$BG_PID PORT=$PORTKEY_PORT API=openai PATH_=/v1/chat/completions
    HEADERS=(--header "x-portkey-provider: openai"
        --header "x-portkey-custom-host: http://127.0.0.1:$MOCK_PORT/v1"
        --header "Authorization: Bearer bench")
    wait_port "$PORT" "$SYS_PID" || { SKIP_WHY="the Portkey gateway did not start: $(tail -c 300 "$TMP/portkey.log")"; return 1; }
}

# A redis-server for chatd-redis-*: no persistence, stopped with the system.
start_redis() {
    command -v redis-server >/dev/null || { SKIP_WHY="redis-server is not installed (Debian package redis-server)"; return 1; }
    start_bg "$TMP/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --maxclients 10000
    REDIS_PID=$BG_PID
    wait_port "$REDIS_PORT" "$REDIS_PID" || { SKIP_WHY="redis-server did not start: $(tail -3 "$TMP/redis.log" | tr '\n' ' ')"; return 1; }
}

# chatd_redis_commands_total from chatd's /metrics (0 when absent).
redis_commands() {
    { exec 3<>"/dev/tcp/127.0.0.1/$CHATD_PORT" &&
        printf 'GET /metrics HTTP/1.0\r\nHost: b\r\n\r\n' >&3 && cat <&3; } 2>/dev/null |
        awk '/^chatd_redis_commands_total /{print $2; found=1} END{if (!found) print 0}'
}

# A model map for chatd-routed-off: 40 entries on three upstreams (all the mock), the
# default model the last but one, two keys in turn, a fallback.
routed_config() {
    local f=$TMP/routed.json i up="http://127.0.0.1:$MOCK_PORT/v1"
    {
        printf '{"upstreams": [{"name": "a", "provider": "openai", "url": "%s", "api_key_env": ["BENCH_KEY_A", "BENCH_KEY_B"]},\n' "$up"
        printf ' {"name": "b", "provider": "openai", "url": "%s"}, {"name": "c", "provider": "openai", "url": "%s"}],\n "models": [' "$up" "$up"
        for i in $(seq 0 37); do printf '{"name": "m-%d", "upstream": "b"}, ' "$i"; done
        printf '{"name": "bench-routed", "upstream": "a", "model": "bench", "fallbacks": ["m-0"]}, {"name": "*", "upstream": "c"}]}\n'
    } >"$f"
    echo "$f"
}

start_chatd() {
    local pace=$1 redis_url=${2:-} config=${3:-} bin=${4:-$CHATD_BIN} args=()
    local up_url=${5:-http://127.0.0.1:$MOCK_PORT/v1} ca=${6:-}
    [ -x "$bin" ] || { SKIP_WHY="$bin is missing (make)"; return 1; }
    mkdir -p "$TMP/chatd-cwd" # no config/chatd.json there: built-in defaults, then the env
    [ -n "$config" ] && args=(--config "$config")
    start_bg "$TMP/chatd-$pace.log" env -C "$TMP/chatd-cwd" CHATD_LISTEN="127.0.0.1:$CHATD_PORT" \
        CHATD_REDIS_URL="$redis_url" BENCH_KEY_A=bench-a BENCH_KEY_B=bench-b \
        ${config:+CHATD_MODEL=bench-routed} \
        CHATD_PROVIDER=openai CHATD_UPSTREAM_URL="$up_url" CHATD_UPSTREAM_CA_FILE="$ca" \
        CHATD_UPSTREAM_API_KEY=bench CHATD_PACE="$pace" CHATD_LOG_LEVEL=warn \
        CHATD_MAX_STREAMS=100000 CHATD_MAX_STREAMS_PER_CLIENT=1000000 "$(realpath "$bin")" \
        "${args[@]}"
    SYS_PID=$BG_PID PORT=$CHATD_PORT API=native PATH_=/api/chat HEADERS=()
    wait_port "$PORT" "$SYS_PID" || { SKIP_WHY="chatd did not start: $(tail -3 "$TMP/chatd-$pace.log" | tr '\n' ' ')"; return 1; }
}

start_system() {
    SKIP_WHY="" SYS_PID="" REDIS_PID="" H2FRONT_PID=""
    case $1 in
    direct) PORT=$MOCK_PORT API=openai PATH_=/v1/chat/completions HEADERS=() ;;
    nginx) start_nginx ;;
    portkey) start_portkey ;;
    chatd-off) start_chatd off ;;
    chatd-before-off) start_chatd off "" "" "${BENCH_BEFORE_BIN:-}" ;;
    chatd-h2-off) start_h2front && start_chatd off "" "" "" "https://127.0.0.1:$H2_PORT/v1" \
        "$TMP/h2front/cert.pem" ;;
    chatd-routed-off) start_chatd off "" "$(routed_config)" ;;
    chatd-adaptive) start_chatd adaptive ;;
    chatd-redis-off) start_redis && start_chatd off "redis://127.0.0.1:$REDIS_PORT" ;;
    chatd-redis-adaptive) start_redis && start_chatd adaptive "redis://127.0.0.1:$REDIS_PORT" ;;
    *) SKIP_WHY="unknown system $1" && return 1 ;;
    esac
}

stop_system() {
    if [ -n "$H2FRONT_PID" ]; then
        stop_pid "$H2FRONT_PID"
        forget_pid "$H2FRONT_PID"
        H2FRONT_PID=""
    fi
    if [ -n "$REDIS_PID" ]; then
        stop_pid "$REDIS_PID"
        forget_pid "$REDIS_PID"
        REDIS_PID=""
    fi
    [ -n "$SYS_PID" ] || return 0
    stop_pid "$SYS_PID"
    forget_pid "$SYS_PID"
}

# The system's processes: the one started and its children (nginx's workers), and the
# redis-server a chatd-redis-* system writes to.
system_pids() {
    [ -n "$SYS_PID" ] || return 0
    echo "$SYS_PID" $(pgrep -P "$SYS_PID") $REDIS_PID
}

# Busy CPU seconds of the whole machine, from /proc/stat.
machine_busy() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8+$9)/hz; exit}' /proc/stat
}

# Connections the kernel dropped because a listen queue was full (all sockets).
listen_drops() {
    awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "ListenDrops") c = i; h = 1 }
        else print $c }' /proc/net/netstat
}

run_load() {
    local logf=$1
    shift
    (ulimit -n "$NOFILE" && exec "$OUT/load" --port "$PORT" --path "$PATH_" --api "$API" \
        --tokens "$TOKENS" --token-bytes "$TOKEN_BYTES" --rate "$RATE" "${HEADERS[@]}" "$@") \
        >"$logf" 2>&1
}

measure() {
    local sys=$1 n=$2 pidargs=() p stream_s dur b0 b1 d0 d1 res
    stream_s=$(awk -v t="$TOKENS" -v r="$RATE" 'BEGIN{print (r > 0 ? t / r : 1)}')
    dur=$(awk -v n="$n" -v r="$RAMP" -v s="$stream_s" 'BEGIN{printf "%d", n / r + s + 45}')
    run_load "$TMP/$sys-$n-warm.out" --streams 20 --ramp 0 --max-tokens 2 --timeout 20 \
        --duration 30 --label warm-up
    sleep 0.5
    for p in $(system_pids); do pidargs+=(--pid "$p"); done
    local c0=0 c1=0 extra=""
    [ -n "$REDIS_PID" ] && c0=$(redis_commands)
    b0=$(machine_busy) d0=$(listen_drops)
    run_load "$TMP/$sys-$n.out" --streams "$n" --ramp "$RAMP" --timeout "$dur" \
        --duration "$dur" --label "$sys" --mock-pid "$MOCK_PID" "${pidargs[@]}"
    b1=$(machine_busy) d1=$(listen_drops)
    if [ -n "$REDIS_PID" ]; then
        c1=$(redis_commands)
        extra="redis_cmds_per_stream=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN{printf "%.1f", (b - a) / n}')"
    fi
    res=$(grep '^RESULT ' "$TMP/$sys-$n.out")
    if [ -z "$res" ]; then
        log "$sys N=$n: the load client failed: $(tail -3 "$TMP/$sys-$n.out")"
        echo "SKIP sys=$sys n=$n why=load-client-failed" >>"$RESULTS"
        return
    fi
    echo "$res sys=$sys listen_drops=$((d1 - d0)) $extra" \
        "busy_s=$(awk -v a="$b0" -v b="$b1" 'BEGIN{printf "%.2f", b - a}')" >>"$RESULTS"
    sed -n '1,6p' "$TMP/$sys-$n.out" | sed 's/^/  /' >&2
}

run_all() {
    local sys n est ns
    for sys in $SYSTEMS; do
        ns=$NS
        [ "$sys" = chatd-h2-off ] && ns="1000 $H2_N"
        for n in $ns; do
            [ "$sys" = chatd-routed-off ] && [ "$n" != 1000 ] && continue
            est=$(awk -v n="$n" -v r="$RAMP" -v t="$TOKENS" -v q="$RATE" \
                'BEGIN{printf "%d", n / r + (q > 0 ? t / q : 1) + 5}')
            if [ $((SECONDS + est)) -gt "$BUDGET_S" ]; then
                log "skipping $sys N=$n: the run would end past the ${BUDGET_S} s budget"
                echo "SKIP sys=$sys n=$n why=time-budget" >>"$RESULTS"
                continue
            fi
            if ! start_system "$sys"; then
                log "skipping $sys N=$n: $SKIP_WHY"
                echo "SKIP sys=$sys n=$n why=$(echo "$SKIP_WHY" | tr ' ' '_' | cut -c1-200)" >>"$RESULTS"
                stop_system
                continue
            fi
            log "$sys N=$n (pids: $(system_pids | tr '\n' ' '))"
            measure "$sys" "$n"
            stop_system
        done
    done
}

machine_line() {
    local model
    model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
    printf '%s cores (nproc), %s, %s %s, %s GiB RAM' "$(nproc)" "${model:-unknown CPU}" \
        "$(uname -s)" "$(uname -r)" "$(awk '/^MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo)"
}

# One steady-state repetition of a system: STEADY_N streams opened and kept receiving
# tokens; once they are open, STEADY_NEW short requests arrive open-loop and are timed.
steady_one() {
    local sys=$1 rep=$2 bg open_s pidargs=() p res bgres
    run_load "$TMP/steady-$sys-$rep-warm.out" --streams 20 --ramp 0 --max-tokens 2 --timeout 20 \
        --duration 30 --label warm-up
    for p in $(system_pids); do pidargs+=(--pid "$p"); done
    # the open streams: long enough to outlast the new requests (tokens at RATE per second)
    (ulimit -n "$NOFILE" && exec "$OUT/load" --port "$PORT" --path "$PATH_" --api "$API" \
        --tokens "$TOKENS" --token-bytes "$TOKEN_BYTES" --rate "$RATE" "${HEADERS[@]}" \
        --streams "$STEADY_N" --ramp "$RAMP" --timeout 120 --duration 120 --label steady-open) \
        >"$TMP/steady-$sys-$rep-open.out" 2>&1 &
    bg=$!
    open_s=$(awk -v n="$STEADY_N" -v r="$RAMP" 'BEGIN{printf "%.2f", n / r + 1}')
    sleep "$open_s" # the ramp's length plus a second: every stream open, tokens flowing
    run_load "$TMP/steady-$sys-$rep.out" --streams "$STEADY_NEW" --ramp "$STEADY_RATE" \
        --max-tokens 2 --timeout 60 --duration 60 --label "steady-$sys" "${pidargs[@]}"
    wait "$bg"
    res=$(grep '^RESULT ' "$TMP/steady-$sys-$rep.out")
    bgres=$(grep '^RESULT ' "$TMP/steady-$sys-$rep-open.out")
    if [ -z "$res" ] || [ -z "$bgres" ]; then
        log "steady $sys rep $rep: a load client failed: $(tail -2 "$TMP/steady-$sys-$rep.out")"
        return
    fi
    echo "STEADY sys=$sys rep=$rep $(echo "$res" | cut -d' ' -f2-) open_errors=$(echo "$bgres" | sed -nE 's/.* errors=([0-9]+).*/\1/p') open_exact=$(echo "$bgres" | sed -nE 's/.* exact=([a-z]+).*/\1/p')" >>"$STEADY"
}

# Throughput with pacing off: a mock that sends as fast as it can, a few long streams.
run_throughput() {
    local sys saved=$MOCK_PORT fast_pid pidargs p res
    start_bg "$TMP/fastmock.log" "$OUT/mock" --port "$FAST_PORT" --tokens "$THRU_TOKENS" \
        --token-bytes 32 --rate 0 --max-seconds 600
    fast_pid=$BG_PID
    wait_port "$FAST_PORT" "$fast_pid" || { log "the fast mock did not start"; return 0; }
    MOCK_PORT=$FAST_PORT
    for sys in nginx chatd-off; do
        if ! start_system "$sys"; then
            log "throughput: skipping $sys: $SKIP_WHY"
            stop_system
            continue
        fi
        log "throughput: $sys"
        pidargs=()
        for p in $(system_pids); do pidargs+=(--pid "$p"); done
        (ulimit -n "$NOFILE" && exec "$OUT/load" --port "$PORT" --path "$PATH_" --api "$API" \
            --tokens "$THRU_TOKENS" --token-bytes 32 --rate 0 "${HEADERS[@]}" \
            --streams "$THRU_STREAMS" --ramp 0 --timeout 120 --duration 120 --label "thru-$sys" \
            "${pidargs[@]}") >"$TMP/thru-$sys.out" 2>&1
        res=$(grep '^RESULT ' "$TMP/thru-$sys.out")
        if [ -n "$res" ]; then
            echo "THRU sys=$sys $(echo "$res" | cut -d' ' -f2-)" >>"$STEADY"
        else
            log "throughput $sys: the load client failed: $(tail -2 "$TMP/thru-$sys.out" | tr '\n' ' ')"
        fi
        stop_system
    done
    MOCK_PORT=$saved
    stop_pid "$fast_pid"
    forget_pid "$fast_pid"
}

run_steady() {
    local rep sys
    [ -n "$STEADY_SYSTEMS" ] || return 0
    for rep in $(seq "$STEADY_REPS"); do
        for sys in $STEADY_SYSTEMS; do
            if ! start_system "$sys"; then
                log "steady: skipping $sys: $SKIP_WHY"
                stop_system
                continue
            fi
            log "steady state: $sys, repetition $rep"
            steady_one "$sys" "$rep"
            stop_system
        done
    done
}

versions_line() {
    local pk=""
    [ -f "$PORTKEY_DIR/node_modules/@portkey-ai/gateway/package.json" ] &&
        pk=$(awk -F'"' '/"version"/{print $4; exit}' "$PORTKEY_DIR/node_modules/@portkey-ai/gateway/package.json")
    printf 'chatd %s; %s; node %s; @portkey-ai/gateway %s' \
        "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "$(nginx -v 2>&1 | sed 's/^nginx version: //')" "$(node --version 2>/dev/null || echo none)" \
        "${pk:-none}"
}

command_line() {
    local v c="bench/run.sh"
    for v in CHATD_BIN BENCH_BEFORE_BIN BENCH_H2_N BENCH_NS BENCH_SYSTEMS BENCH_TOKENS BENCH_TOKEN_BYTES BENCH_RATE \
        BENCH_RAMP BENCH_PORT_BASE BENCH_BUDGET_S BENCH_THRU_STREAMS BENCH_THRU_TOKENS BENCH_STEADY_SYSTEMS BENCH_STEADY_REPS BENCH_STEADY_N \
        BENCH_STEADY_NEW BENCH_STEADY_RATE; do
        [ -n "${!v+x}" ] && c="$v='${!v}' $c"
    done
    echo "$c"
}

write_report() {
    {
        echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(machine_line)."
        echo "Versions: $(versions_line)."
        echo "Command: \`$(command_line)\` (\`make bench\` runs \`bench/run.sh\` after building build/chatd)."
        echo "Load average before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)."
        echo
        awk -v tokens="$TOKENS" -v tb="$TOKEN_BYTES" -v rate="$RATE" -v ramp="$RAMP" \
            -v base_cps="$PACE_BASE_CPS" -f bench/table.awk "$RESULTS"
        [ -s "$STEADY" ] && awk -v n="$STEADY_N" -v new="$STEADY_NEW" -v nrate="$STEADY_RATE" \
            -v rate="$RATE" -f bench/steady.awk "$STEADY"
    } >"$TMP/report.md"
}

splice_doc() {
    [ -n "$DOC" ] || return 0
    [ -f "$DOC" ] || printf '# Benchmarks\n\n<!-- bench:begin -->\n<!-- bench:end -->\n' >"$DOC"
    grep -q '<!-- bench:begin -->' "$DOC" || printf '\n<!-- bench:begin -->\n<!-- bench:end -->\n' >>"$DOC"
    awk -v rep="$TMP/report.md" '
        /<!-- bench:begin -->/ { print; while ((getline l < rep) > 0) print l; skip = 1; next }
        /<!-- bench:end -->/ { skip = 0 }
        !skip { print }' "$DOC" >"$TMP/doc.md" && cat "$TMP/doc.md" >"$DOC"
    log "wrote the table into $DOC"
}

main() {
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    build || { log "building the load client or the mock failed"; exit 1; }
    pick_ports && start_mock || exit 1
    log "mock on 127.0.0.1:$MOCK_PORT: $TOKENS tokens x $TOKEN_BYTES bytes at $RATE tokens/s per stream; open-files limit $NOFILE"
    run_all
    run_throughput
    run_steady
    write_report
    cat "$TMP/report.md"
    splice_doc
}

main
