#!/bin/sh
# A console connected to `dse serve` while the server is killed (-9) and
# restarted on the same port (reliability-anchors §7 item 19, the server
# half): the console keeps running and keeps answering keys while the
# server is down, shows that it cannot reach the store, and once the
# server is back shows data written after the restart, without being
# restarted itself.  Then the server hangs (SIGSTOP) and resumes.
. "$DSE_SRCDIR/tests/console/lib.sh"
command -v curl >/dev/null 2>&1 || fail "curl is not installed"
prepare_store
serve_same_port
cat >"$T/run.sh" <<RUN
#!/bin/sh
"$DSE_BIN" --remote "http://127.0.0.1:$port" console --no-state --refresh-ms 200 --signature SelectTool.v1 --pane examples 2>"$T/stderr.txt"
echo \$? > "$T/exit.txt"
RUN
chmod +x "$T/run.sh"
tmux_new "$T/run.sh"
wait_for "Examples · SelectTool.v1"
wait_for "selecttool.v1"
pid=$(console_pid)
[ -n "$pid" ] || fail "no console process"

stop_srv
# keys still work while the store is unreachable (the pane switches)
keys Tab
wait_for "Receipts · SelectTool.v1"
keys BTab
wait_for "Examples · SelectTool.v1"
kill -0 "$pid" 2>/dev/null || fail "the console died when the server went away"
capture
cp "$T/screen.txt" "$T/down.txt"
# the live refresh notices the store is gone and the header says so until
# it answers again (the server comes back only after that, so the
# reconnection below is really seen)
wait_for "OFFLINE  refresh" 10

serve_same_port   # same port
# the console notices by itself (no key pressed) that the store answers again
wait_for "reconnected to remote:" 10
wait_gone "OFFLINE" 10
"$DSE_BIN" --remote "http://127.0.0.1:$port" examples put --signature SelectTool.v1 --id zz.after.restart \
  --input '{"message":"after restart","blueprintHint":{"userHandle":"u","agentName":"a"}}' \
  --expected '{"action":"none"}' >/dev/null || fail "write after restart"
# the write bumps the change counter; the live refresh reloads the pane
wait_for "labeled 0/35" 10
keys G
wait_for "zz.after.restart" 10
kill -0 "$pid" 2>/dev/null || fail "the console exited"

# A hung server (stopped, so connections open but nothing answers): the
# console gives a call up after 2 s without a byte, says so, and backs off,
# so keys keep working instead of waiting out the 15 s timeout on every
# call; once the server runs again it reconnects by itself.
kill -STOP "$srv"
wait_for "sent nothing for 2 s" 15
wait_for "OFFLINE  refresh" 10
for pane in Receipts Examples Receipts Examples; do
  if [ "$pane" = Receipts ]; then keys Tab; else keys BTab; fi
  wait_for "$pane · SelectTool.v1" 10
done
kill -0 "$pid" 2>/dev/null || fail "the console exited while the server hung"
kill -CONT "$srv"
wait_for "reconnected to remote:" 30
echo "remote restart: console survived the server's kill -9 and a hung server, and showed new data after the restart"
