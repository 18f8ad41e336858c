#!/bin/sh
# The / filter gives the same rows wherever the cursor was (issue 10): it
# filters the whole list from the top and puts the cursor on the first
# match — in a list held whole (examples) and in a paged list whose window
# no longer starts at the head (receipts after G).
COLS=200  # wide enough that the example ids are not cut
. "$(dirname "$0")/lib.sh"
prepare_store
dse traffic --signature SelectTool.v1 --count 150 --threads 1 --thread-prefix old >/dev/null
dse traffic --signature SelectTool.v1 --count 5 --threads 1 --thread-prefix fresh >/dev/null

# list rows on screen, without the cursor / change markers
rows_of() { capture; grep '│[▸* ] selecttool\.v1\.' "$T/screen.txt" | sed 's/│[▸*] /│  /g' > "$1"; }

start_console --signature SelectTool.v1 --pane examples
wait_for "labeled 0/34"
wait_for " 1/34 "
keys /; type_text 'train'; keys Enter
wait_for "Examples · SelectTool.v1 .* 1/24 "
rows_of "$T/top.txt"
[ "$(wc -l < "$T/top.txt")" -gt 5 ] || fail "too few filtered rows on screen"
grep -q holdout "$T/top.txt" && fail "the filter kept a holdout row"
keys Escape; wait_for "filter cleared"
wait_for " 11/34 "  # clearing keeps the cursor on its row (the first train one)
keys G; wait_for " 34/34 "
keys /; type_text 'train'; keys Enter
wait_for "Examples · SelectTool.v1 .* 1/24 "
rows_of "$T/bottom.txt"
cmp -s "$T/top.txt" "$T/bottom.txt" || { diff "$T/top.txt" "$T/bottom.txt"; fail "the filter shows other rows with the cursor at the bottom"; }
quit_console

# paged: 155 receipts, the window moved to the oldest ones by G
start_console --signature SelectTool.v1 --pane receipts
wait_for "Receipts · SelectTool.v1"
wait_for " 1/100+ "
keys G; wait_for " \.\.\.100/100 "
keys /; type_text 'fresh'; keys Enter
wait_for "Receipts · SelectTool.v1 /fresh .* 1/5+* "
capture; grep -q "no rows match" "$T/screen.txt" && fail "the filter missed the rows above the window"
keys Escape; wait_for "filter cleared"
keys g
keys /; type_text 'fresh'; keys Enter
wait_for "Receipts · SelectTool.v1 /fresh .* 1/5+* "
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: the filter gives the same rows wherever the cursor is"
