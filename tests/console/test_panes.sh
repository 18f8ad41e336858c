#!/bin/sh
# Every pane on the demo store: the signature list with pointer, canary,
# rates; overview; pointer history (Enter opens the artifact); canary verdict
# with bars and history; compile reports with candidates; examples with the
# labeling legend; receipts (Enter opens the JSON, t the RLM trace); ops runs
# with the event timeline; help (?) from the keymap table; : commands.
. "$(dirname "$0")/lib.sh"
prepare_demo

start_console
wait_for "Signatures"
wait_for "SelectTool.v1"
wait_for "Overview · SelectTool.v1"
wait_for "verdict     collecting"
wait_for "Last ops run"

keys 3; wait_for "History · SelectTool.v1"
wait_for "promote"
wait_for "seed_control"
keys Enter; wait_for "artifact sha256:"
wait_for '"compiled_id"'
keys q; wait_for "History · SelectTool.v1"

keys 4; wait_for "Canary · SelectTool.v1"
wait_for "error rate"
wait_for "samples"
wait_for "auto_stop"
wait_for "error_rate_exc"

keys 5; wait_for "Compile · SelectTool.v1"
wait_for "TRAIN REWARD"
wait_for "best sha256:"
keys Enter; wait_for "compile report sha256:"
wait_for '"openagents.dse.compile_report"'
keys /; type_text 'holdoutReward'; keys Enter
wait_for '"holdoutReward": '
keys q

keys 6; wait_for "Examples · SelectTool.v1"
wait_for "labeled 0/34"
wait_for 'keys      ! none'

# Tab moves on
keys Tab; wait_for "Receipts · SelectTool.v1"
wait_for "direct.v1"
keys Enter; wait_for "receipt "
wait_for '"openagents.dse.predict_receipt"'
keys q; wait_for "Receipts · SelectTool.v1"
# server-side filters: result (f cycles all / Error / Ok) and :receipts
keys f; wait_for "Receipts · SelectTool.v1 result=Error"
wait_for "BudgetExceeded"
capture; grep -q "│.* Ok  " "$T/screen.txt" && fail "an Ok receipt under result=Error"
keys f; wait_for "Receipts · SelectTool.v1 result=Ok"
keys f; wait_gone "result=Ok"
type_text ':receipts error strategy=direct.v1'; keys Enter
wait_for "result=Error strategy=direct.v1"
type_text ':receipts all'; keys Enter
wait_gone "result=Error"

keys Tab; wait_for "Runs"
wait_for "demo-setup"
wait_for "Timeline demo-setup"
wait_for "phase1.finish"

# help lists the keys of the current pane from the keymap table
keys '?'; wait_for "help: runs"
wait_for "follow"
keys q

# the RLM trace of the RecapThread receipt
type_text ':signature RecapThread.v1'; keys Enter
wait_for "Runs"
keys 7; wait_for "Receipts · RecapThread.v1"
wait_for "trace("
keys t; wait_for "trace of receipt"
wait_for "\"_tag\": \"Input\""
keys q

# the signature list shows all eight catalog signatures
keys 1; wait_for "SummarizeThr"

quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
[ ! -s "$T/stderr.txt" ] || fail "console wrote to stderr: $(cat "$T/stderr.txt")"
echo "ok: every pane"
