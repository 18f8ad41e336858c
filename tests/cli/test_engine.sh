#!/bin/sh
# Engine CLI on the real SelectTool dataset with local-knn: compile (and its
# idempotency), eval, the holdout gate's refusal with measured values,
# canary start/status/stop, two concurrent traffic processes against one
# canary (no sample lost or double-counted), traffic stopped by SIGINT,
# promote, rollback, bad inputs.
set -eu
D="$DSE_BIN"
FIX="$DSE_SRCDIR/db/datasets/selecttool.dataset.v1.jsonl"
T=$(mktemp -d)
BG=""
cleanup() { [ -n "$BG" ] && kill $BG 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
DB="$T/e.db"
DEF=sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { want=$1; shift; set +e; "$@" >"$T/out" 2>"$T/err"; got=$?; set -e
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }; }
# value of a top-level "key": value line in pretty JSON
jget() { sed -n "s/^  \"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$2" | head -n 1; }

for c in compile eval promote canary traffic loop demo; do
  expect_rc 0 "$D" "$c" --help
  grep -q "usage:" "$T/out" || fail "$c --help prints no usage"
done

expect_rc 0 "$D" --db "$DB" init
expect_rc 1 "$D" --db "$DB" compile --signature SelectTool.v1
grep -q "no_examples" "$T/err" || fail "compile without examples: $(cat "$T/err")"
expect_rc 1 "$D" --db "$DB" compile --signature NoSuch.v9
grep -q "unknown_signature" "$T/err" || fail "unknown signature"
expect_rc 0 "$D" --db "$DB" examples import "$FIX" --signature SelectTool.v1

# compile: several candidates, all LM work done once
expect_rc 0 "$D" --db "$DB" --json compile --signature SelectTool.v1
cp "$T/out" "$T/c1"
BEST=$(jget compiled_id "$T/c1")
[ "$(jget existed "$T/c1")" = false ] || fail "first compile existed"
[ "$(jget datasetHash "$T/c1")" = sha256:a0b955178d5b6a32a14dcd6d133c4f70ae3e0580d8e8d6617b186f5bbe54a604 ] || fail "datasetHash"
[ "$(jget candidates "$T/c1")" -gt 4 ] || fail "candidates: $(cat "$T/c1")"
[ "$(jget lmCalls "$T/c1")" -gt 0 ] || fail "lmCalls"
[ "$(jget holdoutReward "$T/c1")" = 0.68 ] || fail "holdout reward $(jget holdoutReward "$T/c1")"
case "$BEST" in sha256:*) ;; *) fail "compiled_id '$BEST'";; esac
[ "$BEST" != "$DEF" ] || fail "best is the defaults"
# the progress line goes to stderr (not with --quiet)
expect_rc 0 "$D" --db "$DB" compile --signature SelectTool.v1
grep -q "already compiled" "$T/out" || fail "second compile text"
grep -q "compile done" "$T/err" || fail "no progress on stderr: $(cat "$T/err")"
expect_rc 0 "$D" --db "$DB" --quiet compile --signature SelectTool.v1
[ ! -s "$T/err" ] || fail "--quiet printed progress"
expect_rc 0 "$D" --db "$DB" --json compile --signature SelectTool.v1
[ "$(jget existed "$T/out")" = true ] || fail "second compile not existed"
[ "$(jget lmCalls "$T/out")" = 0 ] || fail "second compile made LM calls"
[ "$(jget compiled_id "$T/out")" = "$BEST" ] || fail "second compile id"

# eval: stored, then found
expect_rc 0 "$D" --db "$DB" --json eval --signature SelectTool.v1 --compiled-id "$BEST"
[ "$(jget n "$T/out")" = 10 ] || fail "eval n"
[ "$(jget reward "$T/out")" = 0.68 ] || fail "eval reward $(jget reward "$T/out")"
[ "$(jget existed "$T/out")" = false ] || fail "first eval existed"
expect_rc 0 "$D" --db "$DB" --json eval --signature SelectTool.v1 --compiled-id "$BEST" --split dev
[ "$(jget reward "$T/out")" = 0.68 ] || fail "dev means holdout"
expect_rc 0 "$D" --db "$DB" --json eval --signature SelectTool.v1 --compiled-id "$BEST"
[ "$(jget existed "$T/out")" = true ] || fail "second eval not existed"
expect_rc 2 "$D" --db "$DB" eval --signature SelectTool.v1 --compiled-id "$BEST" --limit 0
expect_rc 1 "$D" --db "$DB" eval --signature SelectTool.v1 --compiled-id sha256:nope
grep -q artifact_not_found "$T/err" || fail "eval of a missing artifact"

# a canary seeds the control from the defaults and passes the gate
expect_rc 0 "$D" --db "$DB" canary status --signature SelectTool.v1
grep -q "no active canary" "$T/out" || fail "status without canary"
expect_rc 0 "$D" --db "$DB" canary start --signature SelectTool.v1 --compiled-id "$BEST" \
  --pct 50 --min-samples 10000 --salt fixed-salt
grep -q "seeded the control" "$T/out" || fail "no seed: $(cat "$T/out")"
grep -q "gate: baseline=0.6000 candidate=0.6800 delta=0.0800 >= 0.0500" "$T/out" || fail "gate line: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" active show --signature SelectTool.v1
grep -q "$DEF" "$T/out" || fail "control is not the defaults"
expect_rc 0 "$D" --db "$DB" canary status --signature SelectTool.v1
grep -q "collecting: 0/10000 samples" "$T/out" || fail "status: $(cat "$T/out")"
grep -q "salt fixed-salt" "$T/out" || fail "salt not honoured"

# the gate refuses with the measured numbers (exit 1), nothing moves
expect_rc 1 "$D" --db "$DB" promote --signature SelectTool.v1 --compiled-id "$BEST" --min-delta 0.5
grep -q "insufficient_improvement: baseline=0.6000 candidate=0.6800 delta=0.0800 < 0.5000" "$T/err" \
  || fail "refusal message: $(cat "$T/err")"
expect_rc 1 "$D" --db "$DB" promote --signature SelectTool.v1 --compiled-id "$DEF"
grep -q "compiled_id_mismatch" "$T/err" || fail "mismatch: $(cat "$T/err")"

# two traffic processes at once against the same canary
"$D" --db "$DB" --json traffic --signature SelectTool.v1 --count 60 --threads 4 --ids-per-thread 3 \
  --thread-prefix p1 >"$T/t1" 2>"$T/t1e" &
P1=$!
"$D" --db "$DB" --json traffic --signature SelectTool.v1 --count 60 --threads 4 --ids-per-thread 3 \
  --thread-prefix p2 >"$T/t2" 2>"$T/t2e" &
P2=$!
wait $P1 || fail "traffic 1: $(cat "$T/t1e")"
wait $P2 || fail "traffic 2: $(cat "$T/t2e")"
C1=$(jget canary "$T/t1"); C2=$(jget canary "$T/t2")
[ "$(jget calls "$T/t1")" = 60 ] && [ "$(jget calls "$T/t2")" = 60 ] || fail "traffic calls"
[ "$(jget unrecorded "$T/t1")" = 0 ] && [ "$(jget unrecorded "$T/t2")" = 0 ] || fail "unrecorded receipts"
[ $((C1 + C2)) -gt 0 ] || fail "no traffic reached the canary"
expect_rc 0 "$D" --db "$DB" --json canary status --signature SelectTool.v1
OKC=$(sed -n 's/^    "okCount": \([0-9]*\),*$/\1/p' "$T/out")
ERC=$(sed -n 's/^    "errorCount": \([0-9]*\),*$/\1/p' "$T/out")
[ $((OKC + ERC)) = $((C1 + C2)) ] || fail "canary counted $OKC+$ERC, traffic routed $C1+$C2"
expect_rc 0 "$D" --db "$DB" --json receipts --signature SelectTool.v1 --compiled-id "$BEST" --limit 500
NREC=$(grep -c '"receiptId"' "$T/out")
[ "$NREC" = $((OKC + ERC)) ] || fail "$NREC canary receipts stored, $OKC+$ERC counted"
expect_rc 0 "$D" --db "$DB" --json receipts --signature SelectTool.v1 --limit 500
[ "$(grep -c '"receiptId"' "$T/out")" = 120 ] || fail "receipts stored: $(grep -c '"receiptId"' "$T/out")"

# traffic stops cleanly on SIGINT, in-flight calls recorded
"$D" --db "$DB" traffic --signature SelectTool.v1 --duration 120 --rate 50 --threads 2 \
  --thread-prefix sig >"$T/ts" 2>"$T/tse" &
BG=$!
i=0
while :; do
  n=$("$D" --db "$DB" --json receipts --signature SelectTool.v1 --thread sig-0 --limit 5 | grep -c '"receiptId"' || true)
  [ "$n" -ge 3 ] && break
  i=$((i + 1)); [ $i -lt 600 ] || fail "traffic made no receipts"
  sleep 0.05
done
kill -INT $BG
set +e; wait $BG; rc=$?; set -e
BG=""
[ $rc = 0 ] || fail "traffic after SIGINT exited $rc: $(cat "$T/tse")"
grep -q "(interrupted)" "$T/ts" || fail "traffic did not report the interrupt: $(cat "$T/ts")"
CALLS=$(sed -n 's/^traffic .*: \([0-9]*\) calls.*/\1/p' "$T/ts")
expect_rc 0 "$D" --db "$DB" --json receipts --signature SelectTool.v1 --limit 500
[ "$(grep -c '"receiptId"' "$T/out")" = $((120 + CALLS)) ] || fail "interrupted traffic lost receipts"

# promote: the pointer moves, the canary stops ("promoted")
expect_rc 0 "$D" --db "$DB" promote --signature SelectTool.v1 --compiled-id "$BEST"
grep -q "promoted .*: sha256:a76900eb174f -> ${BEST%"${BEST#sha256:????????????}"}" "$T/out" || fail "promote line: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" canary status --signature SelectTool.v1
grep -q "no active canary" "$T/out" || fail "canary still running after promote"
expect_rc 0 "$D" --db "$DB" canary history --signature SelectTool.v1
head -n 2 "$T/out" | tail -n 1 | grep -q "stop .*promoted" || fail "history: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" active history --signature SelectTool.v1
grep -q "promote baselineHoldout=0.6000 candidateHoldout=0.6800" "$T/out" || fail "promote reason"

# rollback restores the previous pointer
expect_rc 0 "$D" --db "$DB" rollback --signature SelectTool.v1
expect_rc 0 "$D" --db "$DB" active show --signature SelectTool.v1
grep -q "$DEF" "$T/out" || fail "rollback did not restore the defaults"

# skip-gate is recorded; stop twice
expect_rc 0 "$D" --db "$DB" canary start --signature SelectTool.v1 --compiled-id "$BEST" --pct 10 \
  --skip-gate --reason "operator override"
grep -q "gate skipped" "$T/out" || fail "skip-gate text"
expect_rc 0 "$D" --db "$DB" canary history --signature SelectTool.v1
grep -q "skip-gate: operator override" "$T/out" || fail "skip-gate reason"
expect_rc 0 "$D" --db "$DB" canary stop --signature SelectTool.v1 --reason done
grep -q "stopped the canary" "$T/out" || fail "stop"
expect_rc 0 "$D" --db "$DB" canary stop --signature SelectTool.v1
grep -q "had no canary" "$T/out" || fail "second stop"
expect_rc 2 "$D" --db "$DB" canary start --signature SelectTool.v1 --compiled-id "$BEST"
expect_rc 2 "$D" --db "$DB" canary bogus --signature SelectTool.v1
echo "engine CLI: ok"
