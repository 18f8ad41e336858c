#!/bin/sh
# q goes back one level from wherever it is pressed, and quits only at the
# top (the signature list) (issue 10): an opened signature (Enter moves to
# its pane), a viewer, the text filter, the receipt filters, an opened run.
. "$(dirname "$0")/lib.sh"
prepare_store
IN='{"message":"please call me Zed","blueprintHint":{"userHandle":"Z","agentName":"Autopilot"}}'
dse predict --signature SelectTool.v1 --thread back-1 --input "$IN" >/dev/null

alive() { sleep 0.3; [ ! -e "$T/exit.txt" ] || fail "the console quit: $1"; }

start_console --pane signatures
wait_for "Signatures"
wait_for "q quit"
# Enter opens the signature (its pane gets the focus); q comes back
keys Enter; wait_for "q back"
keys q; wait_for "back to the signature list"
alive "q in the pane opened from the signature list"
wait_for "q quit"

# receipts: viewer -> text filter -> receipt filter -> signature list -> quit
keys 7; wait_for "Receipts · SelectTool.v1"
keys Enter; wait_for '"openagents.dse.predict_receipt"'
keys q; wait_gone '"openagents.dse.predict_receipt"'
alive "q in the receipt viewer"
wait_for "Receipts · SelectTool.v1"
keys f; wait_for "Receipts · SelectTool.v1 result=Error"
keys /; type_text 'direct'; keys Enter; wait_for "result=Error /direct"
keys q; wait_for "filter cleared"
alive "q with a text filter"
wait_for "Receipts · SelectTool.v1 result=Error"
keys q; wait_for "receipt filters cleared"
alive "q with a receipt filter"
wait_gone "result=Error"
keys Escape; wait_for "back to the signature list"
alive "Esc in the receipts pane"
keys Escape; wait_for "press q to quit"
alive "Esc at the top"
keys q
wait_file "$T/exit.txt" 10
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: q goes back one level; quits only at the top"
