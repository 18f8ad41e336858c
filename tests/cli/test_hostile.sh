#!/bin/sh
# Hostile strings through the CLI's output paths (reliability-anchors §7
# items 1, 2, 10): import rows whose message, exampleId and tags carry the
# escape/control/bidi corpus, then every way the CLI shows them (table,
# --json, show, export to stdout, pointer history with a hostile reason,
# error messages on stderr) must be terminal-safe; the stored values must be
# byte-identical (export -> re-import gives the same datasetHash); SQL-looking
# and megabyte-long labels go through bound parameters.  (Pointer history
# reasons and receipts: tests/server/test_hostile.sh.)
set -eu
D="$DSE_BIN"
. "$DSE_SRCDIR/tests/cli/hostile_lib.sh"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
DB="$T/h.db"
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { set +e; "$@" >"$T/out" 2>"$T/err"; rc=$?; set -e; }
safe() { # both streams of the last run
  assert_terminal_safe "$T/out" "$1 (stdout)" || exit 1
  assert_terminal_safe "$T/err" "$1 (stderr)" || exit 1
}
run "$D" --db "$DB" init; [ $rc = 0 ] || fail "init: $(cat "$T/err")"
hostile_jsonl "$T/h.jsonl"
n=$(wc -l <"$T/h.jsonl")
[ "$n" -ge 40 ] || fail "corpus has only $n payloads"
run "$D" --db "$DB" examples import "$T/h.jsonl" --signature SelectTool.v1
[ $rc = 0 ] || fail "import: $(cat "$T/err")"
grep -q "$n inserted" "$T/out" || fail "import count: $(cat "$T/out")"
safe "examples import"

run "$D" --db "$DB" examples list --signature SelectTool.v1 --limit 500
[ $rc = 0 ] || fail "list: $(cat "$T/err")"
[ "$(grep -c hostile "$T/out")" -ge "$n" ] || fail "list shows $(grep -c hostile "$T/out") rows"
safe "examples list (table)"
run "$D" --db "$DB" --json examples list --signature SelectTool.v1 --limit 500
[ $rc = 0 ] || fail "list --json"
safe "examples list --json"

# show every row, table and JSON
for id in $(sed -n 's/.*"exampleId":"\(hostile\.[a-z0-9-]*\)\..*/\1/p' "$T/h.jsonl"); do
  full=$(printf '%s.\033[2J\342\200\256' "$id")
  run "$D" --db "$DB" examples show --signature SelectTool.v1 --id "$full"
  [ $rc = 0 ] || fail "show $id: $(cat "$T/err")"
  safe "examples show $id"
done

# export to stdout (a terminal path) and to a file; the stored bytes are
# unchanged: re-import into a fresh store gives the same datasetHash
run "$D" --db "$DB" examples export --signature SelectTool.v1
[ $rc = 0 ] || fail "export"
# canonical JSON leaves DEL, C1 and bidi characters raw (reported)
safe "examples export to stdout"
run "$D" --db "$DB" examples export --signature SelectTool.v1 -o "$T/e.jsonl"
run "$D" --db "$DB" dataset hash --signature SelectTool.v1; h1=$(cat "$T/out")
run "$D" --db "$T/b.db" init
run "$D" --db "$T/b.db" examples import "$T/e.jsonl" --signature SelectTool.v1
[ $rc = 0 ] || fail "re-import: $(cat "$T/err")"
run "$D" --db "$T/b.db" dataset hash --signature SelectTool.v1; h2=$(cat "$T/out")
[ "$h1" = "$h2" ] || fail "datasetHash changed on export/re-import: $h1 vs $h2"

# a bad row whose id is hostile: the error names it safely, nothing lands
printf '{"exampleId":"bad\\u001b]0;x\\u0007\\u202e","inputJson":{"message":"\\u001b[2J"},"expectedJson":{"action":"tool","toolName":"\\u001b[2Jrm"}}\n' >"$T/bad.jsonl"
run "$D" --db "$T/c.db" init
run "$D" --db "$T/c.db" examples import "$T/bad.jsonl" --signature SelectTool.v1
[ $rc = 1 ] || fail "bad row should be refused (rc $rc)"
grep -q "line 1" "$T/err" || fail "error names no line: $(cat "$T/err")"
safe "import error"
# raw (unescaped) controls and invalid UTF-8 inside the JSONL itself
printf '{"exampleId":"raw\033[2J","inputJson":{"message":"a\033]0;x\007"},"expectedJson":{"action":"none"}}\n{"exampleId":"inv\377\376"}\n' >"$T/raw.jsonl"
run "$D" --db "$T/c.db" examples import "$T/raw.jsonl" --signature SelectTool.v1
[ $rc = 1 ] || fail "raw controls in JSONL should be refused (rc $rc)"
safe "import error (raw controls)"
run "$D" --db "$T/c.db" --json examples list --signature SelectTool.v1
grep -q hostile "$T/out" && fail "a refused import left rows"
grep -q '"raw' "$T/out" && fail "a refused import left rows"

# nested 1001 deep is refused with a clear message; 1000 is a schema error
deep=$(awk 'BEGIN{for(i=0;i<1001;i++)printf "[";for(i=0;i<1001;i++)printf "]"}')
printf '{"exampleId":"deep","inputJson":{"message":"m","blueprintHint":%s},"expectedJson":{"action":"none"}}\n' "$deep" >"$T/deep.jsonl"
run "$D" --db "$T/c.db" examples import "$T/deep.jsonl" --signature SelectTool.v1
[ $rc = 1 ] || fail "depth 1001 should be refused"
grep -qi "deep\|depth\|nest" "$T/err" || fail "depth error is not clear: $(cat "$T/err")"

# a megabyte-long label: stored and read back byte-identical, or refused
awk 'BEGIN{for(i=0;i<65536;i++)printf "0123456789abcdef"}' >"$T/mb"
awk 'BEGIN { getline m <ARGV[1]; printf "{\"exampleId\":\"megabyte\",\"inputJson\":{\"message\":\"%s\",\"blueprintHint\":{\"userHandle\":\"u\",\"agentName\":\"a\"}},\"expectedJson\":{\"action\":\"none\"}}\n", m }' "$T/mb" >"$T/mb.jsonl"
run "$D" --db "$DB" examples import "$T/mb.jsonl" --signature SelectTool.v1
if [ $rc = 0 ]; then
  run "$D" --db "$DB" --json examples show --signature SelectTool.v1 --id megabyte
  [ $rc = 0 ] || fail "show megabyte"
  awk -v RS='"' -v wantf="$T/mb" 'BEGIN { getline want <wantf } $0 == want { f = 1 } END { exit !f }' "$T/out" ||
    fail "megabyte message not read back identically"
else
  grep -qi "limit\|too long\|larger\|at most" "$T/err" || fail "megabyte refused without a limit message: $(cat "$T/err")"
fi
echo "cli hostile: $n payloads through import, list, --json, show, export, errors"
