#!/bin/sh
# Live refresh without flicker: writes by another process (dse predict)
# appear at the refresh interval and are marked as changed; F freezes the
# screen (no reload) and unfreezes; + / - and :refresh change the interval
# at runtime; --iterations N exits by itself (headless and under tmux);
# :save-screen writes the screen as text.
COLS=160  # room for the THREAD column
. "$(dirname "$0")/lib.sh"
prepare_store
IN='{"message":"please call me Zed","blueprintHint":{"userHandle":"Z","agentName":"Autopilot"}}'
predict() { dse predict --signature SelectTool.v1 --thread "$1" --input "$IN" >/dev/null; }
predict live-1

start_console --signature SelectTool.v1 --pane receipts --refresh-ms 200
wait_for "Receipts · SelectTool.v1"
wait_for "live-1"
wait_for "refresh 200ms"

# a receipt from another process shows up, marked as changed
predict live-2
wait_for "^│\* .*live-2"
# a row that was there before and whose content changed (the signature's
# receipt rate in the list on the left) is marked as well
wait_for "^│\* SelectTool.v1"

# frozen: no reload
keys F; wait_for "FROZEN"
predict live-3
i=0; while [ "$i" -lt 10 ]; do capture; grep -q "live-3" "$T/screen.txt" && fail "a frozen screen reloaded"; sleep 0.1; i=$((i + 1)); done
keys F; wait_for "live refresh resumed"
wait_for "live-3"

# interval at runtime
keys +; wait_for "refresh 100ms"
keys -; keys -; wait_for "refresh 400ms"
type_text ':refresh 1500'; keys Enter; wait_for "refresh 1500ms"

# :save-screen
type_text ":save-screen $T/screen-dump.txt"; keys Enter
wait_for "screen saved to"
grep -q "Receipts · SelectTool.v1" "$T/screen-dump.txt" || fail "the dump lacks the pane title"
grep -q "live-3" "$T/screen-dump.txt" || fail "the dump lacks the rows"
[ "$(wc -l < "$T/screen-dump.txt")" = "$rows" ] || fail "the dump has $(wc -l < "$T/screen-dump.txt") lines"
quit_console

# --iterations: the loop ends by itself (tests, CI)
start_console --iterations 5 --refresh-ms 50
wait_file "$T/exit.txt" 10
[ "$(cat "$T/exit.txt")" = 0 ] || fail "--iterations exit $(cat "$T/exit.txt")"

# headless: no terminal needed; keys scripted; the screen dumped
LINES=30 COLUMNS=160 "$DSE_BIN" --db "$DB" console --headless --no-state --signature SelectTool.v1 \
  --keys "7:save-screen $T/headless.txt<Enter>:q<Enter>" > "$T/h.out" 2> "$T/h.err" ||
  fail "headless run failed: $(cat "$T/h.err")"
grep -q "Receipts · SelectTool.v1" "$T/headless.txt" || fail "headless dump: $(cat "$T/headless.txt")"
grep -q "live-2" "$T/headless.txt" || fail "headless dump lacks rows"
[ "$(wc -l < "$T/headless.txt")" = 30 ] || fail "headless dump is not 30 lines"
echo "ok: live refresh, freeze, interval, save-screen, iterations, headless"
