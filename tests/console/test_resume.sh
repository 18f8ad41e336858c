#!/bin/sh
# Resume: the console reopens on the last pane, signature, filter and
# cursor, per store (state in $XDG_STATE_HOME/dse/console.json keyed by the
# store); another store does not inherit it; --no-state ignores it.
. "$(dirname "$0")/lib.sh"
prepare_demo

start_console
wait_for "Signatures"
type_text ':signature SelectTool.v1'; keys Enter
keys 7; wait_for "Receipts · SelectTool.v1"
keys /; type_text 'dc8f'; keys Enter
wait_for "Receipts · SelectTool.v1 /dc8f"
keys j; keys j; wait_for " 3/[0-9]"
capture; row=$(grep '^│.*▸' "$T/screen.txt" | sed 's/.*▸ \([^ ]* [^ ]*\) \([^ ]*\).*/\2/' | tail -n 1)
[ -n "$row" ] || fail "no selected receipt row"
type_text ':refresh 500'; keys Enter; wait_for "refresh 500ms"
quit_console
grep -q '"pane": "receipts"' "$XDG_STATE_HOME/dse/console.json" || fail "pane not saved"

start_console
wait_for "Receipts · SelectTool.v1 /dc8f"
wait_for "▸ [^ ]* [^ ]* $row "
wait_for " 3/[0-9]"
wait_for "refresh 500ms"
quit_console

# the examples pane cursor, deep in the list (keyed anchor, not an offset)
start_console --pane examples
wait_for "Examples · SelectTool.v1"
keys Tab Tab Tab BTab BTab BTab
# Esc goes back to the signature list (it never quits); 6 returns
keys Escape; wait_for "back to the signature list"
keys 6
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do keys Down; done
wait_for " 13/34"
capture; ex=$(grep '▸ selecttool' "$T/screen.txt" | sed 's/.*▸ \(selecttool[^ ]*\).*/\1/' | head -n 1)
quit_console
start_console
wait_for "Examples · SelectTool.v1"
wait_for "▸ $ex"

# another store starts fresh; --no-state ignores the saved state
quit_console
DB2="$T/other.db"
"$DSE_BIN" --db "$DB2" init >/dev/null
cat > "$T/run.sh" <<RUN
#!/bin/sh
"$DSE_BIN" --db "$DB2" console 2>"$T/stderr.txt"; echo \$? > "$T/exit.tmp"; mv "$T/exit.tmp" "$T/exit.txt"
RUN
rm -f "$T/exit.txt"
tmux_new "$T/run.sh"
wait_for "Overview"
capture; grep -q "Examples · " "$T/screen.txt" && fail "another store inherited the state"
quit_console
start_console --no-state
wait_for "Overview"
quit_console
echo "ok: resume"
