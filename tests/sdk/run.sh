#!/bin/sh
# The client SDK tests (openai, @anthropic-ai/sdk, the Vercel AI SDK, LangChain, Claude Code), each
# against chatd in front of the mock upstreams of tests/mock: installs the locked
# dependencies when node_modules is missing or older than the lockfile, then runs every
# *.test.mjs here within SDK_BUDGET_S seconds (default 150). Ends with node's "# pass N" /
# "# fail N".
#   CHATD_BIN   the server binary, relative to the current directory
#               (default: build/chatd of this repository)
set -eu
if [ -n "${CHATD_BIN:-}" ]; then
    case "$CHATD_BIN" in /*) ;; *) CHATD_BIN="$(pwd)/$CHATD_BIN" ;; esac
    export CHATD_BIN
fi
cd "$(dirname "$0")"

if [ ! -f node_modules/.package-lock.json ] ||
   [ package-lock.json -nt node_modules/.package-lock.json ] ||
   [ package.json -nt node_modules/.package-lock.json ]; then
    # Pinned to the last majors that declare support for node 20.
    npm ci --no-audit --no-fund --loglevel=error
fi

bin="${CHATD_BIN:-../../build/chatd}"
if [ ! -x "$bin" ]; then
    echo "run.sh: no chatd binary at $bin (run make at the repository root, or set CHATD_BIN)" >&2
    exit 2
fi

# Node's own per-test timeouts end a hung test; the budget ends a hung run (no summary
# line then: tests/run-all.sh counts that as a failure).
exec timeout -k 5 "${SDK_BUDGET_S:-150}" \
    node --test --test-reporter=tap --test-concurrency=1 --test-timeout=30000 ./*.test.mjs
