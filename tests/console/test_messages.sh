#!/bin/sh
# Messages (issue 10): a message never goes on a timer; the first key
# pressed once it has been on screen for a second clears it — and every
# message is kept in a time-stamped history that L shows (newest first, with
# the commands run); q or Esc closes it.  The history is sanitised like the
# message line.
. "$(dirname "$0")/lib.sh"
prepare_store

start_console --signature SelectTool.v1 --pane receipts
wait_for "Receipts · SelectTool.v1"

type_text ':nosuch'; keys Enter; wait_for "unknown command 'nosuch'"
# no timer: still there a while later (past the one second it is kept)
sleep 1.5; capture; grep -q "unknown command 'nosuch'" "$T/screen.txt" || fail "the message went by itself"
# the next key clears it
keys j; wait_gone "unknown command 'nosuch'"

# an untrusted word in a message (a bidi override typed at the prompt)
type_text ":pane $(printf '\342\200\256')evil"; keys Enter; wait_for "unknown pane '<U+202E>evil'"
keys f; wait_for "result filter: Error"
wait_gone "unknown pane"

keys L; wait_for "messages & command log"
# newest first, each with date and time
wait_for "20[0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]  info   result filter: Error"
wait_for "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]  error  unknown pane '<U+202E>evil'"
wait_for "[0-2][0-9]:[0-5][0-9]:[0-5][0-9]  error  unknown command 'nosuch'"
capture
grep -q "$(printf '\342\200\256')" "$T/screen.txt" && fail "a raw bidi override reached the screen"
l1=$(grep -n "result filter: Error" "$T/screen.txt" | head -n 1 | cut -d: -f1)
l2=$(grep -n "unknown command 'nosuch'" "$T/screen.txt" | head -n 1 | cut -d: -f1)
[ "$l1" -lt "$l2" ] || fail "the history is not newest first"
keys Escape; wait_gone "messages & command log"
wait_for "Receipts · SelectTool.v1"
keys L; wait_for "messages & command log"
keys q; wait_gone "messages & command log"
[ ! -e "$T/exit.txt" ] || fail "q in the history quit the console"
wait_for "Receipts · SelectTool.v1"

quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: messages clear on the next key; L shows their history"
