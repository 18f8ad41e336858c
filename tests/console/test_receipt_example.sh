#!/bin/sh
# "Make this an example" from a receipt (E in the receipts pane): the new
# row keeps its provenance in meta {receiptId, compiled_id, source:
# "receipt"} and goes to train; an input that already exists in holdout is
# refused with the reason (it would leak holdout into training); a receipt
# without an input says why it cannot be used.
. "$(dirname "$0")/lib.sh"
prepare_store

dse examples list --signature SelectTool.v1 --split holdout --limit 1 --json | tr -d '\n' > "$T/h.json"
HID=$(sed -n 's/.*"exampleId": *"\([^"]*\)".*/\1/p' "$T/h.json")
HIN=$(dse examples show --signature SelectTool.v1 --id "$HID" --json | tr -d '\n' |
      sed -n 's/.*"inputJson": *\({ *"blueprintHint": *{[^}]*}, *"message": *"[^"]*" *}\).*/\1/p')
[ -n "$HIN" ] || fail "could not read a holdout input"

receipt() { # id createdAt input-json
  cat <<JSON
{"threadId":"t-$1","runId":"r-$1","receipt":{"format":"openagents.dse.predict_receipt","formatVersion":1,
 "receiptId":"$1","runId":"$1","createdAt":"$2","signatureId":"@openagents/autopilot/blueprint/SelectTool.v1",
 "compiled_id":"sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525","strategyId":"direct.v1",
 "timing":{"startedAtMs":1,"endedAtMs":2,"durationMs":1},$3
 "result":{"_tag":"Ok"}}}
JSON
}
receipt rcpt-leak 2026-11-28T07:00:00.000Z "\"input\":$HIN,\"output\":{\"action\":\"none\"}," > "$T/r1.json"
receipt rcpt-new 2026-11-28T07:00:01.000Z '"input":{"blueprintHint":{"userHandle":"Kim","agentName":"Autopilot"},"message":"please call me Kimberly from now on"},"output":{"action":"tool","toolName":"user_update"},' > "$T/r2.json"
receipt rcpt-bare 2026-11-28T07:00:02.000Z "" > "$T/r3.json"
record_receipts "$T/r1.json" "$T/r2.json" "$T/r3.json"

start_console --signature SelectTool.v1 --pane receipts
wait_for "rcpt-bar"
# newest first: rcpt-bare, rcpt-new, rcpt-leak
keys E; wait_for "carries no input"
keys j; keys E; wait_for "example receipt-rcpt-new added to train"
keys j; keys E; wait_for "refused: adding it to train would leak holdout into training"

dse examples show --signature SelectTool.v1 --id receipt-rcpt-new --json | tr -d ' \n' > "$T/new.json"
grep -q '"split":"train"' "$T/new.json" || fail "new example is not in train"
grep -q '"receiptId":"rcpt-new"' "$T/new.json" || fail "no receiptId provenance"
grep -q '"source":"receipt"' "$T/new.json" || fail "no source provenance"
grep -q '"compiled_id":"sha256:a76900eb' "$T/new.json" || fail "no compiled_id provenance"
grep -q '"expectedJson":{"action":"tool","toolName":"user_update"}' "$T/new.json" || fail "wrong expected"
dse examples show --signature SelectTool.v1 --id receipt-rcpt-leak --json 2>/dev/null | grep -q '"exampleId"' &&
  fail "the holdout input was added"
# a second E on the same receipt is refused as a duplicate
keys k; keys E; wait_for "refused: this input is already example receipt-rcpt-new"
quit_console
echo "ok: receipt -> example with provenance and the leakage guard"
