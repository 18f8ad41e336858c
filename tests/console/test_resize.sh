#!/bin/sh
# Resizes never crash or garble: down to 20x6 (a "terminal too small"
# notice) and back, a storm of sizes from 1x1 to 300x100, and the layout is
# right for the final size: every line fits, frames are whole.
. "$(dirname "$0")/lib.sh"
prepare_demo

start_console --signature SelectTool.v1 --pane receipts
wait_for "Receipts · SelectTool.v1"
resize() { tmux -L "$SOCK" resize-window -x "$1" -y "$2"; }

resize 20 6
wait_for "terminal too small"
wait_for "40x10"
resize 120 40
wait_for "Receipts · SelectTool.v1"
wait_for "TIME           RECEIPT"

# narrow: only the focused pane, still framed
resize 60 15
wait_for "Receipts · SelectTool.v1"
wait_gone "SIGNATURE"

# the storm
for s in 1x1 10x3 300x100 40x10 39x10 40x9 200x60 20x5 80x24 1x50 250x3 123x45 45x123 64x16; do
  resize "${s%x*}" "${s#*x}"
done
resize 100 30
wait_for "Receipts · SelectTool.v1"
wait_for "TIME "
pid=$(console_pid); [ -n "$pid" ] || fail "the console died in the resize storm"
capture
while IFS= read -r line; do
  n=$(printf '%s' "$line" | wc -m)
  [ "$n" -le 100 ] || fail "a screen line is $n characters wide: $line"
done < "$T/screen.txt"
[ "$(wc -l < "$T/screen.txt")" -le 30 ] || fail "more lines than the terminal"
sed -n 3p "$T/screen.txt" | grep -q "^┌" || fail "the frame's top-left corner is not on line 3"
sed -n 28p "$T/screen.txt" | grep -q "^└" || fail "the frame's bottom is not on line 28"

# keys still work after all that
keys 3; wait_for "History · SelectTool.v1"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: resizes"
