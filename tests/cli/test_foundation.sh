#!/bin/sh
# Foundation CLI: init, catalog, dataset import/export/hash against the
# reference vectors, bad rows, pointer commands, schema version refusal,
# --help and exit codes for every command.
set -eu
D="$DSE_BIN"
FIX="$DSE_SRCDIR/db/datasets/selecttool.dataset.v1.jsonl"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
DB="$T/a.db"
SIG=@openagents/autopilot/blueprint/SelectTool.v1
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() { want=$1; shift; set +e; "$@" >"$T/out" 2>"$T/err"; got=$?; set -e
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }; }

# --help for every command, exit 0; unknown command/option exit 2
for c in console init signatures examples dataset active rollback artifacts receipts receipt blob runs run; do
  expect_rc 0 "$D" "$c" --help
  grep -q "usage:" "$T/out" || grep -q "usage" "$T/out" || fail "$c --help prints no usage"
done
expect_rc 0 "$D" --help
expect_rc 2 "$D" no-such-command
expect_rc 2 "$D" --db "$DB" examples list --signature x --bogus
expect_rc 2 "$D" --db "$DB" signatures stray-argument

# init is idempotent
expect_rc 0 "$D" --db "$DB" init
grep -q "8 added" "$T/out" || fail "first init should add the catalog: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" init
grep -q "0 added, 0 changed" "$T/out" || fail "second init should change nothing"

# signature resolution by suffix and key; unknown is refused
expect_rc 0 "$D" --db "$DB" active show --signature SelectTool.v1
expect_rc 0 "$D" --db "$DB" active show --signature blueprint_select_tool
expect_rc 1 "$D" --db "$DB" active show --signature NoSuchSignature.v9
grep -q unknown_signature "$T/err" || fail "unknown signature message"

# the fixture shipped in db/datasets is the shared one, byte for byte
SHARED="$DSE_SRCDIR/../shared/datasets/selecttool.dataset.v1.jsonl"
if [ -f "$SHARED" ]; then cmp -s "$SHARED" "$FIX" || fail "db/datasets copy differs from $SHARED"; fi

# import the real fixture and reproduce the reference hashes
expect_rc 0 "$D" --db "$DB" examples import "$FIX" --signature SelectTool.v1
grep -q "34 inserted" "$T/out" || fail "import count: $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" dataset hash --signature SelectTool.v1
[ "$(cat "$T/out")" = "sha256:a0b955178d5b6a32a14dcd6d133c4f70ae3e0580d8e8d6617b186f5bbe54a604" ] || fail "datasetHash $(cat "$T/out")"
expect_rc 0 "$D" --db "$DB" --json dataset hash --signature SelectTool.v1 --split holdout
grep -q '"datasetHash": "sha256:75a184ffb833f9f7871ea165ca57620da6d571d9ad90e60bd0d2cf90dc8e07b7"' "$T/out" || fail "holdout hash"
grep -q '"selectedExampleIdsHash": "sha256:8670788823b8d825d2cc679bc308b1dd888b2f9eb6cf6e4cf24e611cf7f31905"' "$T/out" || fail "ids hash"

# review status (the console's a/x) and put with --meta keep the datasetHash
EX=selecttool.v1.train.identity_vibe_sarcastic
expect_rc 0 "$D" --db "$DB" examples review --signature SelectTool.v1 --id "$EX" --status rejected
expect_rc 0 "$D" --db "$DB" --json examples show --signature SelectTool.v1 --id "$EX"
tr -d ' \n' < "$T/out" | grep -q '"review":{[^}]*"status":"rejected"' || fail "review not stored: $(cat "$T/out")"
expect_rc 2 "$D" --db "$DB" examples review --signature SelectTool.v1 --id "$EX" --status maybe
expect_rc 1 "$D" --db "$DB" examples review --signature SelectTool.v1 --id no.such.example --status accepted
expect_rc 0 "$D" --db "$DB" examples review --signature SelectTool.v1 --id "$EX" --status none
expect_rc 0 "$D" --db "$DB" --json examples show --signature SelectTool.v1 --id "$EX"
grep -q '"review"' "$T/out" && fail "review none left meta.review"
expect_rc 0 "$D" --db "$DB" examples put --signature SelectTool.v1 --id extra.one --split train \
  --input '{"message":"hi","blueprintHint":{"userHandle":"a","agentName":"b"}}' \
  --expected '{"action":"none"}' --meta '{"note":"x"}'
expect_rc 0 "$D" --db "$DB" --json examples show --signature SelectTool.v1 --id extra.one
tr -d ' \n' < "$T/out" | grep -q '"meta":{"note":"x"}' || fail "put --meta"
expect_rc 2 "$D" --db "$DB" examples put --signature SelectTool.v1 --id extra.two \
  --input '{"message":"hi","blueprintHint":{"userHandle":"a","agentName":"b"}}' --expected '{"action":"none"}' --meta '[1]'
"$D" --db "$DB" --json examples show --signature SelectTool.v1 --id extra.two >/dev/null 2>&1 && fail "bad --meta wrote a row"
expect_rc 0 "$D" --db "$DB" dataset hash --signature SelectTool.v1
[ "$(cat "$T/out")" != "sha256:a0b955178d5b6a32a14dcd6d133c4f70ae3e0580d8e8d6617b186f5bbe54a604" ] || fail "extra row did not change the hash"

# export and re-import into a fresh store: same datasetHash
expect_rc 0 "$D" --db "$DB" examples export --signature SelectTool.v1 -o "$T/export.jsonl"
[ "$(wc -l < "$T/export.jsonl")" = 35 ] || fail "export rows"
grep -v '"exampleId":"extra.one"' "$T/export.jsonl" > "$T/export34.jsonl"
mv "$T/export34.jsonl" "$T/export.jsonl"
expect_rc 0 "$D" --db "$T/b.db" init
expect_rc 0 "$D" --db "$T/b.db" examples import "$T/export.jsonl" --signature SelectTool.v1
expect_rc 0 "$D" --db "$T/b.db" dataset hash --signature SelectTool.v1
[ "$(cat "$T/out")" = "sha256:a0b955178d5b6a32a14dcd6d133c4f70ae3e0580d8e8d6617b186f5bbe54a604" ] || fail "re-imported hash"

# a bad row is named by line and nothing is written
head -n 5 "$FIX" > "$T/bad.jsonl"
echo '{"exampleId":"bad.one","inputJson":{"message":"hi","blueprintHint":{"userHandle":"a","agentName":"b"}},"expectedJson":{"action":"tool","toolName":"launch_rockets"},"split":"train"}' >> "$T/bad.jsonl"
expect_rc 0 "$D" --db "$T/c.db" init
expect_rc 1 "$D" --db "$T/c.db" examples import "$T/bad.jsonl" --signature SelectTool.v1
grep -q "line 6" "$T/err" || fail "bad row line number: $(cat "$T/err")"
grep -q "toolName" "$T/err" || fail "bad row path: $(cat "$T/err")"
expect_rc 0 "$D" --db "$T/c.db" --json examples list --signature SelectTool.v1
grep -q '"items": \[\]' "$T/out" || fail "bad import left rows behind"
printf '{"exampleId":"x"\n' > "$T/broken.jsonl"
expect_rc 1 "$D" --db "$T/c.db" examples import "$T/broken.jsonl" --signature SelectTool.v1
grep -q "line 1" "$T/err" || fail "broken JSON line number"

# pointer: set to a missing artifact is refused; rollback with no history
expect_rc 1 "$D" --db "$DB" active set --signature SelectTool.v1 --compiled-id sha256:0000
grep -q artifact_not_found "$T/err" || fail "artifact_not_found"
expect_rc 0 "$D" --db "$DB" rollback --signature SelectTool.v1
grep -q "(cleared)" "$T/out" || fail "rollback with no history"
expect_rc 0 "$D" --db "$DB" --json active history --signature SelectTool.v1
grep -q '"action": "rollback"' "$T/out" || fail "rollback row"

# empty lists work
expect_rc 0 "$D" --db "$DB" receipts --signature SelectTool.v1
expect_rc 0 "$D" --db "$DB" runs
expect_rc 1 "$D" --db "$DB" receipt show no-such-receipt
expect_rc 1 "$D" --db "$DB" run show no-such-run

# read-only refuses writes
expect_rc 1 "$D" --db "$DB" --read-only rollback --signature SelectTool.v1
grep -q read_only "$T/err" || fail "read-only refusal"

# a store written by a newer dse is refused and left byte-for-byte alone
if command -v sqlite3 >/dev/null; then
  cp "$DB" "$T/new.db"
  sqlite3 "$T/new.db" 'PRAGMA user_version=999' >/dev/null
  before=$(cksum < "$T/new.db")
  expect_rc 1 "$D" --db "$T/new.db" signatures
  grep -q schema_too_new "$T/err" || fail "newer schema message: $(cat "$T/err")"
  [ "$(cksum < "$T/new.db")" = "$before" ] || fail "newer store was modified"
  [ "$(sqlite3 "$DB" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
fi
echo "foundation CLI ok"
