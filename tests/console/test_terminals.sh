#!/bin/sh
# The console on different terminals: 256, 16 and 8 colours, TERM=vt100,
# NO_COLOR, a non-UTF-8 locale (ASCII borders and text), --ascii, the
# mono/light/high-contrast themes, and an unknown TERM (a clear message,
# not a crash).
. "$(dirname "$0")/lib.sh"
prepare_store

run_with() { # ENV-ASSIGNMENTS ARGS -- then checks on the screen
  cat > "$T/run.sh" <<RUN
#!/bin/sh
env $1 "$DSE_BIN" --db "$DB" console --no-state $2 2>"$T/stderr.txt"
echo \$? > "$T/exit.tmp"; mv "$T/exit.tmp" "$T/exit.txt"
RUN
  chmod +x "$T/run.sh"
  rm -f "$T/exit.txt"
    tmux_new "$T/run.sh"
}

for term in xterm-256color xterm-16color xterm vt100 screen; do
  infocmp "$term" >/dev/null 2>&1 || { echo "skip TERM=$term (no terminfo entry)"; continue; }
  run_with "TERM=$term" "--signature SelectTool.v1"
  wait_for "Overview · SelectTool.v1"
  wait_for "SIGNATURE"
  keys 7; wait_for "Receipts · SelectTool.v1"
  quit_console
  [ "$(cat "$T/exit.txt")" = 0 ] || fail "TERM=$term: exit $(cat "$T/exit.txt")"
done

# NO_COLOR: no colour escapes at all, but selection still visible (reverse)
run_with "NO_COLOR=1" "--signature SelectTool.v1"
wait_for "Overview · SelectTool.v1"
tmux -L "$SOCK" capture-pane -p -e > "$T/c.txt"
grep -q "$(printf '\033')\[3[0-7]m\|$(printf '\033')\[38;5" "$T/c.txt" && fail "colour escapes with NO_COLOR"
grep -q "$(printf '\033')\[7m" "$T/c.txt" || fail "no reverse video for the selection with NO_COLOR"
quit_console

# non-UTF-8 locale: ASCII borders, non-ASCII data as <U+XXXX>
run_with "LANG=C LC_ALL=C" "--signature SelectTool.v1"
wait_for "+- Signatures -"
wait_for "| SelectTool.v1\|>"
capture
LC_ALL=C grep -q "$(printf '\342')" "$T/screen.txt" && fail "non-ASCII bytes on a C-locale screen"
quit_console

run_with "" "--ascii --signature SelectTool.v1"
wait_for "+- Signatures -"
quit_console

for theme in mono light high-contrast; do
  run_with "" "--theme $theme --signature SelectTool.v1"
  wait_for "Overview · SelectTool.v1"
  type_text ':theme'; keys Enter; wait_for "theme $theme"
  quit_console
done
run_with "" "--theme no-such-theme"
wait_file "$T/exit.txt" 10
[ "$(cat "$T/exit.txt")" = 2 ] || fail "bad theme: exit $(cat "$T/exit.txt")"
grep -q "no theme 'no-such-theme'" "$T/stderr.txt" || fail "bad theme message: $(cat "$T/stderr.txt")"

# a user theme overrides one role and keeps the rest
mkdir -p "$XDG_CONFIG_HOME/dse/themes"
printf 'color header white red bold\ncolor nosuch red red\n' > "$XDG_CONFIG_HOME/dse/themes/mine.theme"
run_with "" "--theme mine"
wait_for "Signatures"
wait_for "mine.theme:2: unknown role 'nosuch'"
quit_console

# unknown TERM: a clear message and a refusal, no crash
run_with "TERM=no-such-terminal-xyz" ""
wait_file "$T/exit.txt" 10
[ "$(cat "$T/exit.txt")" = 1 ] || fail "unknown TERM: exit $(cat "$T/exit.txt")"
grep -q "unknown terminal type 'no-such-terminal-xyz'" "$T/stderr.txt" ||
  fail "unknown TERM message: $(cat "$T/stderr.txt")"
# a terminal without cursor addressing is refused, not garbled
run_with "TERM=dumb" ""
wait_file "$T/exit.txt" 10
[ "$(cat "$T/exit.txt")" = 1 ] || fail "TERM=dumb: exit $(cat "$T/exit.txt")"
grep -q "cannot position the cursor" "$T/stderr.txt" || fail "TERM=dumb message: $(cat "$T/stderr.txt")"
echo "ok: terminals, colours, locales, themes"
