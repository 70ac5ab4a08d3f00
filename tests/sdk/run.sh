#!/bin/sh
# The openai SDK tests: installs the locked dependencies when node_modules is missing or
# older than the lockfile, then runs the suite. Ends with node's "# pass N" / "# fail N".
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
    # openai 7 declares node >= 22; the suite also passes on node 20, where npm only warns.
    npm ci --no-audit --no-fund --loglevel=error
fi

bin="${CHATD_BIN:-../../build/chatd}"
if [ ! -x "$bin" ]; then
    echo "run.sh: no chatd binary at $bin (run make at the repository root, or set CHATD_BIN)" >&2
    exit 2
fi

exec node --test --test-reporter=tap --test-concurrency=1 openai.test.mjs
