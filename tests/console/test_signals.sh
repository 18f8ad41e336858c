#!/bin/sh
# Terminal hygiene: SIGHUP exits cleanly and quickly (state saved, exit
# 129); a hung-up terminal while SIGHUP is ignored (nohup, su) is noticed and
# the console leaves instead of spinning; SIGTERM and SIGINT restore the tty
# modes (stty before == after) and leave stderr empty; stderr written while
# curses is active is replayed after the screen is restored.
. "$(dirname "$0")/lib.sh"
prepare_store

# -- SIGHUP -------------------------------------------------------------
start_console --signature SelectTool.v1 --pane canary
wait_for "Canary · SelectTool.v1"
pid=$(console_pid); [ -n "$pid" ] || fail "no console process"
kill -HUP "$pid"
wait_file "$T/exit.txt" 5
[ "$(cat "$T/exit.txt")" = 129 ] || fail "SIGHUP exit code $(cat "$T/exit.txt"), want 129"
grep -q '"pane": "canary"' "$XDG_STATE_HOME/dse/console.json" || fail "state not saved on SIGHUP"
tmux -L "$SOCK" kill-server 2>/dev/null || true

# -- terminal gone with SIGHUP ignored: must exit, not spin ---------------
cat > "$T/nohup.sh" <<RUN
#!/bin/sh
trap '' HUP
exec "$DSE_BIN" --db "$DB" console 2>"$T/stderr.txt"
RUN
chmod +x "$T/nohup.sh"
tmux_new "$T/nohup.sh"
wait_for "Signatures"
pid=$(tmux -L "$SOCK" list-panes -F '#{pane_pid}' | head -n 1)
[ -n "$pid" ] || fail "no console pid"
tmux -L "$SOCK" kill-server
i=0
while [ -d "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] && [ "$i" -lt 100 ]; do
  sleep 0.05; i=$((i + 1))
done
if [ -d "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; then
  fail "the console kept running after its terminal went away (state $(cut -d' ' -f3 /proc/$pid/stat))"
fi

# -- SIGTERM / SIGINT restore the terminal --------------------------------
for sig in TERM INT; do
  cat > "$T/stty.sh" <<RUN
#!/bin/sh
stty -g > "$T/stty.before"
"$DSE_BIN" --db "$DB" console 2>"$T/stderr.txt"
echo \$? > "$T/code.txt"
stty -g > "$T/stty.after"
tput cnorm >/dev/null 2>&1 || true
echo DONE > "$T/done.tmp"; mv "$T/done.tmp" "$T/done.txt"
sleep 30
RUN
  chmod +x "$T/stty.sh"
  rm -f "$T/done.txt"
  tmux_new "$T/stty.sh"
  wait_for "Signatures"
  pid=$(console_pid); [ -n "$pid" ] || fail "no console process"
  kill -"$sig" "$pid"
  wait_file "$T/done.txt" 5
  want=143; [ "$sig" = INT ] && want=130
  [ "$(cat "$T/code.txt")" = "$want" ] || fail "SIG$sig exit code $(cat "$T/code.txt"), want $want"
  cmp -s "$T/stty.before" "$T/stty.after" || fail "SIG$sig left the tty modes changed"
  [ ! -s "$T/stderr.txt" ] || fail "stderr after SIG$sig: $(cat "$T/stderr.txt")"
  # back on the normal screen: the console's frame is gone
  wait_gone "Signatures"
  tmux -L "$SOCK" kill-server 2>/dev/null || true
done

# -- a bad keymap line warns on stderr after the screen is restored -------
mkdir -p "$XDG_CONFIG_HOME/dse"
printf 'bind global x frobnicate\nbind receipts J down\n' > "$XDG_CONFIG_HOME/dse/keymap"
start_console
wait_for "Signatures"
quit_console
grep -q "keymap:1: unknown action 'frobnicate'" "$T/stderr.txt" ||
  fail "keymap warning not reported: $(cat "$T/stderr.txt")"
echo "ok: signals and terminal restore"
