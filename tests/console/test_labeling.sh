#!/bin/sh
# Keyboard labeling in the examples pane: five decisions (accept, reject,
# value 1 (Shift+1 = !), split change + value 2 (@), skip, accept), progress always on screen,
# several levels of undo, and the store checked through the CLI after each
# step that matters: every decision is one putExample of the whole row and
# undo writes the previous row back.
. "$(dirname "$0")/lib.sh"
prepare_store

# example ids in pane order (the store's exampleId order)
dse examples list --signature SelectTool.v1 --limit 10 --json > "$T/list.json"
ids=$(sed -n 's/^      "exampleId": "\(.*\)",$/\1/p' "$T/list.json")
ex() { echo "$ids" | sed -n "${1}p"; }
[ -n "$(ex 6)" ] || fail "could not read example ids"

# compact JSON of one example, for grep
show() { dse examples show --signature SelectTool.v1 --id "$1" --json | tr -d ' \n'; }
review() { show "$1" | sed -n 's/.*"review":{[^}]*"status":"\([a-z]*\)".*/\1/p'; }
split_of() { show "$1" | sed -n 's/.*"split":"\([a-z]*\)".*/\1/p'; }
has() { show "$1" | grep -q -- "$2"; }

orig4_split=$(split_of "$(ex 4)")
orig4=$(show "$(ex 4)" | sed -n 's/.*"expectedJson":\({[^}]*}\).*/\1/p')

start_console --signature SelectTool.v1 --pane examples
wait_for "labeled 0/34 (accepted 0, rejected 0)"
wait_for '! none  @ tool/identity_update'
# the status line names the value keys; digits stay pane keys
wait_for '!@#\$%^&\*( label-1..9'

keys a; wait_for "labeled 1/34 (accepted 1, rejected 0)"
keys x; wait_for "labeled 2/34 (accepted 1, rejected 1)"
type_text '!'; wait_for "labeled 3/34 (accepted 2, rejected 1)"
keys s; wait_for "split := "
type_text '@'; wait_for "labeled 4/34 (accepted 3, rejected 1)"
keys Space
keys a; wait_for "labeled 5/34 (accepted 4, rejected 1)"
wait_for "undo 6"

[ "$(review "$(ex 1)")" = accepted ] || fail "example 1 not accepted in the store"
[ "$(review "$(ex 2)")" = rejected ] || fail "example 2 not rejected in the store"
has "$(ex 3)" '"expectedJson":{"action":"none"}' || fail "example 3 expected is not value 1"
has "$(ex 4)" '"toolName":"identity_update"' || fail "example 4 expected is not value 2"
[ "$(split_of "$(ex 4)")" != "$orig4_split" ] || fail "example 4 split did not change"
[ -z "$(review "$(ex 5)")" ] || fail "skipped example 5 was written"
[ "$(review "$(ex 6)")" = accepted ] || fail "example 6 not accepted"
dse examples show --signature SelectTool.v1 --id "$(ex 1)" --json | grep -q '"by": "tester@' ||
  fail "the review does not record the actor"

# undo, three levels: accept of 6, value 2 of 4, the split of 4
keys u; wait_for "labeled 4/34 (accepted 3, rejected 1)"
[ -z "$(review "$(ex 6)")" ] || fail "undo did not restore example 6"
keys u; wait_for "labeled 3/34 (accepted 2, rejected 1)"
has "$(ex 4)" "\"expectedJson\":$orig4" || fail "undo did not restore example 4's expected output"
keys u; wait_for "undo 3"
wait_cmd 5 sh -c "[ \"\$(dse() { \"$DSE_BIN\" --db \"$DB\" \"\$@\"; }; dse examples show --signature SelectTool.v1 --id '$(ex 4)' --json | tr -d ' \n' | sed -n 's/.*\"split\":\"\([a-z]*\)\".*/\1/p')\" = '$orig4_split' ]"
[ "$(review "$(ex 1)")" = accepted ] || fail "undo went too far"

# the command log holds the equivalent CLI commands
keys L; wait_for "command log"
wait_for "examples put --signature"
keys q

quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: labeling with undo"
