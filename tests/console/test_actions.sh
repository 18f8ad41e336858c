#!/bin/sh
# Operator actions from the console, each confirmed and echoed as the
# equivalent CLI command: c compile (live progress, console responsive),
# p promote through the holdout gate (the measured numbers shown), C canary
# start (rollout prompt; a refusal shows the gate's numbers) and C canary
# stop; the store agrees after each.
. "$(dirname "$0")/lib.sh"
prepare_store
active() { dse active show --signature SelectTool.v1 --json | tr -d ' \n' | sed -n 's/.*"compiled_id":"\([^"]*\)".*/\1/p'; }

start_console --signature SelectTool.v1 --pane compile
wait_for "no compile reports"

# compile: confirmation, background progress, result and the report row
keys c; wait_for "compile SelectTool.v1: optimizer "
wait_for "\[y/N\]"
keys y
wait_for "compiled SelectTool.v1: sha256:" 120
wait_for "\$ dse compile --signature"
wait_for "TRAIN REWARD"
CID=$(dse compile --signature SelectTool.v1 --json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"compiled_id":"\([^"]*\)".*/\1/p')
[ -n "$CID" ] || fail "no compile report in the store"
SHORT=$(echo "$CID" | cut -c1-15)

# the console stays responsive while a job runs: compile again (the report
# exists, so it is quick) and switch panes meanwhile
keys c; wait_for "\[y/N\]"; keys y
keys 3; wait_for "History · SelectTool.v1"
keys 5; wait_for "already compiled: report reused" 60

# promote: gate numbers in the result; the pointer moved
keys p; wait_for "promote SelectTool.v1: (none) -> $SHORT"
keys y
wait_for "promoted SelectTool.v1: (none) -> $SHORT (baseline 0.0000 candidate 0." 120
[ "$(active)" = "$CID" ] || fail "the pointer is '$(active)', want $CID"

# canary start: rollout prompt, then the gate refuses (candidate == control)
keys C; wait_for "canary SelectTool.v1 rollout % for $SHORT: 20"
keys Enter; wait_for "start canary SelectTool.v1: $SHORT at 20% of threads"
keys y
wait_for "canary start refused: insufficient_improvement: baseline=0.6800 candidate=0.6800" 120
dse canary status --signature SelectTool.v1 --json | tr -d ' \n' | grep -q '"canary":null' ||
  fail "a refused canary was started"

# canary stop: start one from the CLI (gate skipped), stop it from the console
dse canary start --signature SelectTool.v1 --compiled-id "$CID" --pct 30 --skip-gate >/dev/null
keys 4; wait_for "at 30% of threads"
keys C; wait_for "stop canary SelectTool.v1: $SHORT at 30%"
keys y; wait_for "canary stopped for SelectTool.v1"
wait_for "console canary s"
dse canary status --signature SelectTool.v1 --json | tr -d ' \n' | grep -q '"canary":null' ||
  fail "the canary is still running"
dse canary history --signature SelectTool.v1 --json | tr -d ' \n' | grep -q '"action":"stop"' ||
  fail "no stop row in the canary history"

# the command log: every write as a dse command (L shows it with the
# messages, :log alone)
type_text ':log'; keys Enter; wait_for "command log"
wait_for "\$ dse --db $DB compile --signature"
wait_for "promote --signature @openagents/autopilot/blueprint/Select"
wait_for "--compiled-id $CID"
wait_for "canary stop --signature"
keys q
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: compile, promote, canary from the console"
