#!/bin/sh
# A canary that is failing is drawn as FAILING with its rate, even before
# minSamples (when the store has not auto-stopped it yet), in the canary
# and overview panes (the rule, and "above the control's rate", are unit
# tested in tests/unit/test_ui_fmt.c).  When the store then auto-stops it
# (error rate above maxErrorRate after minSamples) while the console
# watches, the message line says so at once and the canary and overview
# panes keep a "last auto" line from canary history (time, ok, err, rate).
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

# past minSamples the store auto-stops it: a notice (from the signature
# list, whichever pane is open), and the panes keep it
pane history
wait_for "History · SelectTool.v1"
wait_for "active   sha256:"
dse traffic --signature SelectTool.v1 --count 10 --threads 1 >/dev/null 2>&1 || true
wait_for "canary AUTO-STOPPED for SelectTool.v1: .* ok=0 err=8 rate=1.000 (max 0.200) canary sha256:$B8" 15
pane canary
wait_for "no active canary" 15
wait_for "auto-stop   last .* ok=0 err=8 rate=1.000 (max 0.200)"
pane overview
wait_for "Overview · SelectTool.v1"
wait_for "auto-stop   last .* ok=0 err=8 rate=1.000 (max 0.200)" 15
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: failing canary drawn as FAILING before minSamples; its auto-stop noticed on the message line and kept in the canary and overview panes"
