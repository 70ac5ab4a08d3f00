#!/bin/sh
# Runs the ThreadSanitizer build of chatd (for the integration suite: CHATD_BIN names this
# script), or after --run any command (the unit tests), with the options `make tsan` uses:
# every race is reported and the process goes on, so one run shows them all, then exits 66
# at the end; the harness fails the test whose stderr holds a report and a chatd that exits
# 66. second_deadlock_stack shows where both locks of a lock-order inversion were taken.
# TSAN_OPTIONS from the caller come last and so override these.
here=$(cd "$(dirname "$0")" && pwd)
TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 history_size=4 \
suppressions=$here/tsan.supp ${TSAN_OPTIONS:-}"
export TSAN_OPTIONS
if [ "${1:-}" = "--run" ]; then
    shift
    exec "$@"
fi
exec "$here/../build/tsan/chatd" "$@"
