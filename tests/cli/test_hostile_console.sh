#!/bin/sh
# The console's raw terminal output, captured byte for byte with script(1)
# (reliability-anchors §7 item 1): receipts and examples whose fields carry
# escape sequences, C1 controls, BEL/CR/BS and bidi marks are shown in the
# receipts list, the receipt viewer, the examples pane and its viewer, then
# the capture is searched for each dangerous sequence *followed by the tag
# that follows it in the data*.  So: 0 ESC/BEL/CR/BS bytes originating from
# data, and (curses never sends these itself) 0 C1 controls, 0 raw 0x9B and
# 0 bidi / invisible format characters anywhere.
set -eu
: "${DSE_BIN:?}" "${DSE_SRCDIR:?}"
. "$DSE_SRCDIR/tests/cli/hostile_lib.sh"
command -v script >/dev/null 2>&1 || { echo "FAIL: script(1) missing (bsdutils)"; exit 1; }
T=$(mktemp -d); srv=""
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color TZ=UTC HOME="$T"
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data"
DB="$T/d.db"
SIG=@openagents/autopilot/blueprint/SelectTool.v1
"$DSE_BIN" --db "$DB" init >/dev/null

# tagged payloads: JSON escape form | raw bytes as printf octal | tag
cat >"$T/tagged" <<'P'
\u001b[2J|\033[2J|ZQ01Z
\u001b]0;t|\033]0;t|ZQ02Z
\u001b]2;t\u0007|\007|ZQ03Z
\u001b]8;;http://x/\u001b\\|\033\\|ZQ04Z
\u001b]52;c;eA==\u0007|\033]52;c;eA==|ZQ05Z
\u001bP$qm|\033P$qm|ZQ06Z
\u009b2J|\302\2332J|ZQ07Z
\u0007|\007|ZQ08Z
\r|\r|ZQ09Z
\b\b|\010\010|ZQ10Z
\u202e|\342\200\256|ZQ11Z
\u2066|\342\201\246|ZQ12Z
\u200b|\342\200\213|ZQ13Z
\ufeff|\357\273\277|ZQ14Z
\u001b[31m|\033[31m|ZQ15Z
\u001b[H|\033[H|ZQ16Z
\u001b|\033|ZQ17Z
P

# receipts through the public API (dse serve + curl), one per payload, the
# payload in every text field the console shows
"$DSE_BIN" --db "$DB" serve --listen 127.0.0.1:0 >"$T/serve.out" 2>"$T/serve.err" &
srv=$!
i=0; url=""
while [ $i -lt 200 ] && [ -z "$url" ]; do
  url=$(sed -n 's/^dse serve: listening on \(http:[^ ]*\)$/\1/p' "$T/serve.out"); i=$((i + 1)); sleep 0.05
done
[ -n "$url" ] || fail "serve did not start"
n=0
while IFS='|' read -r js raw tag; do
  n=$((n + 1))
  v="$js$tag"
  cat >"$T/req.json" <<JSON
{"path":"dse/receipts:recordPredictReceipt","args":{"threadId":"t-$v","runId":"r$n","receipt":{
 "format":"openagents.dse.predict_receipt","formatVersion":1,"receiptId":"rc-$n-$v","runId":"r$n",
 "signatureId":"$SIG","compiled_id":"sha256:$v","strategyId":"direct.v1$v",
 "timing":{"startedAtMs":1,"endedAtMs":2,"durationMs":1},"output":{"action":"$v"},
 "result":{"_tag":"Error","errorName":"E$v","message":"m$v"}}}}
JSON
  code=$(curl -sS -o "$T/resp" -w '%{http_code}' -X POST -H 'content-type: application/json' \
    --data-binary @"$T/req.json" "$url/api/mutation")
  [ "$code" = 200 ] || fail "record $tag: $code $(cat "$T/resp")"
  printf '{"exampleId":"ex-%02d-%s","inputJson":{"message":"%s","blueprintHint":{"userHandle":"%s","agentName":"a"}},"expectedJson":{"action":"none"},"split":"train","tags":["%s"]}\n' \
    "$n" "$v" "$v" "$v" "$v" >>"$T/ex.jsonl"
done <"$T/tagged"
kill "$srv"; wait "$srv" 2>/dev/null || true; srv=""
"$DSE_BIN" --db "$DB" examples import "$T/ex.jsonl" --signature SelectTool.v1 >/dev/null || fail "import"

# walk: receipts list (filters), open several receipts in the viewer (tree,
# raw, scrolled), the examples pane and its viewer, the help and the log
keys='<Enter>jjjjjjjjjjjjjjjjjjjjjjjjj<PgDn><PgDn>q'
keys="${keys}j<Enter>r<PgDn>rq jj<Enter>q jjj<Enter><End>q G<Enter>q g f f f X"
keys="${keys}6<Enter>jjjjjjjjjjjjjjjjjjjjjjjjq jjjj<Enter>q G<Enter>q ?q LqQ"
cmd="stty cols 160 rows 50; exec '$DSE_BIN' --db '$DB' --read-only console --no-state --refresh-ms 100 --pane receipts --signature SelectTool.v1 --keys '$keys' --iterations 400"
timeout 60 script -qfec "$cmd" "$T/cap.bin" </dev/null >/dev/null 2>&1 || true
[ -s "$T/cap.bin" ] || fail "no capture"
grep -q "Receipts" "$T/cap.bin" || fail "the console did not draw the receipts pane"

bad=0; shown=0
while IFS='|' read -r js raw tag; do
  seq=$(printf "$raw")
  if LC_ALL=C grep -qF "$seq$tag" "$T/cap.bin"; then
    echo "data reached the terminal raw: $js (tag $tag)" >&2; bad=$((bad + 1))
  fi
  LC_ALL=C grep -qF "$tag" "$T/cap.bin" && shown=$((shown + 1))
done <"$T/tagged"
# anywhere in the stream: C1 controls, raw 0x9B, bidi / invisible marks
for s in '\302\200' '\302\205' '\302\220' '\302\233' '\302\234' '\302\235' '\302\237' '\233' \
         '\342\200\213' '\342\200\216' '\342\200\217' '\342\200\250' '\342\200\251' \
         '\342\200\252' '\342\200\253' '\342\200\254' '\342\200\255' '\342\200\256' \
         '\342\201\246' '\342\201\247' '\342\201\250' '\342\201\251' '\357\273\277' '\330\234'; do
  if LC_ALL=C grep -qF "$(printf "$s")" "$T/cap.bin"; then
    echo "the byte stream holds $s" >&2; bad=$((bad + 1))
  fi
done
[ $bad = 0 ] || fail "$bad unsafe sequences in the console's output"
[ $shown -ge $((n / 2)) ] || fail "only $shown of $n tagged payloads were drawn at all"
# and they were drawn as visible markers (caret notation / <U+XXXX>)
LC_ALL=C grep -qF '^[[2JZQ01Z' "$T/cap.bin" || fail "no caret-notation marker for ESC [2J"
LC_ALL=C grep -qF '<U+202E>ZQ11Z' "$T/cap.bin" || fail "no <U+202E> marker for the RLO"
echo "console bytes: $n tagged payloads in receipts and examples, $shown drawn, $(wc -c <"$T/cap.bin") bytes captured, 0 unsafe"
