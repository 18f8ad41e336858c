#!/bin/sh
# Who serves traffic after an operator action, said truthfully in the
# confirmation (reference §3 routing, §4 rollback; src/predict.c):
#  - R while a canary runs: the pointer moves, but the canary routes by its
#    own canary/control ids, so the prompt says the canary and its control
#    keep serving and the new pointer serves only once the canary stops;
#  - C (stop) after that: routing falls back to the active pointer, which
#    is now NOT the control pinned in the canary row: the prompt says so;
#  - R with no canary: the rollback target serves.
. "$(dirname "$0")/lib.sh"
prepare_demo
j() { dse "$@" --json | tr -d ' \n'; }
active() { j active show --signature SelectTool.v1 | sed -n 's/.*"compiled_id":"\([^"]*\)".*/\1/p'; }
# the running canary's ids (the first occurrence: the canary row)
field() { dse canary status --signature SelectTool.v1 --json | sed -n "s/^ *\"$1\": \"\([^\"]*\)\".*/\1/p" | head -n 1; }
A0=$(active)
CAN=$(field canary_compiled_id)
CTL=$(field control_compiled_id)
[ -n "$CAN" ] && [ "$CTL" = "$A0" ] || fail "demo store: no running canary on the active control ($CAN / $CTL / $A0)"
PREV=$(j active history --signature SelectTool.v1 | sed -n 's/.*"action":"set","fromCompiledId":"\([^"]*\)".*/\1/p' | head -n 1)
s8() { echo "$1" | cut -c1-15; }   # sha256:1a2b3c4d
h8() { echo "$1" | cut -c8-15; }   # 1a2b3c4d

start_console --signature SelectTool.v1 --pane overview
wait_for "Overview · SelectTool.v1"

# rollback while the canary runs
keys R
wait_for "\[y/N\]"
wait_for "canary $(h8 "$CAN") (50%) and its control $(h8 "$CTL") keep serving; $(h8 "$PREV") (previous active) serves once the canary stops"
keys y
wait_for "rolled back SelectTool.v1"
[ "$(active)" = "$PREV" ] || fail "the rollback did not move the pointer"

# stop the canary: the pointer (PREV) serves, not the control
keys C
wait_for "\[y/N\]"
wait_for "after the stop traffic goes to the active pointer $(h8 "$PREV"), NOT the canary control $(h8 "$CTL") (the pointer moved)"
keys y
wait_for "canary stopped for SelectTool.v1"

# rollback with no canary: the target serves
keys R
wait_for "\[y/N\]"
wait_for "after the rollback traffic will be served by $(s8 "$A0") (previous active)"
keys n
wait_for "cancelled"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: rollback and canary stop prompts name the artifact that serves afterwards"
