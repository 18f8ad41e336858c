#!/bin/sh
# dse predict: usage errors, a local-knn prediction with its recorded
# receipt, an input the schema refuses (receipted as an error), an
# rlm_lite.v1 run over a long blob with its trace blob, the response cache,
# and LM settings from the environment.
set -eu
D="$DSE_BIN"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
DB="$T/p.db"
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { want=$1; shift; set +e; "$@" >"$T/out" 2>"$T/err"; got=$?; set -e
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }; }
# value of a top-level string field in (pretty) JSON output
field() { sed -n "s/^  \"$1\": \"\\([^\"]*\\)\".*/\\1/p" "$T/out" | head -n 1; }

HINT='"blueprintHint":{"userHandle":"Sam","agentName":"Autopilot"}'

expect_rc 0 "$D" predict --help
grep -q "usage: dse predict" "$T/out" || fail "predict --help"
grep -q -- "--provider" "$T/out" || fail "predict --help lists no LM options"
expect_rc 0 "$D" --db "$DB" init

# usage errors: exit 2 before anything runs
expect_rc 2 "$D" --db "$DB" predict --signature SelectTool.v1 --input '{}'
grep -q -- "--thread is required" "$T/err" || fail "missing --thread message"
expect_rc 2 "$D" --db "$DB" predict --signature SelectTool.v1 --thread t --input '{"message":'
grep -q "not valid JSON" "$T/err" || fail "bad JSON message: $(cat "$T/err")"
expect_rc 2 "$D" --db "$DB" predict --signature SelectTool.v1 --thread t --input @"$T/missing.json"
expect_rc 1 "$D" --db "$DB" predict --signature NoSuchThing.v9 --thread t --input '{}'
grep -q unknown_signature "$T/err" || fail "unknown signature"

# nearest demo with local-knn: "call me Captain" is the user_update demo
expect_rc 0 "$D" --db "$DB" predict --signature SelectTool.v1 --thread thread-1 --run run-1 \
  --input "{\"message\":\"please call me Captain from now on\",$HINT}"
grep -q '"toolName": "user_update"' "$T/out" || fail "knn answer: $(cat "$T/out")"
grep -q "^receipt [0-9a-f-]\{36\}  default sha256:a76900eb174f  direct.v1  local-knn local-knn  lm 1 call" "$T/out" \
  || fail "receipt line: $(cat "$T/out")"

expect_rc 0 "$D" --db "$DB" --json predict --signature blueprint_select_tool --thread thread-1 \
  --run run-1 --input "{\"message\":\"what should I cook with rice and eggs\",$HINT}"
grep -q '"ok": true' "$T/out" || fail "--json ok"
grep -q '"action": "none"' "$T/out" || fail "--json output: $(cat "$T/out")"
grep -q '"canary": false' "$T/out" || fail "--json canary"
grep -q '"compiled_id": "sha256:a76900eb174f20d0364ad84b189228a67958612fa0733c10349c52c439f64525"' "$T/out" \
  || fail "--json compiled_id"
RID=$(field receiptId)
[ -n "$RID" ] || fail "no receiptId in --json output"
# the receipt is in the store under the thread and run given
expect_rc 0 "$D" --db "$DB" receipt "$RID"
grep -q "run-1" "$T/out" || fail "receipt run id: $(head -c 400 "$T/out")"
grep -q "openagents.dse.predict_receipt" "$T/out" || fail "receipt format"
grep -q "local-knn" "$T/out" || fail "receipt names the model"
# our extension: the input and the decoded output travel with the receipt
tr -d ' \n' < "$T/out" | grep -q '"input":{' || fail "receipt keeps no input"
tr -d ' \n' < "$T/out" | grep -q '"output":{"action":' || fail "receipt keeps no output"

# an input the schema refuses: receipted error, exit 1
expect_rc 1 "$D" --db "$DB" --json predict --signature SelectTool.v1 --thread t2 --input '{"message":"x"}'
grep -q '"errorName": "PromptRenderError"' "$T/out" || fail "schema error: $(cat "$T/out")"
RID2=$(field receiptId)
expect_rc 0 "$D" --db "$DB" receipt "$RID2"
grep -q "PromptRenderError" "$T/out" || fail "error receipt not stored"

# rlm_lite.v1 (SummarizeThread defaults) over a ~60 KB thread given as a blob file
i=0
: >"$T/thread.txt"
while [ $i -lt 900 ]; do
  case $i in
    150) echo "Maya: we decided to deploy the billing service on Thursday after the freeze." ;;
    480) echo "Omar: billing deploy moves to 14:00 UTC so support is staffed." ;;
    *) echo "Ana: the coffee machine on floor three is broken again ($i)." ;;
  esac >>"$T/thread.txt"
  i=$((i + 1))
done
printf '{"question":"When did we decide to deploy the billing service?","threadChunks":[{"$blobFile":"%s"}]}' \
  "$T/thread.txt" >"$T/in.json"
expect_rc 0 "$D" --db "$DB" --json predict --signature rlm_summarize_thread --thread t3 --run r3 --input @"$T/in.json"
grep -q "we decided to deploy the billing service on Thursday" "$T/out" || fail "rlm summary: $(cat "$T/out")"
grep -q "billing deploy moves to 14:00 UTC" "$T/out" || fail "rlm summary misses a line"
grep -q '"strategyId": "rlm_lite.v1"' "$T/out" || fail "rlm strategy"
RID3=$(field receiptId)
expect_rc 0 "$D" --db "$DB" receipt "$RID3"
BLOB=$(tr -d ' \n' <"$T/out" | sed -n 's/.*"rlmTrace":{"blob":{[^}]*"id":"\(sha256:[0-9a-f]*\)".*/\1/p')
[ -n "$BLOB" ] || fail "receipt has no rlmTrace blob: $(head -c 600 "$T/out")"
expect_rc 0 "$D" --db "$DB" blob "$RID3" "$BLOB"
grep -q '"format":"openagents.dse.rlm_trace"' "$T/out" || fail "trace document"
for a in Chunk Search ExtractOverChunks Preview Final; do
  grep -q "\"_tag\":\"$a\"" "$T/out" || fail "trace lacks a $a action"
done

# the same predict again (new run) is answered from the response cache
expect_rc 0 "$D" --db "$DB" predict --signature SelectTool.v1 --thread thread-9 \
  --input "{\"message\":\"please call me Captain from now on\",$HINT}"
grep -q "(from cache)" "$T/out" || fail "second identical predict should hit the cache: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" predict --signature SelectTool.v1 --thread thread-9 --no-cache \
  --input "{\"message\":\"please call me Captain from now on\",$HINT}"
if grep -q "(from cache)" "$T/out"; then fail "--no-cache still hit the cache"; fi

# LM settings from the environment
set +e
DSE_LM_PROVIDER=nonesuch "$D" --db "$DB" predict --signature SelectTool.v1 --thread t --input '{}' >"$T/out" 2>"$T/err"
rc=$?
set -e
[ $rc = 2 ] || fail "unknown provider from env: exit $rc"
grep -q nonesuch "$T/err" || fail "unknown provider message"
echo "predict CLI ok"
