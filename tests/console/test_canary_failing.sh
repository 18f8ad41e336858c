#!/bin/sh
# A canary that is failing is drawn as FAILING with its rate, even before
# minSamples (when the store has not auto-stopped it yet), in the canary
# and overview panes (the rule, and "above the control's rate", are unit
# tested in tests/unit/test_ui_fmt.c).
. "$(dirname "$0")/lib.sh"
prepare_demo
# the demo's broken artifact (maxLmCalls 0: every predict errors)
BROKEN=$(dse canary history --signature SelectTool.v1 --json | tr -d ' \n' |
  sed -n 's/.*"action":"auto_stop"[^}]*"canary_compiled_id":"\(sha256:[0-9a-f]*\)".*/\1/p' | head -n 1)
[ -n "$BROKEN" ] || fail "the demo store has no auto-stopped artifact"
B8=$(echo "$BROKEN" | cut -c8-15)
dse canary stop --signature SelectTool.v1 >/dev/null
dse canary start --signature SelectTool.v1 --compiled-id "$BROKEN" --pct 100 --min-samples 8 \
  --max-error-rate 0.2 --skip-gate --reason "test: failing canary" >/dev/null

start_console --no-state --refresh-ms 200 --signature SelectTool.v1 --pane canary
pane() { keys C-g; type_text ":pane $1"; keys Enter; }
wait_for "Canary · SelectTool.v1"
wait_for "$B8 at 100% of threads"
wait_for "verdict     collecting: 0/8 samples"

# three errors out of three: still collecting for the store, failing here
dse traffic --signature SelectTool.v1 --count 3 --threads 1 >/dev/null 2>&1 || true
wait_for "verdict     FAILING: error rate 1.000 > max 0.200 (3/8 samples" 15
pane overview
wait_for "verdict     FAILING: error rate 1.000 > max 0.200 (3/8 samples" 15
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: a canary above maxErrorRate is drawn as FAILING before minSamples, in the canary and overview panes"
