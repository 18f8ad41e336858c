#!/bin/sh
# A remote store that goes offline (dse serve killed, later hung with
# SIGSTOP): every pane keeps the last data it read and marks it "STALE
# since HH:MM:SS", never showing "(none)", "no active canary" or "-" as if
# the store had said so; a pane never loaded before says "unavailable".
# When the server answers again the marks go away by themselves.
. "$(dirname "$0")/lib.sh"
prepare_demo
j() { dse "$@" --json | tr -d ' \n'; }
A0=$(j active show --signature SelectTool.v1 | sed -n 's/.*"compiled_id":"sha256:\([0-9a-f]\{8\}\).*/\1/p')
CAN=$(dse canary status --signature SelectTool.v1 --json | sed -n 's/^ *"canary_compiled_id": "sha256:\([0-9a-f]\{8\}\).*/\1/p' | head -n 1)
[ -n "$A0" ] && [ -n "$CAN" ] || fail "demo store without pointer or canary"

serve_same_port

cat >"$T/run.sh" <<RUN
#!/bin/sh
"$DSE_BIN" --remote "http://127.0.0.1:$port" console --no-state --refresh-ms 200 --signature SelectTool.v1 --pane canary 2>"$T/stderr.txt"
echo \$? > "$T/exit.tmp"; mv "$T/exit.tmp" "$T/exit.txt"
RUN
chmod +x "$T/run.sh"; rm -f "$T/exit.txt"
tmux_new "$T/run.sh"
pane() { keys C-g; type_text ":pane $1"; keys Enter; }

# load the canary pane, then the overview, while the store answers
wait_for "Canary · SelectTool.v1"
wait_for "$CAN at 50% of threads"
pane overview
wait_for "Overview · SelectTool.v1"
wait_for "pointer     sha256:$A0"
wait_for "SelectTool.v1 $A0"
# the two list panes, loaded while the store answers
pane receipts
wait_for "Receipts · SelectTool.v1"
wait_for "[0-9]/[0-9]"
pane examples
wait_for "Examples · SelectTool.v1"
wait_for "labeled [0-9]*/34 "
pane overview
wait_for "Overview · SelectTool.v1"

stop_srv
wait_for "Overview · SelectTool.v1 · STALE since [0-2][0-9]:[0-5][0-9]:[0-5][0-9]" 15
wait_for "STALE since .* (store not answering); data as of [0-2][0-9]:"
capture
grep -q "pointer     sha256:$A0" "$T/screen.txt" || fail "the overview dropped the pointer it had read"
grep -q "canary      $CAN at 50%" "$T/screen.txt" || fail "the overview dropped the canary it had read"
grep -q "(none: signature defaults)\|no active canary\|(none)" "$T/screen.txt" &&
  fail "the overview shows missing data as real"
# the signature list keeps its rows and says it is stale
grep -q "SelectTool.v1 $A0" "$T/screen.txt" || fail "the signature list dropped its rows"
wait_for "Signatures · STALE since"

# the canary pane: its last row, marked
pane canary
wait_for "Canary · SelectTool.v1 · STALE since" 15
capture
grep -q "$CAN at 50% of threads" "$T/screen.txt" || fail "the canary pane dropped its canary"
grep -q "no active canary" "$T/screen.txt" && fail "the canary pane says no canary while offline"

# the lists keep their rows, the example counts stay (not zeros)
pane receipts
wait_for "Receipts · SelectTool.v1 · STALE since" 15
wait_for "STALE since .* (store not answering); data as of"
capture
grep -q " Ok \| Error " "$T/screen.txt" || fail "the receipts pane dropped its rows while offline"
pane examples
wait_for "Examples · SelectTool.v1 · STALE since" 15
capture
grep -q "labeled [0-9]*/34 " "$T/screen.txt" || fail "the examples pane lost its counts while offline"
grep -q "labeled 0/0" "$T/screen.txt" && fail "the examples pane shows zero counts while offline"
grep -q "selecttool" "$T/screen.txt" || fail "the examples pane dropped its rows while offline"

# a pane never loaded: unavailable, not "(none)"
pane history
wait_for "History · SelectTool.v1 · STALE since" 15
wait_for "active   (unavailable: the store did not answer)"

# back on the same port: the marks go by themselves
serve_same_port
wait_gone "STALE since" 15
wait_for "active   sha256:"

# a hung server (SIGSTOP): the same, once the interactive calls give up
pane overview
wait_for "pointer     sha256:$A0"
kill -STOP "$srv"
wait_for "Overview · SelectTool.v1 · STALE since" 20
capture
grep -q "pointer     sha256:$A0" "$T/screen.txt" || fail "the overview dropped the pointer (hung server)"
grep -q "(none: signature defaults)\|no active canary" "$T/screen.txt" &&
  fail "the overview shows missing data as real (hung server)"
kill -CONT "$srv"
wait_gone "STALE since" 20
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: an offline remote store leaves the last data on screen, marked stale; a never-loaded pane says unavailable"
