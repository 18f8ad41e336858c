#!/bin/sh
# A console started with --read-only stays read-only (issue 10): A (and
# :arm) refuse with a visible reason instead of arming, the frame keeps
# saying READ-ONLY, no arm hint is offered, and a write is refused and
# leaves the store as it was.
. "$(dirname "$0")/lib.sh"
prepare_store

start_console --read-only --signature SelectTool.v1 --pane examples
wait_for "labeled 0/34 (accepted 0, rejected 0)"
wait_for "\[READ-ONLY\]"
wait_for "started with --read-only\|(--read-only)"
capture; grep -q "A arm" "$T/screen.txt" && fail "the status line offers A arm"

keys A; wait_for "cannot arm: this console was started with --read-only"
capture
grep -q "ARMED" "$T/screen.txt" && fail "A armed a --read-only console"
grep -q "\[READ-ONLY\]" "$T/screen.txt" || fail "the header no longer says READ-ONLY"

type_text ':arm'; keys Enter; wait_for "cannot arm: this console was started with --read-only"
capture; grep -q "ARMED" "$T/screen.txt" && fail ":arm armed a --read-only console"

# a labeling decision is refused, and says why
keys a; wait_for "labeling refused (the console was started with --read-only)"
wait_for "labeled 0/34 (accepted 0, rejected 0)"
dse examples list --signature SelectTool.v1 --json | grep -q '"review"' && fail "a read-only console wrote a label"

quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: --read-only cannot be armed"
