#!/bin/sh
# Runs every suite given as "name:command", keeps going after a failure, and ends with one
# total line. Each suite's own summary ("name: N passed, M failed", or node's "# pass N" /
# "# fail N") is added up.
set -u
pass=0; fail=0; status=0
log=$(mktemp)
for spec in "$@"; do
    name=${spec%%:*}; cmd=${spec#*:}
    echo "=== $name"
    sh -c "$cmd" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    else
        p=$(grep -E '^# pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
        f=$(grep -E '^# fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: no test result found"; f=1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$name: exited with status $rc"; f=1
    fi
    pass=$((pass + p)); fail=$((fail + f))
    [ "$f" -eq 0 ] || status=1
done
rm -f "$log"
echo "total: $pass passed, $fail failed"
exit $status
