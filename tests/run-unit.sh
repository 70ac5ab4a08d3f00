#!/bin/sh
# Runs each check unit-test binary; prints one total line; fails if any failed.
# UNIT_WRAP: a command to run each binary under (e.g. valgrind); CK_FORK as check reads it.
set -u
pass=0; fail=0
for t in "$@"; do
    out=$(CK_FORK=${CK_FORK:-yes} ${UNIT_WRAP:-} "$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -1)
    n=$(printf '%s' "$line" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*Failures: \([0-9]*\).*/\1/p')
    e=$(printf '%s' "$line" | sed -n 's/.*Errors: \([0-9]*\).*/\1/p')
    [ -n "$n" ] || { n=1; f=1; e=0; echo "$t: no result line (rc=$rc)"; }
    pass=$((pass + n - f - e)); fail=$((fail + f + e))
    [ "$rc" -eq 0 ] || [ $((f + e)) -gt 0 ] || fail=$((fail + 1))
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
