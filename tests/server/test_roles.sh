#!/bin/sh
# Token roles of `dse serve` (server.h "Roles"), each against representative
# functions: admin everything; read every query but dse/opsRuns:* and the
# *Admin functions; ingest only recordPredictReceipt, recordBatch, putText
# (and dsex/meta:info); no token only with --public-queries and only the
# reference's public queries.  A refusal is a function error: HTTP 560,
# errorData.code forbidden; no or a bad token is 401.  Then the CLI over
# --remote with a read token still shows a receipt and its blob (the *Admin
# reads fall back to the thread-owner functions) and is refused ops runs.
. "$(dirname "$0")/common.sh"

INGEST="ing-$(rand_hex 16)"
printf 'ingest %s runtime\n' "$INGEST" >>"$tmp/tokens"

# forbid KIND TOKEN BODY [TEXT...]: the call is refused as a function error
forbid() {
  call "$1" "$2" "$3"
  shift 3
  expect 560 '"status":"error"' '"code":"forbidden"' "$@"
}

# ---- without --public-queries every call needs a token ----
start_server --tokens "$tmp/tokens"
CAN='{"path":"dse/canary:getCanary","args":{"signatureId":"S"}}'
call query - "$CAN"; expect 401 unauthorized
call query "$READ" "$CAN"; expect 200 '"canary":null'
forbid query "$INGEST" "$CAN" "ingest"

# ---- admin: everything ----
call mutation "$ADMIN" '{"path":"dse/artifacts:putArtifact","args":{"signatureId":"S","compiled_id":"c1","json":{"compiled_id":"c1"}}}'
expect 200 '"existed":false'
call mutation "$ADMIN" '{"path":"dse/opsRuns:startRun","args":{"runId":"run-1"}}'; expect 200 '"runId":"run-1"'
call query "$ADMIN" '{"path":"dse/opsRuns:listRuns","args":{}}'; expect 200 '"runId":"run-1"'

# ---- ingest: records receipts and blobs, nothing else ----
REC='{"path":"dse/receipts:recordPredictReceipt","args":{"threadId":"t1","runId":"r1","receipt":{"receiptId":"rc-1","signatureId":"S","compiled_id":"c1","result":{"_tag":"Ok"}}}}'
call mutation "$INGEST" "$REC"; expect 200 '"existed":false'
call mutation "$INGEST" '{"path":"dsex/receipts:recordBatch","args":{"items":[{"threadId":"t1","runId":"r1","receipt":{"receiptId":"rc-2","signatureId":"S","compiled_id":"c1","result":{"_tag":"Ok"}}}]}}'
expect 200 '"recorded":1'
call mutation "$INGEST" '{"path":"dse/blobs:putText","args":{"threadId":"t1","runId":"r1","text":"trace"}}'
expect 200 '"blob":{'
blob=$(sed -n 's/.*"id":"\(sha256:[0-9a-f]*\)".*/\1/p' "$tmp/body")
[ -n "$blob" ] || fail "no blob id in $(cat "$tmp/body")"
call query "$INGEST" '{"path":"dsex/meta:info","args":{}}'; expect 200 '"extensions":['
forbid query "$INGEST" '{"path":"dse/examples:getExample","args":{"signatureId":"S","exampleId":"e"}}'
forbid mutation "$INGEST" '{"path":"dse/artifacts:putArtifact","args":{"signatureId":"S","compiled_id":"c2","json":{}}}'
forbid mutation "$INGEST" '{"path":"dse/varSpace:putJson","args":{"threadId":"t1","runId":"r1","name":"x","value":1}}'
forbid query "$INGEST" '{"path":"dsex/receipts:page","args":{}}'
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $INGEST" \
  "$url/api/dse/receipt/rc-1")
expect 403 forbidden

# ---- read: queries, but no ops runs and no *Admin functions ----
forbid mutation "$READ" "$REC"
forbid query "$READ" '{"path":"dse/opsRuns:listRuns","args":{}}' "ops admin"
forbid query "$READ" '{"path":"dse/opsRuns:getRun","args":{"runId":"run-1"}}'
forbid query "$READ" '{"path":"dse/receipts:getPredictReceiptByReceiptIdAdmin","args":{"receiptId":"rc-1"}}'
forbid query "$READ" '{"path":"dse/receipts:listPredictReceiptsBySignatureIdAdmin","args":{"signatureId":"S"}}'
forbid query "$READ" "{\"path\":\"dse/blobs:getTextAdmin\",\"args\":{\"threadId\":\"t1\",\"runId\":\"r1\",\"blobId\":\"$blob\"}}"
call query "$READ" '{"path":"dse/receipts:getPredictReceiptByReceiptId","args":{"receiptId":"rc-1"}}'
expect 200 '"threadId":"t1"'
call query "$READ" "{\"path\":\"dse/blobs:getText\",\"args\":{\"threadId\":\"t1\",\"runId\":\"r1\",\"blobId\":\"$blob\"}}"
expect 200 '"text":"trace"'
call query "$READ" '{"path":"dsex/receipts:page","args":{"signatureId":"S"}}'; expect 200 '"receiptId":"rc-2"'
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/rc-1")
expect 200 '"threadId":"t1"'
call query "$ADMIN" '{"path":"dse/receipts:getPredictReceiptByReceiptIdAdmin","args":{"receiptId":"rc-1"}}'
expect 200 '"threadId":"t1"'

# ---- the CLI with a read token: receipt and blob via the owner functions ----
DSE_TOKEN="$READ" "$DSE_BIN" --remote "$url" --json receipt rc-1 >"$tmp/cli" 2>"$tmp/cli.err" ||
  fail "read token: receipt: $(cat "$tmp/cli.err")"
grep -q '"t1"' "$tmp/cli" || fail "receipt output: $(cat "$tmp/cli")"
DSE_TOKEN="$READ" "$DSE_BIN" --remote "$url" blob rc-1 "$blob" >"$tmp/cli" 2>"$tmp/cli.err" ||
  fail "read token: blob: $(cat "$tmp/cli.err")"
grep -q 'trace' "$tmp/cli" || fail "blob output: $(cat "$tmp/cli")"
DSE_TOKEN="$READ" "$DSE_BIN" --remote "$url" runs >"$tmp/cli" 2>"$tmp/cli.err" &&
  fail "read token listed ops runs"
grep -q forbidden "$tmp/cli.err" || fail "runs refusal: $(cat "$tmp/cli.err")"
DSE_TOKEN="$ADMIN" "$DSE_BIN" --remote "$url" --json runs >"$tmp/cli" 2>"$tmp/cli.err" ||
  fail "admin runs: $(cat "$tmp/cli.err")"
grep -q 'run-1' "$tmp/cli" || fail "admin runs output: $(cat "$tmp/cli")"
stop_server

# ---- --public-queries: the reference's public queries need no token ----
start_server --tokens "$tmp/tokens" --public-queries
call query - "$CAN"; expect 200 '"canary":null'
call query - '{"path":"dse/artifacts:getArtifact","args":{"signatureId":"S","compiled_id":"c1"}}'
expect 200 '"compiled_id":"c1"'
call query - '{"path":"dse/artifacts:listArtifacts","args":{"signatureId":"S"}}'; expect 200 '"c1"'
call query - '{"path":"dse/active:getActive","args":{"signatureId":"S"}}'; expect 200 '"compiled_id":null'
call query - '{"path":"dse/active:listActiveHistory","args":{"signatureId":"S"}}'; expect 401 unauthorized
call query - '{"path":"dse/examples:getExample","args":{"signatureId":"S","exampleId":"e"}}'; expect 401
call mutation - "$REC"; expect 401 unauthorized
call query "wrong-$(rand_hex 16)" "$CAN"; expect 401 unauthorized
call query "$INGEST" "$CAN"; expect 200 '"canary":null'
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' "$url/api/dse/receipt/rc-1")
expect 401
grep -q 'dse/canary:getCanary 200 .* public$' "$tmp/err" || fail "no public caller in the access log"
"$DSE_BIN" serve --help 2>&1 | grep -q -- "--public-queries" || fail "serve --help lacks --public-queries"
echo "ok: roles (admin, read, ingest, public queries)"
