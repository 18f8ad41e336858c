#!/bin/sh
# The overnight loop end to end on the real SelectTool dataset with
# local-knn (compile -> eval -> gate -> canary -> traffic -> promote, as an
# ops run with events), its other outcomes (already active, gate refused,
# timeout), and the demo store (built once, then reused).
set -eu
D="$DSE_BIN"
FIX="$DSE_SRCDIR/db/datasets/selecttool.dataset.v1.jsonl"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
DEF=sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { want=$1; shift; set +e; "$@" >"$T/out" 2>"$T/err"; got=$?; set -e
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }; }
jget() { sed -n "s/^  \"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$2" | head -n 1; }
setup() { expect_rc 0 "$D" --db "$1" init; expect_rc 0 "$D" --db "$1" examples import "$FIX" --signature SelectTool.v1; }

# ---- a clean loop promotes ----
DB="$T/loop.db"
setup "$DB"
start=$(date +%s)
expect_rc 0 "$D" --db "$DB" --json loop --signature SelectTool.v1 --run-id opsrun_test_1 --commit-sha abc123
[ $(( $(date +%s) - start )) -lt 60 ] || fail "the loop took a minute or more"
cp "$T/out" "$T/sum"
[ "$(jget outcome "$T/sum")" = promoted ] || fail "outcome: $(cat "$T/sum")"
[ "$(jget runId "$T/sum")" = opsrun_test_1 ] || fail "runId"
BEST=$(sed -n 's/^    "compiled_id": "\(sha256:[0-9a-f]*\)",*$/\1/p' "$T/sum" | head -n 1)
case "$BEST" in sha256:*) ;; *) fail "no compiled id in the summary";; esac
grep -q '"verdict": "healthy: error rate 0.000 <= 0.200' "$T/sum" || fail "canary verdict in summary"
expect_rc 0 "$D" --db "$DB" active show --signature SelectTool.v1
grep -q "$BEST" "$T/out" || fail "pointer not promoted"
expect_rc 0 "$D" --db "$DB" active history --signature SelectTool.v1
grep -q "seed_control_defaults" "$T/out" || fail "control was not seeded"
expect_rc 0 "$D" --db "$DB" canary history --signature SelectTool.v1
grep -q "stop .*promoted" "$T/out" || fail "canary not stopped by the promotion"
grep -q "start .*loop opsrun_test_1" "$T/out" || fail "canary start reason"
# the ops run: finished, with an event for every phase
expect_rc 0 "$D" --db "$DB" --json run opsrun_test_1
grep -q '"status": "finished"' "$T/out" || fail "run status"
grep -q '"commitSha": "abc123"' "$T/out" || fail "commitSha"
for ph in phase1.start compile.start compile.progress compile.finish phase7.eval.start \
          phase7.eval.finish gate canary.start canary.wait promote finish phase1.finish; do
  grep -q "\"phase\": \"$ph\"" "$T/out" || fail "no $ph event"
done
grep -q '"outcome": "promoted"' "$T/out" || fail "summaryJson outcome"
expect_rc 0 "$D" --db "$DB" runs
grep -q "opsrun_test_1" "$T/out" || fail "runs list"
# the loop's own traffic produced canary samples
expect_rc 0 "$D" --db "$DB" --json receipts --signature SelectTool.v1 --compiled-id "$BEST" --limit 500
[ "$(grep -c '"receiptId"' "$T/out")" -ge 20 ] || fail "fewer canary receipts than minSamples"

# ---- again: the best is already active ----
expect_rc 0 "$D" --db "$DB" --json loop --signature SelectTool.v1
[ "$(jget outcome "$T/out")" = already_active ] || fail "second loop: $(jget outcome "$T/out")"
grep -q '"existed": true' "$T/out" || fail "second loop compiled again"

# ---- the gate refuses: nothing starts ----
DB2="$T/gate.db"
setup "$DB2"
expect_rc 0 "$D" --db "$DB2" --json loop --signature SelectTool.v1 --min-delta 0.5
[ "$(jget outcome "$T/out")" = gate_failed ] || fail "gate outcome: $(jget outcome "$T/out")"
expect_rc 0 "$D" --db "$DB2" canary status --signature SelectTool.v1
grep -q "no active canary" "$T/out" || fail "a canary started after a refused gate"
expect_rc 0 "$D" --db "$DB2" active show --signature SelectTool.v1
grep -q "$DEF" "$T/out" || fail "the control should stay the seeded defaults"

# ---- not enough samples in time: the canary is stopped ----
DB3="$T/timeout.db"
setup "$DB3"
expect_rc 0 "$D" --db "$DB3" --json loop --signature SelectTool.v1 --min-samples 10000 \
  --timeout 1 --traffic-rate 5
[ "$(jget outcome "$T/out")" = timeout ] || fail "timeout outcome: $(jget outcome "$T/out")"
expect_rc 0 "$D" --db "$DB3" canary history --signature SelectTool.v1
head -n 2 "$T/out" | tail -n 1 | grep -q "stop .*loop timeout: collecting" || fail "timeout stop: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB3" active show --signature SelectTool.v1
grep -q "$DEF" "$T/out" || fail "timeout must not promote"

# ---- the demo store ----
DEMO="$T/demo.db"
expect_rc 1 "$D" --db "$DEMO" demo --dataset "$T/missing.jsonl"
grep -q "dataset_not_found" "$T/err" || fail "missing dataset message"
expect_rc 0 "$D" --db "$DEMO" --json demo
[ "$(jget reused "$T/out")" = false ] || fail "first demo reused"
[ "$(jget setupMs "$T/out")" -lt 20000 ] || fail "demo setup is slow: $(jget setupMs "$T/out") ms"
DBEST=$(jget bestCompiledId "$T/out")
expect_rc 0 "$D" --db "$DEMO" active history --signature SelectTool.v1
[ "$(grep -c ' set ' "$T/out")" = 2 ] || fail "demo pointer history: $(cat "$T/out")"
grep -q "seed_control_defaults" "$T/out" || fail "demo seed"
expect_rc 0 "$D" --db "$DEMO" canary status --signature SelectTool.v1
grep -q "verdict     collecting" "$T/out" || fail "demo canary: $(cat "$T/out")"
grep -q "last auto-stop .*error_rate_exceeded errorRate=1.000 maxErrorRate=0.200 minSamples=10" "$T/out" \
  || fail "demo auto-stop: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DEMO" --json receipts --signature SelectTool.v1 --result Error --limit 500
[ "$(grep -c '"receiptId"' "$T/out")" = 10 ] || fail "demo error receipts"
expect_rc 0 "$D" --db "$DEMO" --json receipts --signature RecapThread.v1 --strategy rlm_lite.v1
RID=$(sed -n 's/^      "receiptId": "\([^"]*\)",*$/\1/p' "$T/out" | head -n 1)
BID=$(sed -n 's/^      "rlmTraceBlobId": "\(sha256:[0-9a-f]*\)",*$/\1/p' "$T/out" | head -n 1)
[ -n "$RID" ] && [ -n "$BID" ] || fail "no rlm_lite receipt with a trace: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DEMO" blob "$RID" "$BID"
grep -q "openagents.dse.rlm_trace" "$T/out" || fail "trace blob"
expect_rc 0 "$D" --db "$DEMO" runs
grep -q "demo-setup" "$T/out" || fail "demo ops run"
expect_rc 0 "$D" --db "$DEMO" --json demo
[ "$(jget reused "$T/out")" = true ] || fail "second demo rebuilt"
[ "$(jget bestCompiledId "$T/out")" = "$DBEST" ] || fail "reused demo best id"
echo "loop and demo: ok"
