# Shared helpers for the console tests (sourced by tests/console/test_*.sh).
#
# Each test drives the real binary ($DSE_BIN) in its own tmux server
# (unique -L socket, killed in the EXIT trap) at a fixed size, with fixed
# LANG/TERM/TZ and private XDG dirs, prepares its store through the CLI,
# and synchronises only by polling the screen or the store with a bounded
# retry loop (wait_for / wait_gone / wait_file) — never by sleeping alone.
set -eu
: "${DSE_BIN:?DSE_BIN must point at the dse binary}"
: "${DSE_SRCDIR:?DSE_SRCDIR must point at the source tree}"
command -v tmux >/dev/null 2>&1 || { echo "FAIL: tmux is not installed (make deps)"; exit 1; }

T=$(mktemp -d)
SOCK="dse$$"
DB="$T/d.db"
FIXTURE="$DSE_SRCDIR/db/datasets/selecttool.dataset.v1.jsonl"
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color TZ=UTC HOME="$T" USER=tester
export XDG_STATE_HOME="$T/state" XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data"
unset NO_COLOR LINES COLUMNS DSE_DB DSE_REMOTE || true
cols=${COLS:-120}
rows=${ROWS:-40}

cleanup() {
  [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
  stop_srv
  _pid=$(console_pid 2>/dev/null || true)
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  # let a console that is still saving its state finish before rm
  _i=0
  while [ -n "$_pid" ] && kill -0 "$_pid" 2>/dev/null && [ "$_i" -lt 100 ]; do
    sleep 0.05; _i=$((_i + 1))
  done
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

fail() {
  echo "FAIL: $*"
  if [ -f "$T/screen.txt" ]; then echo "--- last screen ---"; cat "$T/screen.txt"; fi
  if [ -s "$T/stderr.txt" ]; then echo "--- console stderr ---"; cat "$T/stderr.txt"; fi
  exit 1
}

dse() { "$DSE_BIN" --db "$DB" "$@"; }

# start_console [console args...]: the console in a fresh tmux server; its
# exit code lands in $T/exit.txt when it ends.
start_console() {
  printf '%s\n' "$@" > "$T/args.txt"
  cat > "$T/run.sh" <<RUN
#!/bin/sh
"$DSE_BIN" --db "$DB" console $* 2>"$T/stderr.txt"
echo \$? > "$T/exit.tmp"
mv "$T/exit.tmp" "$T/exit.txt"
RUN
  chmod +x "$T/run.sh"
  rm -f "$T/exit.txt"
  tmux_new "$T/run.sh"
}

# tmux_new CMD: a fresh tmux server with one session running CMD.  A server
# that is still shutting down can refuse the first attempt: retry a bounded
# number of times.
tmux_new() {
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  _i=0
  until tmux -L "$SOCK" -f /dev/null new-session -d -x "$cols" -y "$rows" "$1" 2>"$T/tmux.err"; do
    _i=$((_i + 1))
    [ "$_i" -lt 40 ] || fail "tmux would not start: $(cat "$T/tmux.err")"
    sleep 0.05
  done
}

keys() { tmux -L "$SOCK" send-keys "$@"; }
# literal text (no key-name lookup)
type_text() { tmux -L "$SOCK" send-keys -l "$1"; }
capture() { tmux -L "$SOCK" capture-pane -p > "$T/screen.txt" 2>/dev/null || true; }

# wait_for PATTERN [SECONDS]: poll the screen until grep finds PATTERN.
wait_for() {
  _n=$(( ${2:-10} * 20 )); _i=0
  while [ "$_i" -lt "$_n" ]; do
    capture
    grep -q -- "$1" "$T/screen.txt" && return 0
    sleep 0.05; _i=$((_i + 1))
  done
  fail "timed out waiting for screen text: $1"
}

# wait_gone PATTERN [SECONDS]: poll until PATTERN is no longer on screen.
wait_gone() {
  _n=$(( ${2:-10} * 20 )); _i=0
  while [ "$_i" -lt "$_n" ]; do
    capture
    grep -q -- "$1" "$T/screen.txt" || return 0
    sleep 0.05; _i=$((_i + 1))
  done
  fail "timed out waiting for screen text to go: $1"
}

# wait_file PATH [SECONDS]
wait_file() {
  _n=$(( ${2:-10} * 20 )); _i=0
  while [ "$_i" -lt "$_n" ]; do
    [ -e "$1" ] && return 0
    sleep 0.05; _i=$((_i + 1))
  done
  fail "timed out waiting for $1"
}

# wait_cmd SECONDS CMD...: poll until CMD succeeds (store checks).
wait_cmd() {
  _n=$(( $1 * 20 )); shift; _i=0
  while [ "$_i" -lt "$_n" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05; _i=$((_i + 1))
  done
  fail "timed out waiting for: $*"
}

# The console's pid (the dse process under our tmux server).
console_pid() {
  _pane=$(tmux -L "$SOCK" list-panes -F '#{pane_pid}' 2>/dev/null | head -n 1)
  [ -n "$_pane" ] || return 1
  pgrep -P "$_pane" -x dse 2>/dev/null | head -n 1 || true
}

# quit the console with :q and wait for its exit code
quit_console() {
  keys C-g   # closes an open input line; unbound otherwise
  type_text ':q'
  keys Enter
  wait_file "$T/exit.txt" 10
}

# A store with the catalog and the real SelectTool dataset.
prepare_store() {
  [ -r "$FIXTURE" ] || fail "the SelectTool fixture is missing: $FIXTURE"
  dse init >/dev/null
  dse examples import "$FIXTURE" --signature SelectTool.v1 >/dev/null
}

# The demo store (compile, pointer history, canaries, receipts, ops run).
prepare_demo() {
  [ -r "$FIXTURE" ] || fail "the SelectTool fixture is missing: $FIXTURE"
  dse demo --dataset "$FIXTURE" >/dev/null 2>"$T/demo.err" || { cat "$T/demo.err"; fail "dse demo failed"; }
}

# start_server [serve options...]: `dse serve` on a free loopback port; sets
# PORT and SRV.
start_server() {
  command -v curl >/dev/null 2>&1 || fail "curl is not installed (make deps)"
  "$DSE_BIN" --db "$DB" serve --listen 127.0.0.1:0 "$@" >"$T/serve.out" 2>&1 &
  SRV=$!
  wait_cmd 10 grep -q "listening on" "$T/serve.out"
  PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.out" | head -n 1)
  [ -n "$PORT" ] || fail "dse serve did not say its port: $(cat "$T/serve.out")"
}

# serve_same_port: `dse serve` for $DB on loopback; the first call picks a
# free port, later calls reuse it, so a console reconnects to the same URL
# after stop_srv (kill -9: the server dies, it does not shut down).  Sets
# srv and port.
srv=""
port=0
serve_same_port() {
  : >"$T/serve.out"
  "$DSE_BIN" --db "$DB" serve --listen "127.0.0.1:$port" >"$T/serve.out" 2>>"$T/serve.err" &
  srv=$!
  wait_cmd 10 grep -q "listening on" "$T/serve.out"
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.out" | head -n 1)
  wait_cmd 10 curl -fsS "http://127.0.0.1:$port/healthz"
}
stop_srv() {
  [ -n "${srv:-}" ] || return 0
  kill -9 "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  srv=""
}

stop_server() {
  [ -n "${SRV:-}" ] || return 0
  kill "$SRV" 2>/dev/null || true
  wait "$SRV" 2>/dev/null || true
  SRV=""
}

# record_receipts FILE...: record crafted receipts through the public API
# (dse serve on a loopback port + POST /api/mutation recordPredictReceipt);
# each FILE holds {"threadId", "runId", "receipt"}.
record_receipts() {
  start_server
  for _f in "$@"; do
    { printf '{"path":"dse/receipts:recordPredictReceipt","format":"json","args":'
      cat "$_f"; printf '}'; } > "$T/req.json"
    curl -sS -X POST -H 'content-type: application/json' --data-binary @"$T/req.json" \
      "http://127.0.0.1:$PORT/api/mutation" > "$T/resp.json" || { stop_server; fail "curl failed"; }
    grep -q '"status":"success"' "$T/resp.json" || { stop_server; fail "record refused: $(cat "$T/resp.json")"; }
  done
  stop_server
}
