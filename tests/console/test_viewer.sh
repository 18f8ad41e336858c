#!/bin/sh
# The JSON viewer on a large compile report: search (/ n N) that unfolds
# folded nodes, fold / unfold, raw JSON text, wrap toggle, save to a file;
# only visible lines are drawn, so moving to the end is as quick as the top.
. "$(dirname "$0")/lib.sh"
prepare_demo

start_console --signature SelectTool.v1 --pane compile
wait_for "Compile · SelectTool.v1"
wait_for "TRAIN REWARD"
keys Enter
wait_for "compile report sha256:"
wait_for '"format": "openagents.dse.compile_report"'

# search, next, previous
keys /; wait_for "^/"
type_text 'compiled_id'; keys Enter
wait_for "/compiled_id"
wait_for '"compiled_id": "sha256:'
keys n; wait_for "/compiled_id"
keys N; wait_for "/compiled_id"
keys /; type_text 'no-such-text-anywhere'; keys Enter
wait_for "not found: no-such-text-anywhere"

# fold everything, then a search opens the folds it needs
keys z; wait_for '"report": {…}'
keys /; type_text 'holdoutReward'; keys Enter
wait_for '"holdoutReward": 0.'
keys Z; wait_for '/2623 /holdoutReward'; wait_for '▸     "holdoutReward": 0.'

# long lines: cut with a marker, then wrapped
keys g
keys /; type_text 'v1.base_router_rules'; keys Enter
wait_for '"text": "You route one chat message to at most one Blueprint tool.^JReply with a single JSON object and n…'
keys w; wait_for "[0-9] wrap /"
wait_for "only when the user explicitly wants Autopilot"
keys w; wait_gone "[0-9] wrap /"

# raw JSON text (as pretty-printed JSON) and back to the tree
keys r; wait_for "[0-9] raw /"
wait_for '"v1.base_router_rules",'
keys r; wait_gone "[0-9] raw /"

# the end of the document, then the top again
keys G; wait_for "^│▸ }"
keys g; wait_for "^│▸ {"

# save to a file
keys S; wait_for "save to: "
keys C-u; type_text "$T/report.json"; keys Enter
wait_for "saved [0-9]* bytes to"
[ -s "$T/report.json" ] || fail "nothing saved"
grep -q '"evaluatedCandidates"' "$T/report.json" || fail "saved file lacks the report"
head -c 1 "$T/report.json" | grep -q '{' || fail "saved file is not the JSON document"
keys q; wait_for "Compile · SelectTool.v1"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: viewer"
