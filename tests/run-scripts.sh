#!/bin/sh
# Runs every scripted test (tests/cli, tests/console, tests/server) against
# the built binary in $DSE_BIN.  Each script is a standalone shell program
# that exits non-zero on failure.
set -u
: "${DSE_BIN:?DSE_BIN must point at the dse binary}"
: "${DSE_SRCDIR:?DSE_SRCDIR must point at the source tree}"
export DSE_BIN DSE_SRCDIR
# Optional arguments name the directories to run (default: cli console server).
dirs=${*:-cli console server}
fail=0; count=0
for dir in $dirs; do
  for t in "$DSE_SRCDIR"/tests/$dir/test_*.sh; do
    [ -f "$t" ] || continue
    count=$((count + 1))
    name="$dir/$(basename "$t")"
    start=$(date +%s)
    if out=$(sh "$t" 2>&1); then
      echo "ok   $name ($(( $(date +%s) - start ))s)"
    else
      echo "FAIL $name"; echo "$out" | tail -n 40 | sed 's/^/     /'
      fail=$((fail + 1))
    fi
  done
done
echo "script tests: $count run, $fail failed"
[ "$fail" = 0 ]
