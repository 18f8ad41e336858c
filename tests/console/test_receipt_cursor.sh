#!/bin/sh
# Live refresh keeps the receipts cursor on its receipt (same receiptId)
# when new receipts arrive at the top (issue 10), also when the cursor is
# on the last rows of the window, which the reload must not drop.
. "$(dirname "$0")/lib.sh"
prepare_store
dse traffic --signature SelectTool.v1 --count 110 --threads 1 --thread-prefix old >/dev/null

# the RECEIPT column of the selected row
selected() { capture; grep '│▸ ' "$T/screen.txt" | grep -v SIGNATURE | sed -n 's/.*│▸ [0-9-]* [0-9:]* \([0-9a-f]\{8\}\) .*/\1/p' | tail -n 1; }

start_console --signature SelectTool.v1 --pane receipts --refresh-ms 200
wait_for " 1/100+ "
# to the oldest receipt through the pages (the window starts at the head)
keys PgDn PgDn PgDn PgDn; wait_for " [0-9]*/110 "
keys G; wait_for " 110/110 "
before=$(selected)
[ -n "$before" ] || fail "no selected receipt"
keys k k k; wait_for " 107/110 "
mid=$(selected)

dse traffic --signature SelectTool.v1 --count 5 --threads 1 --thread-prefix new >/dev/null
wait_for " 112/115 " 10
[ "$(selected)" = "$mid" ] || fail "the cursor left receipt $mid for $(selected)"
keys j j j; wait_for " 115/115 "
[ "$(selected)" = "$before" ] || fail "the oldest receipt $before is no longer the last row: $(selected)"

# near the top: new receipts push it down, the cursor follows it
keys g; wait_for " 1/115"
keys j; wait_for " 2/115"
top=$(selected)
dse traffic --signature SelectTool.v1 --count 3 --threads 1 --thread-prefix newer >/dev/null
wait_for " 5/11[58]+* " 10
[ "$(selected)" = "$top" ] || fail "the cursor left receipt $top for $(selected)"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: the receipts cursor stays on its receipt during live refresh"
