#!/bin/sh
# Numbers in the signature list never get cut: with a thousand-odd
# receipts in five minutes (R/M above 100) and a canary at 1200 of 10000
# samples, the R/M and CANARY columns show abbreviated values ("248",
# "1k/10k") instead of a truncated "248.…" / "1200/1…".  (fmt_num and
# fmt_ratio are unit tested up to 1e15 in tests/unit/test_ui_fmt.c.)
. "$(dirname "$0")/lib.sh"
prepare_demo
GOOD=$(dse canary status --signature SelectTool.v1 --json | sed -n 's/^ *"canary_compiled_id": "\(sha256:[0-9a-f]*\)".*/\1/p' | head -n 1)
[ -n "$GOOD" ] || fail "the demo store has no running canary"
dse canary stop --signature SelectTool.v1 >/dev/null
dse canary start --signature SelectTool.v1 --compiled-id "$GOOD" --pct 100 --min-samples 10000 \
  --skip-gate --reason "test: big counts" >/dev/null
dse traffic --signature SelectTool.v1 --count 1200 --threads 4 >/dev/null 2>&1 || fail "traffic failed"
n=$(dse canary status --signature SelectTool.v1 --json | sed -n 's/^ *"okCount": \([0-9]*\).*/\1/p' | head -n 1)
[ "$n" = 1200 ] || fail "the canary counted $n, want 1200"

start_console --no-state --signature SelectTool.v1 --pane overview
wait_for "Overview · SelectTool.v1"
wait_for "SelectTool.v1 [0-9a-f]\{8\} "
capture
row=$(grep "SelectTool.v1 [0-9a-f]\{8\} " "$T/screen.txt" | head -n 1 | sed "s/││.*//")   # the left pane only
echo "$row" | grep -q "…" && fail "a number in the signature list is cut: $row"
echo "$row" | grep -q " 1k/10k " || fail "the CANARY column does not show 1k/10k: $row"
echo "$row" | grep -q " [0-9][0-9][0-9] " || fail "the R/M column does not show a whole number: $row"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: R/M and CANARY columns abbreviate large numbers instead of cutting them"
