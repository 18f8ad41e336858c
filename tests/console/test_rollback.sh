#!/bin/sh
# One-key rollback: R shows the confirmation computed with the reference §4
# rule (from -> to, when and by whom the target was set); anything but y
# cancels and writes nothing; y rolls back (dse/active:rollbackActive), the
# history pane shows the new row and the store agrees; a second rollback
# toggles back.  With --read-only R is refused and A cannot arm writes.
. "$(dirname "$0")/lib.sh"
prepare_demo

hist() { dse active history --signature SelectTool.v1 --json | tr -d ' \n'; }
active() { dse active show --signature SelectTool.v1 --json | tr -d ' \n' | sed -n 's/.*"compiled_id":"\([^"]*\)".*/\1/p'; }
rows() { hist | grep -o '"action":"[a-z_]*"' | wc -l; }

A0=$(active)                       # promoted by the demo
PREV=$(hist | sed -n 's/.*"action":"set","fromCompiledId":"\([^"]*\)".*/\1/p' | head -n 1)
[ -n "$A0" ] && [ -n "$PREV" ] || fail "demo store has no promote history"
short() { echo "$1" | cut -c1-15; }
n0=$(rows)

start_console --signature SelectTool.v1 --pane history
wait_for "History · SelectTool.v1"
wait_for "promote"

# R, then anything but y: nothing happens
keys R
wait_for "rollback SelectTool.v1: $(short "$A0")… -> $(short "$PREV")… (set "
wait_for "by tester@"
wait_for "\[y/N\]"
keys n; wait_for "cancelled"
[ "$(rows)" = "$n0" ] || fail "a cancelled rollback wrote history"
[ "$(active)" = "$A0" ] || fail "a cancelled rollback moved the pointer"

# R y: rolled back; the new row shows up and is in the store
keys R; wait_for "\[y/N\]"
keys y; wait_for "rolled back SelectTool.v1"
wait_for "rollback --signature"
wait_for "console roll"
[ "$(active)" = "$PREV" ] || fail "pointer is $(active), want $PREV"
[ "$(rows)" = "$((n0 + 1))" ] || fail "no new history row"
hist | grep -q "^{\"ok\":true,\"history\":\[{\"signatureId\":\"[^\"]*\",\"action\":\"rollback\",\"fromCompiledId\":\"$A0\",\"toCompiledId\":\"$PREV\"" ||
  fail "newest history row is not the rollback: $(hist | cut -c1-300)"

# a second rollback toggles back (the store's rule is not a stack)
keys R; wait_for "rollback SelectTool.v1: $(short "$PREV")… -> $(short "$A0")…"
keys y; wait_for "rolled back SelectTool.v1: $(echo "$PREV" | cut -c1-15) -> $(echo "$A0" | cut -c1-15)"
[ "$(active)" = "$A0" ] || fail "second rollback did not toggle back"
quit_console

# --read-only: refused, and A cannot arm it (a remote store, read-only by
# default, is armed in test_remote.sh)
start_console --read-only --signature SelectTool.v1 --pane history
wait_for "READ-ONLY"
keys R; wait_for "read-only: rollback refused (the console was started with --read-only)"
[ "$(active)" = "$A0" ] || fail "read-only console moved the pointer"
keys A; wait_for "cannot arm: this console was started with --read-only"
keys R; wait_for "read-only: rollback refused"
capture; grep -q "ARMED\|\[y/N\]" "$T/screen.txt" && fail "a --read-only console was armed"
[ "$(active)" = "$A0" ] || fail "read-only console moved the pointer"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: rollback"
