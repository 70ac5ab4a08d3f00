#!/bin/sh
# Builds the fuzz targets, then for each one: replays its committed corpus once (the
# regression check: every seed and every kept reproducer must pass), and fuzzes it for
# FUZZ_SECONDS seconds (default 60) from a scratch copy of that corpus, so the repository's
# corpus is never written to. A failing input is saved in build/fuzz/artifacts/ and its
# report shown. Ends with "fuzz: N passed, M failed" (targets); non-zero if any failed.
#   FUZZ_SECONDS=300 tests/fuzz/run.sh            longer runs
#   FUZZ_TARGETS="fuzz_seg" tests/fuzz/run.sh     some targets only
#   FUZZ_SECONDS=0 tests/fuzz/run.sh              the regression check alone
set -u
cd "$(dirname "$0")/../.."

secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"fuzz_req fuzz_ssep fuzz_prov fuzz_seg fuzz_stream fuzz_jsonv fuzz_xlat"}
bin=build/fuzz
art=$bin/artifacts
logs=$bin/logs
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

if ! make -s -C tests/fuzz; then
    echo "fuzz: build failed"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
mkdir -p "$art" "$logs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# The lines of a libFuzzer log that say what went wrong, and where.
report() {
    grep -E 'FUZZ CHECK FAILED|^  [^ ]|ERROR: [A-Za-z]+Sanitizer|runtime error:|ERROR: libFuzzer|^ +#[0-9]+ 0x' "$1" |
        grep -v -E 'fuzzer::|__sanitizer_print_stack_trace|libc\.so|libc_start|nptl/|raise\.c|abort\.c| in _start ' |
        head -40
}

# Every file of the committed corpus, run once each.
regress() {
    t=$1
    dir=tests/fuzz/corpus/$t
    [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ] || { echo "$t: no corpus to replay"; return 0; }
    log=$logs/$t.regress.log
    if find "$dir" -type f -print0 | xargs -0 "$bin/$t" >"$log" 2>&1; then
        echo "$t: corpus replayed ($(ls "$dir" | wc -l) inputs)"
        return 0
    fi
    # once more input by input, to name every failing one
    for f in "$dir"/*; do
        "$bin/$t" "$f" >"$log" 2>&1 && continue
        echo "$t: REGRESSION: $f fails"
        report "$log"
    done
    return 1
}

# Fuzzes from a scratch copy of the corpus for $secs seconds.
fuzz() {
    t=$1
    [ "$secs" -gt 0 ] || return 0
    mkdir -p "$work/$t"
    [ -d "tests/fuzz/corpus/$t" ] && cp -R "tests/fuzz/corpus/$t/." "$work/$t/"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    log=$logs/$t.fuzz.log
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$art/$t-" $dict "$work/$t" >"$log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [0-9]*\).*/\1 \2 \3/p')
    if [ "$rc" -eq 0 ]; then
        echo "$t: fuzzed ${took}s, ${runs:-?} runs, $cov"
        return 0
    fi
    echo "$t: FAILED after ${took}s (exit $rc); log $log"
    report "$log"
    grep -E "Test unit written to|artifact_prefix" "$log" | tail -1
    return 1
}

pass=0
fail=0
for t in $targets; do
    ok=1
    # a failing corpus input would only fail the fuzzing again at once: fix it first
    if regress "$t"; then fuzz "$t" || ok=0; else ok=0; fi
    if [ "$ok" -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
