#!/bin/bash
# Builds the chatd image with podman and checks it for real: it starts, turns healthy,
# serves the UI, streams a demo answer, runs as non-root, and on SIGTERM ends an open
# stream cleanly and exits 0. Loopback only (host network, 127.0.0.1); every wait is
# bounded. Ends with "container: N passed, M failed"; exits non-zero on any failure.
#
#   scripts/container-test.sh              build, then test
#   SKIP_BUILD=1 scripts/container-test.sh test an image already built
#
# Needs podman and the base image (scripts/podman-setup.sh installs both).
# Environment:
#   CHATD_IMAGE          image tag to build and test (default localhost/chatd:test)
#   CHATD_IMAGE_MAX_MB   size budget for the image (default 150)
#   CHATD_BUILD_CA       CA bundle handed to the UI build's npm as the "ca" build secret,
#                        for a TLS-inspecting proxy (default: the system bundle, if any)
#   PODMAN_PULL          podman build --pull value (default never: the base image is local)
#   PODMAN_BUILD_JOBS    stages built in parallel (default 2)
#   KEEP_IMAGE=0         remove the image at the end (default: keep it)
# Checks are passed to `bash -c '...' _ ARGS` on purpose; cleanup runs from a trap.
# shellcheck disable=SC2016,SC2317
set -u

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IMAGE="${CHATD_IMAGE:-localhost/chatd:test}"
MAX_MB="${CHATD_IMAGE_MAX_MB:-150}"
CA="${CHATD_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}"
PULL="${PODMAN_PULL:-never}"
NAME="chatd-test-$$"
T_START=$(date +%s.%N)
pass=0
fail=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/chatd-container-test.XXXXXX")"
PLOG="$WORK/podman.log"   # podman's own stderr (it warns when systemd is not running)

ok() { pass=$((pass + 1)); echo "ok   - $*"; }
bad() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { # check NAME COMMAND...: runs COMMAND, records the result under NAME
    local name="$1"; shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
finish() {
    echo "total time: $(secs "$T_START" "$(now)") s"
    echo "container: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}
cleanup() {
    [ -n "${CURL_PID:-}" ] && kill "$CURL_PID" 2>/dev/null
    [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null
    timeout 30 podman rm -f -t 0 "$NAME-a" "$NAME-b" >/dev/null 2>>"$PLOG"
    [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null
    timeout 30 podman rm -f -t 0 "$NAME" >/dev/null 2>>"$PLOG"
    [ "${KEEP_IMAGE:-1}" = 0 ] && timeout 60 podman rmi -f "$IMAGE" >/dev/null 2>>"$PLOG"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    echo 18080
}

# ---- prerequisites ---------------------------------------------------------------------
if ! command -v podman >/dev/null 2>&1; then
    bad "podman is installed (run scripts/podman-setup.sh)"
    finish
fi
command -v curl >/dev/null 2>&1 || { bad "curl is installed"; finish; }

# ---- build -----------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    secret=()
    [ -r "$CA" ] && secret=(--secret "id=ca,src=$CA")
    t0=$(now)
    # --jobs 2: the server and web stages build in parallel (about 100 s instead of 150 s
    # cold on 2 cores); --format docker keeps the HEALTHCHECK (OCI images drop it).
    if timeout 1800 podman build --pull="$PULL" --network=host --format docker \
        --jobs "${PODMAN_BUILD_JOBS:-2}" "${secret[@]}" \
        -t "$IMAGE" "$ROOT" > "$WORK/build.log" 2>&1; then
        ok "image builds ($(secs "$t0" "$(now)") s)"
    else
        bad "image builds (exit $?); last lines of the build:"
        tail -n 25 "$WORK/build.log" | sed 's/^/    /'
        grep -q 'image not known\|pull policy' "$WORK/build.log" &&
            echo "    (the base image is missing: run scripts/podman-setup.sh)"
        finish
    fi
fi
if ! podman image exists "$IMAGE"; then
    bad "image $IMAGE exists"
    finish
fi

# ---- image metadata --------------------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
size_mb=$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1000000 }')
echo "image size: $size_mb MB ($size bytes)"
check "image size $size_mb MB <= $MAX_MB MB" awk -v s="$size" -v m="$MAX_MB" 'BEGIN { exit !(s <= m * 1000000) }'
cfg=$(podman image inspect --format \
    'user={{.Config.User}} stop={{.Config.StopSignal}} entry={{json .Config.Entrypoint}} health={{if .Config.Healthcheck}}{{index .Config.Healthcheck.Test 0}}{{end}}' \
    "$IMAGE")
echo "image config: $cfg"
check "image runs as a non-root user" bash -c '[[ "$1" =~ user=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" != 0 ]' _ "$cfg"
check "image has an exec-form ENTRYPOINT chatd" grep -qF 'entry=["/usr/local/bin/chatd"]' <<<"$cfg"
check "image has STOPSIGNAL SIGTERM" grep -qE 'stop=(SIGTERM|15)( |$)' <<<"$cfg"
check "image has a HEALTHCHECK (needs --format docker)" grep -qE 'health=CMD' <<<"$cfg"

# Arguments after the image go to chatd: --help exits 0, a bad value exits 2.
timeout 30 podman run --rm --network=host "$IMAGE" --help > "$WORK/help.txt" 2>>"$PLOG"
check "chatd --help through the ENTRYPOINT exits 0" test "$?" -eq 0 -a -s "$WORK/help.txt"
timeout 30 podman run --rm --network=host "$IMAGE" --pace fast >/dev/null 2>"$WORK/bad.txt"
rc=$?
check "a bad flag exits 2 with a one-line error (got $rc)" \
    bash -c '[ "$1" -eq 2 ] && grep -q "chatd: config: --pace" "$2"' _ "$rc" "$WORK/bad.txt"

# ---- start, healthy --------------------------------------------------------------------
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
t0=$(now)
# --health-interval=disable: no systemd timer here; the check is run by hand below.
if ! timeout 60 podman run -d --name "$NAME" --network=host --health-interval=disable \
    -e CHATD_LISTEN="127.0.0.1:$PORT" "$IMAGE" >/dev/null 2>>"$PLOG"; then
    bad "container starts"; cat "$PLOG"; finish
fi
healthy=0
for _ in $(seq 1 200); do  # up to 20 s
    if curl -fsS -m 1 -o /dev/null "$BASE/healthz" 2>/dev/null; then healthy=1; break; fi
    [ "$(podman inspect --format '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ] || break
    sleep 0.1
done
if [ "$healthy" = 1 ]; then
    ok "container answers /healthz ($(secs "$t0" "$(now)") s from podman run)"
else
    bad "container answers /healthz within 20 s"
    timeout 10 podman logs "$NAME" 2>&1 | tail -n 20 | sed 's/^/    /'
    finish
fi
t0=$(now)
hc=$(timeout 30 podman healthcheck run "$NAME" 2>>"$PLOG"); rc=$?
check "HEALTHCHECK passes: podman healthcheck run (rc $rc, ${hc:-no output}, $(secs "$t0" "$(now)") s)" test "$rc" -eq 0
st=$(podman inspect --format '{{.State.Health.Status}}' "$NAME" 2>>"$PLOG")
check "podman reports the container healthy (${st:-none})" test "$st" = healthy
uid=$(timeout 10 podman exec "$NAME" id -u 2>>"$PLOG")
check "chatd runs as uid ${uid:-?} (not root)" test -n "$uid" -a "$uid" != 0

# ---- web UI ----------------------------------------------------------------------------
curl -sS -m 5 -D "$WORK/ui.h" -o "$WORK/ui.html" "$BASE/" 2>>"$PLOG"
check "GET / serves the web UI (text/html, nosniff)" bash -c \
    'grep -qi "^HTTP/1.1 200" "$1" && grep -qi "^content-type: text/html" "$1" &&
     grep -qi "^x-content-type-options: nosniff" "$1" && grep -qi "<html" "$2"' _ "$WORK/ui.h" "$WORK/ui.html"
code=$(curl -sS -m 5 -o /dev/null -w '%{http_code} %{content_type}' "$BASE/dist/app.js" 2>>"$PLOG")
check "GET /dist/app.js serves the built UI bundle ($code)" grep -qE '^200 .*javascript' <<<"$code"

# ---- one demo stream -------------------------------------------------------------------
t0=$(now)
curl -sSN -m 60 -D "$WORK/chat.h" -o "$WORK/chat.txt" "$BASE/api/chat" \
    -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"Show me some emoji"}]}' 2>>"$PLOG"
rc=$?
nd=$(grep -c '^event: delta' "$WORK/chat.txt")
echo "stream: $nd delta events in $(secs "$t0" "$(now)") s"
check "POST /api/chat completes (curl rc $rc)" test "$rc" -eq 0
check "stream headers: 200, text/event-stream, X-Accel-Buffering: no" bash -c \
    'grep -qi "^HTTP/1.1 200" "$1" && grep -qi "^content-type: text/event-stream" "$1" &&
     grep -qi "^x-accel-buffering: no" "$1"' _ "$WORK/chat.h"
check "stream starts with a start event (id 0)" bash -c \
    'grep -m1 -A1 "^id: " "$1" | tr "\n" " " | grep -q "^id: 0 event: start"' _ "$WORK/chat.txt"
check "stream has delta events ($nd)" test "$nd" -gt 0
check "stream ends with exactly one terminal event: done" bash -c \
    '[ "$(grep -cE "^event: (done|error)" "$1")" = 1 ] &&
     [ "$(grep "^event: " "$1" | tail -n 1)" = "event: done" ]' _ "$WORK/chat.txt"
check "event ids count up by 1 from 0" bash -c \
    'grep "^id: " "$1" | awk "{ if (\$2 != NR - 1) exit 1 } END { exit NR == 0 }"' _ "$WORK/chat.txt"
# the terminal client in the image, against the server in the same container
out=$(timeout 60 podman exec -e CHATD_URL="$BASE" "$NAME" chatc "Show me some emoji" 2>>"$PLOG")
rc=$?
check "chatc in the image streams the demo answer (rc $rc, ${#out} characters)" \
    test "$rc" -eq 0 -a "${#out}" -gt 20

# ---- SIGTERM during an open stream -----------------------------------------------------
curl -sSN -m 60 -o "$WORK/long.txt" "$BASE/api/chat" -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"Tell me a long story"}]}' 2>>"$PLOG" &
CURL_PID=$!
for _ in $(seq 1 100); do  # up to 10 s for the first characters
    n=$(grep -c '^event: delta' "$WORK/long.txt" 2>/dev/null)
    [ "${n:-0}" -ge 5 ] && break
    sleep 0.1
done
open=1
grep -qE '^event: (done|error)' "$WORK/long.txt" 2>/dev/null && open=0
check "a second stream is open when SIGTERM is sent" test "$open" = 1
t0=$(now)
timeout 60 podman stop -t 15 "$NAME" >/dev/null 2>>"$PLOG"
stop_s=$(secs "$t0" "$(now)")
timeout 20 podman wait "$NAME" >/dev/null 2>>"$PLOG"
wait "$CURL_PID" 2>/dev/null
CURL_PID=""
code=$(podman inspect --format '{{.State.ExitCode}}' "$NAME" 2>>"$PLOG")
check "chatd exits 0 on SIGTERM (exit code ${code:-?}, stop took $stop_s s)" test "$code" = 0
last=$(grep -A1 '^event: ' "$WORK/long.txt" | tail -n 2 | tr '\n' ' ')
check "the open stream ends with error/shutdown or done: ${last:0:120}" bash -c \
    'grep -qE "^event: done |^event: error data: \{\"error\":\{\"type\":\"shutdown\"" <<<"$1"' _ "$last"
check "chatd logged a clean stop" bash -c 'timeout 10 podman logs "$1" 2>&1 | grep -q "chatd: stopped"' _ "$NAME"

# ---- two replicas sharing a Redis, nginx round-robin in front ---------------------------
# compose.yaml's `replicas` profile with what this machine has: redis-server and nginx from
# the host (no registry to pull their images from), the two chatd replicas as containers of
# the image, all on loopback. nginx runs one worker, round robin, no keep-alive to the
# replicas: the POST goes to one replica and the resume that follows to the other.
metric() { curl -sS -m 5 "http://127.0.0.1:$1/metrics" 2>>"$PLOG" | awk -v k="$2" '$1 == k { print $2 }'; }
replicas() {
    command -v redis-server >/dev/null 2>&1 || { bad "redis-server is installed"; return; }
    command -v nginx >/dev/null 2>&1 || { bad "nginx is installed"; return; }
    local rport pa pb nport d="$WORK/replicas" id n p up=0
    rport=$(free_port) pa=$(free_port) pb=$(free_port) nport=$(free_port)
    mkdir -p "$d/tmp"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$d/redis.log" 2>&1 &
    REDIS_PID=$!
    for n in a b; do
        p=$pa
        [ "$n" = b ] && p=$pb
        timeout 60 podman run -d --name "$NAME-$n" --network=host --health-interval=disable \
            -e CHATD_LISTEN="127.0.0.1:$p" -e CHATD_REDIS_URL="redis://127.0.0.1:$rport" \
            "$IMAGE" >/dev/null 2>>"$PLOG" || { bad "replica $n starts"; return; }
    done
    printf '%s\n' "worker_processes 1;" "pid $d/nginx.pid;" "error_log $d/error.log warn;" \
        "events { worker_connections 256; }" "http {" "    access_log off;" \
        "    client_body_temp_path $d/tmp/body;" "    proxy_temp_path $d/tmp/proxy;" \
        "    fastcgi_temp_path $d/tmp/fastcgi;" "    uwsgi_temp_path $d/tmp/uwsgi;" \
        "    scgi_temp_path $d/tmp/scgi;" \
        "    upstream chatd { server 127.0.0.1:$pa; server 127.0.0.1:$pb; }" \
        "    server { listen 127.0.0.1:$nport; location / { proxy_pass http://chatd;" \
        "        proxy_buffering off; proxy_http_version 1.1; proxy_read_timeout 120s; } }" \
        "}" >"$d/nginx.conf"
    nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;' >/dev/null 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 1 200); do  # up to 20 s: both replicas ready (Redis too), nginx listening
        if curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$pa/readyz" 2>/dev/null &&
            curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$pb/readyz" 2>/dev/null &&
            curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$nport/healthz" 2>/dev/null; then
            up=1
            break
        fi
        sleep 0.1
    done
    check "two replica containers ready with Redis, nginx round-robin in front" test "$up" = 1
    [ "$up" = 1 ] || return
    curl -sSN -m 60 -D "$d/post.h" -o "$d/post.txt" "http://127.0.0.1:$nport/api/chat" \
        -H 'Content-Type: application/json' \
        -d '{"messages":[{"role":"user","content":"Show me some emoji"}]}' 2>>"$PLOG"
    id=$(awk 'tolower($1) == "x-chatd-stream-id:" { print $2 }' "$d/post.h" | tr -d '\r')
    check "a demo stream through nginx (id ${id:-none})" test -n "$id"
    curl -sSN -m 60 -o "$d/resume.txt" "http://127.0.0.1:$nport/api/streams/$id" 2>>"$PLOG"
    check "its resume through nginx is byte-identical" cmp -s "$d/post.txt" "$d/resume.txt"
    local sa sb ra rb
    sa=$(metric "$pa" chatd_streams_total) sb=$(metric "$pb" chatd_streams_total)
    ra=$(metric "$pa" chatd_resumes_total) rb=$(metric "$pb" chatd_resumes_total)
    check "one replica produced it, the other served the resume (streams $sa/$sb, resumes $ra/$rb)" \
        bash -c '{ [ "$1" = 1 ] && [ "$2" = 0 ] && [ "$4" = 1 ]; } ||
                 { [ "$2" = 1 ] && [ "$1" = 0 ] && [ "$3" = 1 ]; }' _ "$sa" "$sb" "$ra" "$rb"
}
replicas

finish
