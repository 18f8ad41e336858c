#!/bin/sh
# A receipt whose fields hold escape sequences, OSC title changes, C1 CSI,
# CR/BS overwrite tricks and a bidi override: the list, the viewer and the
# message line show caret-notation / <U+XXXX> markers, nothing takes effect
# (no clear screen, no title change, no overwritten cells), and every row
# stays aligned.
. "$(dirname "$0")/lib.sh"
prepare_store
ESC=$(printf '\033')

cat > "$T/evil.json" <<'JSON'
{"threadId":"t-evil","runId":"r-evil","receipt":{
 "format":"openagents.dse.predict_receipt","formatVersion":1,"receiptId":"evil-0001","runId":"evil-0001",
 "createdAt":"2026-11-28T07:00:00.000Z","signatureId":"@openagents/autopilot/blueprint/SelectTool.v1",
 "compiled_id":"sha256:evil\u001b[31mRED","strategyId":"direct.v1\u001b]0;pwned\u0007",
 "timing":{"startedAtMs":1,"endedAtMs":2,"durationMs":1},
 "output":{"action":"\u001b[2J\u001b[Happrove\rDENY\u202eevil\b\bXX"},
 "result":{"_tag":"Error","errorName":"Evil\u001b[2J\u001b[H","message":"\u009b31m bad \u001b]2;title\u0007"}}}
JSON
record_receipts "$T/evil.json"

start_console --signature SelectTool.v1 --pane receipts
wait_for "Receipts · SelectTool.v1"
wait_for 'Evil^\[\[2J^\[\[H'
wait_for ' evil^\[\[… '
wait_for 'direct.v1^'
capture
grep -q "$ESC" "$T/screen.txt" && fail "raw ESC on the screen"
# the header and frame survived (no clear screen / cursor home effect)
head -n 1 "$T/screen.txt" | grep -q "dse  sqlite:" || fail "header line was overwritten"
# no line is wider than the terminal (nothing wrapped or shifted)
while IFS= read -r line; do
  n=$(printf '%s' "$line" | wc -m)
  [ "$n" -le "$cols" ] || fail "a screen line is $n characters wide: $line"
done < "$T/screen.txt"
# the pane title was not changed by the OSC sequences
title=$(tmux -L "$SOCK" display-message -p '#{pane_title}')
case "$title" in *pwned*|*title*) fail "the pane title was changed to '$title'";; esac

# the viewer shows every field with markers
keys Enter; wait_for "receipt evil-0001"
wait_for '"action": "^\[\[2J^\[\[Happrove^MDENY<U+202E>evil^H^HXX"'
wait_for '"message": "<U+009B>31m bad ^\[\]2;title^G"'
capture
grep -q "$ESC" "$T/screen.txt" && fail "raw ESC in the viewer"
grep -q "$(printf '\342\200\256')" "$T/screen.txt" && fail "a raw bidi override reached the screen"
# raw JSON mode escapes them as JSON does
keys r; wait_for '\\u001b\[2J'
keys q

# colours: only SGR sequences come from us, none from the data
tmux -L "$SOCK" capture-pane -p -e > "$T/colour.txt"
sed "s/$ESC\[[0-9;]*m//g" "$T/colour.txt" | grep -q "$ESC" && fail "a non-SGR escape sequence is on the screen"

quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: hostile receipt rendered inert"
