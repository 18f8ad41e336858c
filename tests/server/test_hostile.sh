#!/bin/sh
# Hostile input against `dse serve` (reliability-anchors §7 items 1, 4, 5, 8,
# 9, 10): escape/control/bidi payloads written through the API come back
# byte-identical in meaning; every error body, the access log, and the CLI
# reading the same data over --remote are terminal-safe; depth 1001, \u0000,
# raw controls, oversized bodies and bad tokens are refused with the right
# status; SQL-looking and megabyte-long reasons go through bound parameters.
. "$DSE_SRCDIR/tests/server/common.sh"
. "$DSE_SRCDIR/tests/cli/hostile_lib.sh"

safe_body() { assert_terminal_safe "$tmp/body" "$1" || fail "$1"; }

"$DSE_BIN" --db "$tmp/dse.db" init >/dev/null || fail "init"
start_server --tokens "$tmp/tokens" --max-body 2000000
SIG="@openagents/autopilot/blueprint/SelectTool.v1"

# an artifact to point at, then pointer history with every payload as reason
call mutation "$ADMIN" "{\"path\":\"dse/artifacts:putArtifact\",\"args\":{\"signatureId\":\"$SIG\",\"compiled_id\":\"c1\",\"json\":{}}}"
expect 200 success
n=0
hostile_payloads >"$tmp/payloads"
while IFS=' ' read -r name payload; do
  n=$((n + 1))
  call mutation "$ADMIN" "{\"path\":\"dse/active:setActive\",\"args\":{\"signatureId\":\"$SIG\",\"compiled_id\":\"c1\",\"reason\":\"$name $payload\"}}"
  expect 200 success
done <"$tmp/payloads"
[ "$n" -ge 40 ] || fail "only $n payloads"
call query "$READ" "{\"path\":\"dse/active:listActiveHistory\",\"args\":{\"signatureId\":\"$SIG\",\"limit\":200}}"
expect 200 success "DROP TABLE"
# Success bodies are canonical JSON: controls < 0x20 are escaped, but DEL,
# C1 and bidi characters are sent raw (reported).
safe_body "listActiveHistory success body"

# a megabyte-long SQL-looking reason: stored and read back identically
awk 'BEGIN{for(i=0;i<65536;i++)printf "%s", "x'"'"');DROP TABLE--"}' >"$tmp/mb"
awk -v sig="$SIG" 'BEGIN { getline m <ARGV[1]; printf "{\"path\":\"dse/active:setActive\",\"args\":{\"signatureId\":\"%s\",\"compiled_id\":\"c1\",\"reason\":\"%s\"}}", sig, m }' "$tmp/mb" >"$tmp/mbreq"
code=$(curl -sS --max-time 20 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' --data-binary @"$tmp/mbreq" "$url/api/mutation")
expect 200 success
call query "$READ" "{\"path\":\"dse/active:listActiveHistory\",\"args\":{\"signatureId\":\"$SIG\",\"limit\":1}}"
expect 200 success
awk -v RS='"' 'BEGIN { getline want <ARGV[1]; ARGV[1] = "" } $0 == want { f = 1 } END { exit !f }' "$tmp/mb" "$tmp/body" ||
  fail "megabyte reason not read back identically"

# receipts with hostile ids, error names and messages; read back by id
while IFS=' ' read -r name payload; do
  call mutation "$ADMIN" "{\"path\":\"dse/receipts:recordPredictReceipt\",\"args\":{\"threadId\":\"t-$name$payload\",\"runId\":\"r-$name\",\"receipt\":{\"receiptId\":\"r-$name\",\"signatureId\":\"$SIG\",\"compiled_id\":\"c1\",\"strategyId\":\"direct.v1\",\"result\":{\"_tag\":\"Error\",\"errorName\":\"$payload\",\"message\":\"$payload\"}}}}"
  expect 200 success
  code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" "$url/api/dse/receipt/r-$name")
  expect 200 "\"receiptId\":\"r-$name\""
done <"$tmp/payloads"

# error bodies: every one must be terminal-safe
esc=$(printf '\033')
call query "$READ" '{"path":"dse/no\u001b]0;pwned\u0007:fn\u202e","args":{}}'
expect 560 unknown_function; safe_body "unknown function error body"
call query "$READ" "{\"path\":\"dse/active:getActive\",\"args\":{\"signatureId\":\"a${esc}[2Jb\"}}"
expect 400; safe_body "raw ESC in a string: error body"
call query "$READ" '{"path":"dse/active:getActive","args":{"signatureId":"ab\u0000cd"}}'
expect 400; safe_body "\\u0000 error body"
deep=$(awk 'BEGIN{for(i=0;i<1001;i++)printf "[";for(i=0;i<1001;i++)printf "]"}')
call query "$READ" "{\"path\":\"dse/active:getActive\",\"args\":{\"signatureId\":$deep}}"
expect 400; safe_body "depth 1001 error body"
ok1000=$(awk 'BEGIN{for(i=0;i<998;i++)printf "[";for(i=0;i<998;i++)printf "]"}')  # + 2 enclosing objects = depth 1000
call query "$READ" "{\"path\":\"dse/active:getActive\",\"args\":{\"signatureId\":\"s\",\"x\":$ok1000}}"
expect 200 success
printf '{"path":"x","args":{"s":"\377\376"}}' >"$tmp/inv"
code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $READ" \
  --data-binary @"$tmp/inv" "$url/api/query")
expect 400; safe_body "invalid UTF-8 error body"
call mutation "$ADMIN" "{\"path\":\"dse/active:setActive\",\"args\":{\"signatureId\":\"$SIG\",\"compiled_id\":\"missing\\u001b[2J\\u009b\\u202e\"}}"
expect 560 artifact_not_found; safe_body "artifact_not_found error body"
code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/%1B%5B2J%C2%9B%E2%80%AE")
expect 200 '"receipt":null'; safe_body "receipt not found body"
code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' "$url/%1B%5D0;pwned%07")
expect 404; safe_body "no route error body"
# oversized body: 413 and a clear message
head -c 2100000 /dev/zero | tr '\0' 'a' >"$tmp/big"
code=$(curl -sS --max-time 20 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $READ" \
  --data-binary @"$tmp/big" "$url/api/query")
expect 413 too_large; safe_body "413 body"
# bearer-token edge cases: all 401, bodies safe
for auth in "" "Bearer" "Bearer " "Bearer ${ADMIN%?}" "Basic $ADMIN" "Bearer $ADMIN$ADMIN" \
            "Bearer $(printf '%010240d' 0)" "Bearer ${esc}[2J"; do
  code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: $auth" \
    --data-binary '{"path":"dse/active:getActive","args":{"signatureId":"s"}}' "$url/api/query")
  expect 401; safe_body "401 body"
done

# the CLI reading the hostile data over --remote
export DSE_TOKEN="$READ"
"$DSE_BIN" --remote "$url" receipts --limit 200 >"$tmp/cli" 2>&1 || fail "remote receipts: $(tail -n 3 "$tmp/cli")"
assert_terminal_safe "$tmp/cli" "dse --remote receipts" || fail "remote receipts output"
grep -q "r-csi-2J" "$tmp/cli" || fail "remote receipts lists no hostile receipt"
"$DSE_BIN" --remote "$url" receipt r-osc0 >"$tmp/cli" 2>&1 || fail "remote receipt: $(tail -n 3 "$tmp/cli")"
assert_terminal_safe "$tmp/cli" "dse --remote receipt" || fail "remote receipt output"
"$DSE_BIN" --remote "$url" --json receipt r-rlo >"$tmp/cli" 2>&1 || fail "remote receipt --json"
assert_terminal_safe "$tmp/cli" "dse --remote --json receipt" || fail "remote receipt --json output"
"$DSE_BIN" --remote "$url" active history --signature "$SIG" --limit 60 >"$tmp/cli" 2>&1 || fail "remote history: $(tail -n 3 "$tmp/cli")"
assert_terminal_safe "$tmp/cli" "dse --remote active history" || fail "remote history output"
"$DSE_BIN" --remote "$url" receipt "nope$(printf '\033')[2J" >"$tmp/cli" 2>&1 && fail "missing receipt should fail"
assert_terminal_safe "$tmp/cli" "dse --remote receipt (not found, stderr)" || fail "remote error output"

stop_server
[ "$stop_rc" = 0 ] || fail "serve exit $stop_rc"
# the access log (stderr here) quotes request paths: terminal-safe
assert_terminal_safe "$tmp/err" "server access log" || fail "access log"
echo "server hostile: $n payloads through the API, error bodies, log and --remote CLI"
