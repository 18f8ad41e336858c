#!/bin/sh
# Whatever the store accepts can be read back over --remote: stored JSON
# values nest at most 900 levels (JSON_MAX_VALUE_DEPTH), so a reply that
# wraps one ({status, value:{ok, example:{meta: ...}}}) stays within the
# parser's 1000.  Before, dse serve took a value 998 levels deep (its body
# at 1000) that no client could ever read again.  A deeper value is refused
# at write time with invalid_input naming the argument, locally and over
# HTTP.
. "$DSE_SRCDIR/tests/server/common.sh"

"$DSE_BIN" --db "$tmp/dse.db" init >/dev/null || fail "init"
start_server --tokens "$tmp/tokens"
SIG=SelectTool.v1
IN='{"message":"hi","blueprintHint":{"userHandle":"u","agentName":"A"}}'
DSE_TOKEN=$ADMIN
export DSE_TOKEN

# nested N: an object N levels deep, {"a":{"a":...{}...}}
nested() {
  awk -v n="$1" 'BEGIN { for (i = 1; i < n; i++) printf "{\"a\":"; printf "{}";
                         for (i = 1; i < n; i++) printf "}" }'
}

# every depth the server accepts must read back; the limit is 900
for d in 1 899 900 901 950 998; do
  nested "$d" >"$tmp/meta"
  if "$DSE_BIN" --remote "$url" examples put -s "$SIG" --id "deep$d" --input "$IN" \
       --expected '{"action":"none"}' --meta @"$tmp/meta" >"$tmp/put" 2>"$tmp/puterr"; then
    [ "$d" -le 900 ] || fail "depth $d was accepted (limit 900)"
    "$DSE_BIN" --remote "$url" examples show -s "$SIG" --id "deep$d" >"$tmp/show" 2>"$tmp/showerr" ||
      fail "depth $d was accepted but cannot be read back: $(head -c 300 "$tmp/showerr")"
    got=$(grep -o '"a"' "$tmp/show" | wc -l | tr -d ' ')
    [ "$got" = $((d - 1)) ] || fail "depth $d read back with $got levels"
  else
    [ "$d" -gt 900 ] || fail "depth $d refused: $(cat "$tmp/puterr")"
    grep -q "invalid_input" "$tmp/puterr" || fail "depth $d: not invalid_input: $(cat "$tmp/puterr")"
    grep -q "argument meta" "$tmp/puterr" || fail "depth $d: error does not name meta: $(cat "$tmp/puterr")"
    grep -q "900" "$tmp/puterr" || fail "depth $d: error does not give the limit: $(cat "$tmp/puterr")"
  fi
done

# the list (one more level of wrapping) reads back too
"$DSE_BIN" --remote "$url" examples list -s "$SIG" >"$tmp/list" 2>"$tmp/listerr" ||
  fail "examples list over --remote: $(head -c 300 "$tmp/listerr")"
grep -q deep900 "$tmp/list" || fail "deep900 missing from the list"
call query "$READ" "{\"path\":\"dse/examples:listExamples\",\"args\":{\"signatureId\":\"@openagents/autopilot/blueprint/SelectTool.v1\"}}"
expect 200 '"status":"success"' deep900

# an export at the limit imports again (in a batch each row's fields count
# on their own), and a batch row one level deeper is refused by name
"$DSE_BIN" --remote "$url" examples export -s "$SIG" -o "$tmp/export.jsonl" 2>"$tmp/experr" ||
  fail "export over --remote: $(head -c 300 "$tmp/experr")"
grep -q deep900 "$tmp/export.jsonl" || fail "deep900 missing from the export"
"$DSE_BIN" --remote "$url" examples import "$tmp/export.jsonl" -s "$SIG" >/dev/null 2>"$tmp/imperr" ||
  fail "re-import of the export: $(head -c 300 "$tmp/imperr")"
nested 901 >"$tmp/meta"
awk -v inp="$IN" 'BEGIN { getline m <ARGV[1]; ARGV[1] = "";
  printf "{\"exampleId\":\"ok1\",\"inputJson\":%s,\"expectedJson\":{\"action\":\"none\"}}\n", inp;
  printf "{\"exampleId\":\"deep901\",\"inputJson\":%s,\"expectedJson\":{\"action\":\"none\"},\"meta\":%s}\n", inp, m }' \
  "$tmp/meta" >"$tmp/deep.jsonl"
if "$DSE_BIN" --remote "$url" examples import "$tmp/deep.jsonl" -s "$SIG" >/dev/null 2>"$tmp/imperr"; then
  fail "a batch row with meta 901 levels deep was imported"
fi
grep -q "rows\[1\].meta nests deeper than 900" "$tmp/imperr" ||
  fail "batch refusal does not name rows[1].meta: $(cat "$tmp/imperr")"

# refused TEXT: the last call was refused with a Convex error body holding
# TEXT (the status of a function error is the server's business: 400 or
# Convex's 560)
refused() {
  [ "$code" != 200 ] || fail "accepted: $(head -c 200 "$tmp/body")"
  expect "$code" '"status":"error"' "invalid_input" "$1"
}

# raw HTTP: the server refuses the same way
deep=$(nested 998)
call mutation "$ADMIN" "{\"path\":\"dse/examples:putExample\",\"args\":{\"signatureId\":\"@openagents/autopilot/blueprint/SelectTool.v1\",\"exampleId\":\"raw998\",\"inputJson\":$IN,\"expectedJson\":{\"action\":\"none\"},\"meta\":$deep}}"
refused "argument meta nests deeper than 900 levels"
deep=$(nested 901)
call mutation "$ADMIN" "{\"path\":\"dse/artifacts:putArtifact\",\"args\":{\"signatureId\":\"s\",\"compiled_id\":\"c\",\"json\":$deep}}"
refused "argument json nests deeper than 900 levels"
deep=$(nested 900)
call mutation "$ADMIN" "{\"path\":\"dse/artifacts:putArtifact\",\"args\":{\"signatureId\":\"s\",\"compiled_id\":\"c\",\"json\":$deep}}"
expect 200 '"status":"success"'
call query "$READ" '{"path":"dse/artifacts:getArtifact","args":{"signatureId":"s","compiled_id":"c"}}'
expect 200 '"status":"success"'

# and locally, without a server
nested 901 >"$tmp/meta"
if "$DSE_BIN" --db "$tmp/dse.db" examples put -s "$SIG" --id local901 --input "$IN" \
     --expected '{"action":"none"}' --meta @"$tmp/meta" 2>"$tmp/puterr"; then
  fail "local store accepted depth 901"
fi
grep -q "argument meta" "$tmp/puterr" || fail "local refusal does not name meta: $(cat "$tmp/puterr")"

stop_server
[ "$stop_rc" = 0 ] || fail "dse serve exited $stop_rc on SIGTERM"
echo "ok: stored values nest at most 900 levels and always read back over --remote"
