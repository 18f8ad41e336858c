#!/bin/sh
# e in the examples pane: the expected JSON opens in $EDITOR; invalid JSON
# and JSON that does not match the output schema reopen the editor with the
# error at the top of the file (a "# dse:" header the console strips);
# nothing is written until the value is valid; an empty file cancels.
. "$(dirname "$0")/lib.sh"
prepare_store
dse examples list --signature SelectTool.v1 --limit 1 --json > "$T/list.json"
EX=$(sed -n 's/^      "exampleId": "\(.*\)",$/\1/p' "$T/list.json" | head -n 1)
before=$(dse examples show --signature SelectTool.v1 --id "$EX" --json | tr -d ' \n' | sed 's/"updatedAtMs":[0-9]*//')

# A scripted editor: round 1 writes broken JSON, round 2 a value the output
# schema refuses, round 3 a valid one.  Each round records the file it got
# and whether the store still holds the original row.
cat > "$T/editor.sh" <<ED
#!/bin/sh
n=\$(cat "$T/round" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n > "$T/round"
cp "\$1" "$T/seen.\$n"
"$DSE_BIN" --db "$DB" examples show --signature SelectTool.v1 --id "$EX" --json | tr -d ' \n' |
  sed 's/"updatedAtMs":[0-9]*//' > "$T/store.\$n"
case \$n in
  1) printf '{"action": "tool", "toolName": \n' > "\$1" ;;
  2) printf '# a comment of mine\n{"action": "launch"}\n' > "\$1" ;;
  3) printf '{"action": "tool", "toolName": "memory_append"}\n' > "\$1" ;;
  *) : > "\$1" ;;
esac
ED
chmod +x "$T/editor.sh"
export EDITOR="$T/editor.sh" VISUAL=

start_console --signature SelectTool.v1 --pane examples
wait_for "labeled 0/34"
keys e
wait_for "labeled 1/34 (accepted 1" 20
wait_for "expected := {\"action\":\"tool\",\"toolName\":\"memory_append\"} (edit"
[ "$(cat "$T/round")" = 3 ] || fail "editor ran $(cat "$T/round") times, want 3"
grep -q '^# dse: editing the expected output of ' "$T/seen.1" || fail "no header in round 1"
grep -q '"toolName"' "$T/seen.1" || fail "round 1 did not get the current value"
grep -q '^# dse: ERROR: .*line 1 col ' "$T/seen.2" || fail "round 2 does not show the parse error: $(cat "$T/seen.2")"
grep -q '"toolName": *$' "$T/seen.2" || fail "round 2 lost the user's text"
grep -q '^# dse: ERROR: .*\$\.action' "$T/seen.3" || fail "round 3 does not show the schema error: $(cat "$T/seen.3")"
[ "$(cat "$T/store.2")" = "$before" ] || fail "something was saved after an invalid round"
[ "$(cat "$T/store.3")" = "$before" ] || fail "something was saved after a schema error"
dse examples show --signature SelectTool.v1 --id "$EX" --json | tr -d ' \n' > "$T/after.json"
grep -q '"expectedJson":{"action":"tool","toolName":"memory_append"}' "$T/after.json" || fail "edit not saved"
grep -q '"status":"accepted"' "$T/after.json" || fail "edited example not marked accepted"

# an empty file cancels and writes nothing
keys k; wait_for "1/34"
keys e
wait_for "edit cancelled: nothing saved" 20
[ "$(cat "$T/round")" = 4 ] || fail "editor rounds: $(cat "$T/round")"
grep -q '"toolName":"memory_append"' "$T/after.json" || fail "cancel changed the example"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: edit in \$EDITOR with validation"
