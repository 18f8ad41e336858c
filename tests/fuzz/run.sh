#!/bin/sh
# Runs every libFuzzer target built by `make fuzz` for $FUZZ_SECONDS each.
# Seeds: tests/fuzz/corpus/<target>/ (read-only, kept in git).  New corpus
# entries go to build/fuzz/corpus/<target>/ and crashes to
# build/fuzz/crashes/ (copy a crash into the seeds once it is fixed, so it
# stays fixed).  Prints one line per target and a total; exits 1 if any
# target found a crash, a leak or a broken invariant.
set -u
: "${FUZZ_BIN:?FUZZ_BIN must name the directory of fuzz binaries}"
: "${DSE_SRCDIR:?DSE_SRCDIR must point at the source tree}"
secs=${FUZZ_SECONDS:-30}
out=$(dirname "$FUZZ_BIN")
mkdir -p "$out/crashes" "$out/logs"
total=0; failed=0; n=0
for bin in "$FUZZ_BIN"/fuzz_*; do
  [ -x "$bin" ] || continue
  t=$(basename "$bin")
  n=$((n + 1))
  mkdir -p "$out/corpus/$t"
  seeds="$DSE_SRCDIR/tests/fuzz/corpus/$t"
  [ -d "$seeds" ] || seeds=""
  log="$out/logs/$t.log"
  # Bounded input size keeps each execution short; the limits are libFuzzer's
  # defaults made explicit (per-input timeout, RSS cap).
  "$bin" -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
    "$out/corpus/$t" $seeds >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  [ -n "$runs" ] || runs=0
  total=$((total + runs))
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ $rc -ne 0 ] || grep -q 'ERROR: \|invariant broken' "$log"; then
    failed=$((failed + 1))
    echo "FAIL $t: $runs executions in ${secs}s, $cov (log: $log)"
    grep -m 3 -E 'ERROR: |invariant broken|SUMMARY' "$log" | sed 's/^/     /'
  else
    echo "ok   $t: $runs executions in ${secs}s, $cov"
  fi
done
echo "fuzz: $n targets, $total executions, $failed failed"
[ "$failed" = 0 ]
