#!/bin/sh
# dse serve over HTTP with curl: every route family, auth, limits, hostile
# requests, a slow client, a server killed mid-session, graceful stop.
. "$DSE_SRCDIR/tests/server/common.sh"

# ---- refusals at start-up ----
if "$DSE_BIN" --db "$tmp/x.db" serve --listen 0.0.0.0:0 >/dev/null 2>"$tmp/msg"; then
  fail "serve on 0.0.0.0 without --tokens started"
fi
grep -q "without --tokens" "$tmp/msg" || fail "no clear refusal: $(cat "$tmp/msg")"
printf 'admin %s\nwrite %s\n' "$ADMIN" "$READ" >"$tmp/badtokens"
if "$DSE_BIN" --db "$tmp/x.db" serve --tokens "$tmp/badtokens" >/dev/null 2>"$tmp/msg"; then
  fail "serve started with a bad tokens file"
fi
grep -q "badtokens:2: role must be read, ingest or admin" "$tmp/msg" || fail "bad line not named: $(cat "$tmp/msg")"
grep -qF "$READ" "$tmp/msg" && fail "a token was echoed"

start_server --tokens "$tmp/tokens" --timeout 3 --max-body 65536

# ---- health, headers ----
code=$(curl -sS -D "$tmp/hdr" -o "$tmp/body" -w '%{http_code}' "$url/healthz")
expect 200 '"ok":true'
grep -qi '^cache-control: no-store' "$tmp/hdr" || fail "healthz lacks cache-control: no-store"

# ---- auth ----
Q='{"path":"dse/active:getActive","args":{"signatureId":"S"},"format":"json"}'
call query - "$Q"; expect 401 unauthorized
call query "wrong-$(rand_hex 16)" "$Q"; expect 401 unauthorized
call query "$(printf %s "$ADMIN" | cut -c1-20)" "$Q"; expect 401
call query "${ADMIN}x" "$Q"; expect 401
call query "" "$Q"; expect 401
big=$(head -c 10240 /dev/zero | tr '\0' 'a')
call query "$big" "$Q"; expect 401
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Basic $ADMIN" \
  --data-binary "$Q" "$url/api/query")
expect 401
call query "$READ" "$Q"; expect 200 '"status":"success"' '"compiled_id":null' '"logLines":[]'
call query "$ADMIN" "$Q"; expect 200 '"status":"success"'

# ---- functions: kinds and roles ----
# A function that fails or is refused answers 560 (Convex's "the function
# failed") with errorData.code; a malformed request stays a plain 400.
ART='{"path":"dse/artifacts:putArtifact","args":{"signatureId":"S","compiled_id":"c1","json":{"compiled_id":"c1","v":1}}}'
call mutation "$READ" "$ART"; expect 560 '"status":"error"' '"code":"forbidden"' '"logLines":[]'
call query "$ADMIN" "$ART"; expect 560 "invalid_input" "/api/mutation" '"code":"invalid_input"'
call mutation "$ADMIN" "$ART"; expect 200 '"existed":false'
call action "$ADMIN" "$ART"; expect 200 '"existed":true'
call mutation "$READ" '{"path":"dse/artifacts:getArtifact","args":{"signatureId":"S","compiled_id":"c1"}}'
expect 200 '"artifact":{' '"v":1'
call query "$READ" '{"path":"dse/nope:nothing","args":{}}'; expect 560 unknown_function
call query "$READ" '{"path":"dse/artifacts:getArtifact","args":{"signatureId":"S","compiled_id":"nope"}}'
expect 200 '"artifact":null'
call mutation "$ADMIN" '{"path":"dse/active:setActive","args":{"signatureId":"S","compiled_id":"nope"}}'
expect 560 '"errorMessage":"artifact_not_found' '"code":"artifact_not_found"'
call query "$READ" '{"path":"dse/active:getActive","args":[]}'; expect 400 invalid_input
call query "$READ" '{"path":"dse/active:getActive","args":[{"signatureId":"S"},{}]}'
expect 400 invalid_input
call query "$READ" '{"args":{}}'; expect 400 invalid_input
call query "$READ" '{"path":"dse/active:getActive","args":{},"format":"xml"}'; expect 400
# what ConvexHttpClient sends: args as a one-element array, convex_encoded_json
call query "$READ" '{"path":"dse/artifacts:getArtifact","format":"convex_encoded_json","args":[{"signatureId":"S","compiled_id":"c1"}]}'
expect 200 '"artifact":{' '"v":1'
call query "$READ" '{"path":"dse/artifacts:listArtifacts","format":"convex_encoded_json","args":[{"signatureId":"S","limit":{"$integer":"AQAAAAAAAAA="}}]}'
expect 200 '"compiled_id":"c1"'
call query "$READ" '{"path":"dse/artifacts:listArtifacts","format":"convex_encoded_json","args":[{"signatureId":"S","limit":{"$float":"AAAAAAAA8H8="}}]}'
expect 560 invalid_input "Infinity"
call query "$READ" '{"path":"dse/artifacts:listArtifacts","format":"convex_encoded_json","args":[{"signatureId":"S","limit":{"$integer":"AAAAAAAAAEA="}}]}'
expect 560 invalid_input "does not fit"
call query "$READ" '{"path":"dse/artifacts:getArtifact","format":"convex_encoded_json","args":[{"signatureId":{"$bytes":"AAE="},"compiled_id":"c1"}]}'
expect 560 invalid_input "bytes"
call query "$READ" '{"path":"dse/artifacts:getArtifact","format":"convex_encoded_json","args":[{"signatureId":{"$set":[]},"compiled_id":"c1"}]}'
expect 400 invalid_input "reserves"
call query "$READ" '{"path":"dse/artifacts:getArtifact","format":"convex_encoded_json","args":[{"signatureId":{"$integer":5},"compiled_id":"c1"}]}'
expect 400 invalid_input "base64"
call query "$READ" '{"path":"dse/active:getActive","args":{"signatureId":' ; expect 400 invalid_json
call query "$READ" '{"path":"dsex/meta:info","args":{}}'; expect 200 '"extensions":['

# ---- bodies: size and depth ----
deep=$(head -c 1001 /dev/zero | tr '\0' '[')$(head -c 1001 /dev/zero | tr '\0' ']')
call query "$READ" "$deep"; expect 400 invalid_json "1000"
ok=$(head -c 999 /dev/zero | tr '\0' '[')$(head -c 999 /dev/zero | tr '\0' ']')
call query "$READ" "{\"path\":\"dse/active:getActive\",\"args\":{\"signatureId\":\"S\"},\"x\":$ok}"
expect 200
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/huge"
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $READ" \
  --data-binary @"$tmp/huge" "$url/api/query")
expect 413 too_large
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $READ" \
  -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/huge" "$url/api/query")
expect 413 too_large

# ---- routes and methods ----
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" "$url/api/query")
expect 405 "Method not allowed"
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST "$url/healthz")
expect 405 "Method not allowed"
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" "$url/api/other")
expect 404 not_found
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' "$url/")
expect 404

# ---- receipt and blob routes ----
call mutation "$ADMIN" '{"path":"dse/blobs:putText","args":{"threadId":"t1","runId":"run1","text":"trace line 1\ntrace line 2"}}'
expect 200 '"blob":{'
blob=$(sed -n 's/.*"id":"\(sha256:[0-9a-f]*\)".*/\1/p' "$tmp/body")
[ -n "$blob" ] || fail "no blob id in $(cat "$tmp/body")"
call mutation "$ADMIN" '{"path":"dse/receipts:recordPredictReceipt","args":{"threadId":"t1","runId":"run1","receipt":{"receiptId":"rcpt-1","signatureId":"S","compiled_id":"c1","result":{"_tag":"Ok"}}}}'
expect 200 '"existed":false'
code=$(curl -sS -D "$tmp/hdr" -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/rcpt-1")
expect 200 '"ok":true' '"receiptId":"rcpt-1"' '"threadId":"t1"' '"runId":"run1"' '"createdAtMs":'
grep -qi '^cache-control: no-store' "$tmp/hdr" || fail "receipt route lacks cache-control"
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/missing")
expect 200 '"receipt":null'
code=$(curl -sS -D "$tmp/hdr" -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/blob/rcpt-1/$blob")
expect 200
printf 'trace line 1\ntrace line 2' | cmp -s - "$tmp/body" || fail "blob body differs"
grep -qi '^content-type: text/plain' "$tmp/hdr" || fail "blob is not text/plain"
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/blob/rcpt-1/sha256:0000")
expect 404 blob_not_found
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/blob/nope/$blob")
expect 404 receipt_not_found
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' "$url/api/dse/receipt/rcpt-1")
expect 401
code=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/rcpt-1")
expect 405

# ---- a client sending one byte a second is cut off; others are served ----
port=${url##*:}
bash -c '
  trap "" PIPE
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 2
  i=0
  while [ $i -lt 30 ]; do
    printf "P" >&3 2>/dev/null || { echo cut; exit 0; }
    sleep 1; i=$((i + 1))
  done
  echo "still open"' trickle "$port" >"$tmp/trickle" 2>&1 &
tpid=$!
n=0
while [ $n -lt 5 ]; do
  call query "$READ" "$Q"; expect 200
  sleep 0.2
  n=$((n + 1))
done
i=0
while kill -0 "$tpid" 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill "$tpid" 2>/dev/null || true
wait "$tpid" 2>/dev/null || true
grep -q '^cut$' "$tmp/trickle" || fail "slow client was not cut off: $(cat "$tmp/trickle")"
grep -q 'sent no complete request' "$tmp/err" || fail "no log line for the cut-off client"

# ---- the access log: function paths, statuses, never a token ----
grep -q 'POST /api/query dse/active:getActive 200 ' "$tmp/err" || fail "no access log line"
grep -q 'POST /api/mutation dse/artifacts:putArtifact 560 ' "$tmp/err" || fail "no 560 log line"
grep -q 'token:viewer' "$tmp/err" || fail "access log lacks the token name"
if grep -qF "$ADMIN" "$tmp/err" || grep -qF "$READ" "$tmp/err"; then fail "a token reached the log"; fi

# ---- the CLI through --remote; server killed mid-session and back ----
# ops runs are ops-admin functions: a read token is refused, clearly
DSE_TOKEN="$READ" "$DSE_BIN" --remote "$url" --json runs >"$tmp/cli" 2>"$tmp/cli.err" &&
  fail "a read token listed ops runs"
grep -q "forbidden: dse/opsRuns:listRuns needs an admin token" "$tmp/cli.err" ||
  fail "unclear refusal: $(cat "$tmp/cli.err")"
export DSE_TOKEN="$ADMIN"
"$DSE_BIN" --remote "$url" --json runs >"$tmp/cli" 2>"$tmp/cli.err" || fail "remote runs: $(cat "$tmp/cli.err")"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
if "$DSE_BIN" --remote "$url" --json runs >"$tmp/cli" 2>"$tmp/cli.err"; then
  fail "remote runs succeeded with the server down"
fi
grep -q "remote_unreachable" "$tmp/cli.err" || fail "no remote_unreachable: $(cat "$tmp/cli.err")"
grep -q "connection refused" "$tmp/cli.err" || fail "unclear message: $(cat "$tmp/cli.err")"
start_server --tokens "$tmp/tokens" --timeout 3 --listen "127.0.0.1:$port"
"$DSE_BIN" --remote "$url" --json runs >"$tmp/cli" 2>"$tmp/cli.err" || fail "remote runs after restart: $(cat "$tmp/cli.err")"
DSE_TOKEN="wrong-$(rand_hex 16)" "$DSE_BIN" --remote "$url" runs >/dev/null 2>"$tmp/cli.err" && fail "wrong token accepted"
grep -q unauthorized "$tmp/cli.err" || fail "no unauthorized: $(cat "$tmp/cli.err")"

# ---- SIGTERM: an upload in flight completes, exit code 0 ----
stop_server
[ "$stop_rc" = 0 ] || fail "exit code $stop_rc after SIGTERM with no requests"
start_server --tokens "$tmp/tokens" --timeout 20 --max-body 200000
pad=$(head -c 80000 /dev/zero | tr '\0' ' ')
printf '{"path":"dse/active:getActive","args":{"signatureId":"S"}%s}' "$pad" >"$tmp/slow"
curl -sS --max-time 30 --limit-rate 20K -o "$tmp/slowbody" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $READ" --data-binary @"$tmp/slow" "$url/api/query" >"$tmp/slowcode" &
cpid=$!
# wait until the upload's connection is up (Linux /proc), then give curl a
# moment to send its headers
hexport=$(printf '%04X' "${url##*:}")
i=0
until awk -v p=":$hexport" '$4 == "01" && (index($2, p) || index($3, p)) { f = 1 } END { exit !f }' \
  /proc/net/tcp 2>/dev/null; do
  i=$((i + 1))
  [ $i -lt 200 ] || fail "the slow upload never connected"
  sleep 0.05
done
sleep 0.5
stop_server
wait "$cpid" || fail "in-flight client failed"
[ "$stop_rc" = 0 ] || fail "exit code $stop_rc after SIGTERM"
[ "$(cat "$tmp/slowcode")" = 200 ] || fail "in-flight request got $(cat "$tmp/slowcode")"
grep -q '"status":"success"' "$tmp/slowbody" || fail "in-flight request body: $(cat "$tmp/slowbody")"
grep -q 'stopped' "$tmp/err" || fail "no stop line in the log"
echo "ok: http"
