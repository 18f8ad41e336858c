#!/bin/sh
# Digits 1-8 switch panes everywhere, the examples pane included (issue 10):
# labeling there uses Shift+1..9 (! @ # $ % ^ & * (), shown in the pane's
# legend, in the status line and in its help; a digit never writes.
. "$(dirname "$0")/lib.sh"
prepare_store

start_console --signature SelectTool.v1 --pane examples
wait_for "labeled 0/34 (accepted 0, rejected 0)"
wait_for 'keys      ! none  @ tool/identity_update'
wait_for '!@#\$%^&\*( label-1..9'

# every digit from the examples pane goes to its pane
for d in 1 2 3 4 5 7 8; do
  case $d in
    1) want="Tab next-pane  Enter open  R rollback" ;; 2) want="Overview · SelectTool.v1" ;;
    3) want="History · SelectTool.v1" ;; 4) want="Canary · SelectTool.v1" ;;
    5) want="Compile · SelectTool.v1" ;; 7) want="Receipts · SelectTool.v1" ;;
    8) want="Runs" ;;
  esac
  keys 6; wait_for "Examples · SelectTool.v1"
  keys "$d"; wait_for "$want"
  # 1 focuses the signature list; the examples pane stays shown beside it
  [ "$d" = 1 ] && continue
  capture; grep -q "Examples · SelectTool.v1" "$T/screen.txt" && fail "digit $d did not leave the examples pane"
done
keys 6; wait_for "Examples · SelectTool.v1"
wait_for "labeled 0/34 (accepted 0, rejected 0)"
dse examples list --signature SelectTool.v1 --json | grep -q '"review"' && fail "a digit wrote a label"

# help lists the value keys
keys '?'; wait_for "help: examples"
wait_for "│  *!  *label-1 "
wait_for "│  *(  *label-9 "
wait_for "│  *6  *pane-examples"
keys q; wait_for "Examples · SelectTool.v1"

# and the value keys label
type_text '@'; wait_for "labeled 1/34 (accepted 1, rejected 0)"
wait_for "accepted tool/identity_update"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: digits switch panes in the examples pane; Shift+digit labels"
