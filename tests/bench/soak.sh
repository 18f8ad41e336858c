#!/bin/sh
# The overnight soak: a demo store under paced traffic, the overnight loop
# every few minutes, and the console left open on the same store, for
# SOAK_MINUTES.  Samples once a minute and fails (exit 1) when an invariant
# breaks:
#   - canary counters == canary receipts, live at every sample and for every
#     canary episode that ended in stop/auto_stop (the history row's counts);
#   - PRAGMA integrity_check says ok at the end;
#   - the WAL stays bounded (<= SOAK_WAL_LIMIT_MIB, polled every 5 s) while
#     the console holds the store open (checkpoint starvation);
#   - console RSS at the end <= 2 x its RSS after warm-up (leak);
#   - the console is never frozen: its screen changes between samples, it
#     answers a pane key within 5 s at every sample and at the end, and `q`
#     ends it with exit code 0;
#   - both traffic writers survive the whole run (else the load was not there).
# Not part of `make test` (it takes an hour and depends on timing).
#
# Environment:
#   DSE_BIN              the dse binary (required)
#   SOAK_MINUTES (60)    length of the run; one sample per minute
#   SOAK_DIR             keep the store, logs and report here (default: a
#                        temporary directory, removed after a passing run)
#   SOAK_RATE (20)       predicts/s of each of the 2 traffic writers
#   SOAK_CYCLE (300)     seconds between overnight-loop rounds
#   SOAK_WAL_LIMIT_MIB (256)
#   SOAK_SQLITE3         sqlite3 CLI (default: from PATH; set to a missing
#                        path to exercise the dse-only fallback)
#
# A round of the overnight loop = a new labelled train example arrives
# (`dse examples put`), the operator rolls the pointer back (`dse rollback`,
# so the loop has a winner to canary), then `dse loop` compiles, gates,
# starts a 20% canary, waits for its samples and promotes or stops.
#
# Load is kept light on purpose (the machine is shared): 2 x 20 predicts/s
# from the offline local-knn model, the loop's own traffic at 2/s.
set -u

: "${DSE_BIN:?DSE_BIN must point at the dse binary}"
case $DSE_BIN in /*) ;; *) DSE_BIN=$(pwd)/$DSE_BIN ;; esac
[ -x "$DSE_BIN" ] || { echo "soak: $DSE_BIN is not executable" >&2; exit 2; }
command -v tmux >/dev/null 2>&1 || { echo "soak: tmux is not installed" >&2; exit 2; }

MINUTES=${SOAK_MINUTES:-60}
RATE=${SOAK_RATE:-20}
CYCLE=${SOAK_CYCLE:-300}
WAL_LIMIT_KIB=$(( ${SOAK_WAL_LIMIT_MIB:-256} * 1024 ))
TICK=5
SIG=SelectTool.v1
PANES="7 4 8 2"          # rotated after each sample: receipts canary runs overview
if [ -n "${SOAK_SQLITE3+x}" ]; then SQLITE3=$SOAK_SQLITE3; else SQLITE3=$(command -v sqlite3 || true); fi
[ -n "$SQLITE3" ] && [ -x "$SQLITE3" ] || SQLITE3=""

if [ -n "${SOAK_DIR:-}" ]; then
  W=$SOAK_DIR; KEEP=1
  mkdir -p "$W" || exit 2
  [ ! -e "$W/soak.db" ] || { echo "soak: $W already holds a soak.db" >&2; exit 2; }
else
  W=$(mktemp -d "${TMPDIR:-/tmp}/dse-soak.XXXXXX") || exit 2; KEEP=0
fi
case $W in /*) ;; *) W=$(pwd)/$W ;; esac
DB=$W/soak.db
SOCK="dsesoak$$"
TABLE=$W/samples.md
REPORT=$W/report.md
mkdir -p "$W/home" "$W/state" "$W/config" "$W/data" "$W/logs"
export LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color TZ=UTC HOME="$W/home"
export XDG_STATE_HOME="$W/state" XDG_CONFIG_HOME="$W/config" XDG_DATA_HOME="$W/data"
unset NO_COLOR LINES COLUMNS DSE_DB DSE_REMOTE TMUX || true
# read by the console wrapper inside tmux (the server inherits our env)
export SOAK_BIN="$DSE_BIN" SOAK_DB="$DB" SOAK_W="$W"

W1=""; W2=""; LOOP_PID=""; STATUS=1
say() { echo "soak: $(date -u +%H:%M:%S) $*" >&2; }
dse() { "$DSE_BIN" --db "$DB" "$@"; }
sq() { "$SQLITE3" -batch -cmd '.timeout 10000' "$DB" "$@"; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
now_ms() { date +%s%3N; }

# Stop one of our own children by pid: SIGINT, then SIGTERM after 30 s.
stop_pid() {
  alive "$1" || { wait "$1" 2>/dev/null; return; }
  kill -INT "$1" 2>/dev/null
  _i=0
  while alive "$1" && [ "$_i" -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
  alive "$1" && { say "pid $1 ignored SIGINT for 30 s: SIGTERM"; kill -TERM "$1" 2>/dev/null; }
  wait "$1" 2>/dev/null
}

cleanup() {
  for _p in $LOOP_PID $W1 $W2; do alive "$_p" && kill -INT "$_p" 2>/dev/null; done
  _cp=$(cat "$W/console.pid" 2>/dev/null || true)
  tmux -L "$SOCK" kill-server 2>/dev/null || true
  _i=0
  while [ -n "$_cp" ] && alive "$_cp" && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
  for _p in $LOOP_PID $W1 $W2; do wait "$_p" 2>/dev/null; done
  if [ "$KEEP" = 0 ] && [ "$STATUS" = 0 ]; then rm -rf "$W"; else echo "soak: files kept in $W" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the store --------------------------------------------------------
say "demo store in $W"
dse demo >"$W/logs/demo.out" 2>&1 || { cat "$W/logs/demo.out" >&2; exit 1; }
SIGID=$(dse --json canary status -s "$SIG" | sed -n 's/^  "signatureId": "\(.*\)",*$/\1/p' | head -n 1)
[ -n "$SIGID" ] || { echo "soak: cannot resolve $SIG" >&2; exit 1; }

# ---- readings ---------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
fsize_kib() { if [ -e "$1" ]; then echo $(( $(stat -c %s "$1") / 1024 )); else echo 0; fi; }
rss_kib() { _v=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null); echo "${_v:--}"; }
ticks() { _v=$(awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null); echo "${_v:-0}"; }
# Frames in the WAL not yet copied back into the db, from the wal-index
# header in -shm (read-only, racy, native byte order): mxFrame at byte 16,
# the checkpointer's nBackfill at byte 96.  A reader that pins an old
# snapshot makes this grow without bound; healthy checkpoints keep it under
# the autocheckpoint size (2000 frames).
wal_pending() {
  _v=$(od -A n -t u4 -j 16 -N 4 "$DB-shm" 2>/dev/null) || { echo 0; return; }
  _b=$(od -A n -t u4 -j 96 -N 4 "$DB-shm" 2>/dev/null) || { echo 0; return; }
  _v=$(( ${_v:-0} - ${_b:-0} ))
  [ "$_v" -ge 0 ] || _v=0
  echo "$_v"
}
# busy and total jiffies of the whole machine (/proc/stat "cpu" line)
machine_cpu() { awk '/^cpu / {b = $2 + $3 + $4 + $7 + $8 + $9; t = b + $5 + $6; print b, t; exit}' /proc/stat; }
pct() { awk -v d="$1" -v s="$2" -v h="$CLK_TCK" 'BEGIN { if (s <= 0) print "-"; else printf "%.1f", d * 100 / (h * s) }'; }

# total receipts and Error receipts, "n e"
count_receipts() {
  if [ -n "$SQLITE3" ]; then
    sq "SELECT count(*), sum(resultTag = 'Error') FROM receipts" | tr '|' ' '
  else
    dse_walk_receipts
  fi
}

# Count receipts through `dse receipts` (keyset pages of 500, oldest
# first): "n e".  Incremental: the totals and the cursor are kept in a file,
# so each call walks only the receipts recorded since the last one.
dse_walk_receipts() {
  _n=0; _e=0; _cur=""
  [ -s "$W/walk.state" ] && read -r _n _e _cur <"$W/walk.state"
  while :; do
    if [ -n "$_cur" ]; then _out=$(dse --json receipts --oldest-first --limit 500 --cursor "$_cur") || return 1
    else _out=$(dse --json receipts --oldest-first --limit 500) || return 1; fi
    _n=$((_n + $(printf '%s\n' "$_out" | grep -c '"receiptId":')))
    _e=$((_e + $(printf '%s\n' "$_out" | grep -c '"resultTag": "Error"')))
    _next=$(printf '%s\n' "$_out" | sed -n 's/^  "nextCursor": "\(.*\)"$/\1/p')
    _last=$(printf '%s\n' "$_out" | sed -n 's/^      "cursor": "\(.*\)",*$/\1/p' | tail -n 1)
    [ -z "$_last" ] || _cur=$_last
    [ -n "$_next" ] || break
  done
  echo "$_n $_e $_cur" >"$W/walk.state"
  echo "$_n $_e"
}

# The running canary: "counters lo hi" where lo/hi count its receipts
# (compiled_id = the canary's, result Ok/Error) recorded strictly after /
# at-or-after the history row that (re)started it.  Receipts take their
# createdAtMs under the write lock, so only a receipt in the very same
# millisecond as the start is ambiguous; the check is lo <= counters <= hi.
# "-" when no canary runs.  One SELECT = one read snapshot.
canary_reading() {
  if [ -n "$SQLITE3" ]; then
    _r=$(sq "SELECT c.okCount + c.errorCount,
        (SELECT count(*) FROM receipts r WHERE r.signatureId = c.signatureId
           AND r.compiled_id = c.canary_compiled_id AND r.resultTag IN ('Ok', 'Error')
           AND r.createdAtMs > h.t),
        (SELECT count(*) FROM receipts r WHERE r.signatureId = c.signatureId
           AND r.compiled_id = c.canary_compiled_id AND r.resultTag IN ('Ok', 'Error')
           AND r.createdAtMs >= h.t)
      FROM dseCanaries c,
        (SELECT createdAtMs AS t FROM dseCanaryHistory WHERE signatureId = '$SIGID'
           AND action IN ('start', 'update') ORDER BY id DESC LIMIT 1) h
      WHERE c.signatureId = '$SIGID' AND c.enabled = 1" | tr '|' ' ')
    [ -n "$_r" ] && echo "$_r" || echo "-"
  else
    dse_canary_reading
  fi
}

# The same through dse commands, which cannot share one snapshot: the
# counters are read before and after the receipt walk (c1 <= c2) and the
# reading is "c1 lo hi c2"; a pass needs c1 <= hi and lo <= c2.
dse_canary_counters() {
  dse --json canary status -s "$SIG" | awk '
    /"canary": null/ { print "-"; exit }
    /"canary_compiled_id":/ && !cid { cid = $2; gsub(/[",]/, "", cid) }
    /"okCount":/ && ok == "" { ok = $2 + 0 }
    /"errorCount":/ && er == "" { er = $2 + 0 }
    END { if (cid != "") print ok + er, cid }'
}
dse_canary_reading() {
  _c1=$(dse_canary_counters) || { echo "-"; return; }
  [ "$_c1" != "-" ] && [ -n "$_c1" ] || { echo "-"; return; }
  _cid=${_c1#* }; _c1=${_c1%% *}
  _t0=$(dse --json canary history -s "$SIG" --limit 200 | awk '
    /"action": "(start|update)"/ { f = 1 }
    f && /"createdAtMs":/ { v = $2; gsub(/,/, "", v); print v; exit }')
  _lo=0; _hi=0; _cur=""
  while :; do
    if [ -n "$_cur" ]; then _out=$(dse --json receipts -s "$SIG" --compiled-id "$_cid" --limit 500 --cursor "$_cur")
    else _out=$(dse --json receipts -s "$SIG" --compiled-id "$_cid" --limit 500); fi
    _res=$(printf '%s\n' "$_out" | awk -v t0="$_t0" '
      /"createdAtMs":/ { t = $2; gsub(/,/, "", t); t += 0 }
      /"resultTag": "(Ok|Error)"/ { ok = 1 }
      /"cursor":/ { if (ok && t > t0) lo++; if (ok && t >= t0) hi++; if (t < t0) old = 1; ok = 0 }
      END { print lo + 0, hi + 0, old + 0 }')
    set -- $_res
    _lo=$((_lo + $1)); _hi=$((_hi + $2))
    _cur=$(printf '%s\n' "$_out" | sed -n 's/^  "nextCursor": "\(.*\)"$/\1/p')
    [ "$3" = 0 ] && [ -n "$_cur" ] || break
  done
  _c2=$(dse_canary_counters)
  case $_c2 in *" $_cid") _c2=${_c2%% *} ;; *) echo "-"; return ;; esac  # another episode began
  echo "$_c1 $_lo $_hi $_c2"
}

# "equal" / "range" (a same-millisecond tie, within bounds) / "MISMATCH" / "-"
canary_verdict() {
  [ "$1" = "-" ] && { echo "-"; return; }
  set -- $1
  if [ $# -eq 4 ]; then
    if [ "$1" -le "$3" ] && [ "$2" -le "$4" ]; then echo equal; else echo MISMATCH; fi
  elif [ "$2" -le "$1" ] && [ "$1" -le "$3" ]; then
    if [ "$2" = "$3" ]; then echo equal; else echo range; fi
  else
    echo MISMATCH
  fi
}

# ---- the console ------------------------------------------------------
cat >"$W/console.sh" <<'EOF'
#!/bin/sh
# runs inside tmux: the console as a foreground process whose pid we know
sh -c 'echo $$ > "$SOAK_W/console.pid"; exec "$SOAK_BIN" --db "$SOAK_DB"' 2>"$SOAK_W/logs/console.err"
echo $? >"$SOAK_W/console.exit.tmp" && mv "$SOAK_W/console.exit.tmp" "$SOAK_W/console.exit"
EOF
chmod +x "$W/console.sh"
tmux -L "$SOCK" -f /dev/null new-session -d -x 120 -y 40 "$W/console.sh" || { echo "soak: tmux failed" >&2; exit 1; }
capture() { tmux -L "$SOCK" capture-pane -p 2>/dev/null; }
screen_hash() { capture | cksum | cut -d' ' -f1; }
pane_title() {
  case $1 in 2) echo "─ Overview" ;; 3) echo "─ History" ;; 4) echo "─ Canary" ;;
    7) echo "─ Receipts" ;; 8) echo "─ Runs" ;; esac
}
# press_pane KEY: send the pane key, poll the screen for its title; prints
# the milliseconds it took, or FAIL after 5 s.
press_pane() {
  _t0=$(now_ms); _title=$(pane_title "$1")
  tmux -L "$SOCK" send-keys "$1" 2>/dev/null
  _i=0
  while [ "$_i" -lt 100 ]; do
    capture | sed -n 3p | grep -q -- "$_title" && { echo $(( $(now_ms) - _t0 )); return 0; }
    sleep 0.05; _i=$((_i + 1))
  done
  echo FAIL; return 1
}
_i=0
while [ ! -s "$W/console.pid" ] && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
CPID=$(cat "$W/console.pid" 2>/dev/null || true)
alive "$CPID" || { echo "soak: the console did not start: $(cat "$W/logs/console.err")" >&2; exit 1; }
_i=0
until capture | grep -q "Overview"; do
  _i=$((_i + 1)); [ "$_i" -lt 100 ] || { echo "soak: no console frame" >&2; capture >&2; exit 1; }
  sleep 0.1
done

# ---- the load ---------------------------------------------------------
# --duration is a safety net only; the writers are stopped with SIGINT.
SAFETY=$((MINUTES * 60 + 900))
# (not through the dse function: $! must be dse itself, so SIGINT reaches it)
for k in 1 2; do
  "$DSE_BIN" --db "$DB" traffic -s "$SIG" --rate "$RATE" --threads 2 --ids-per-thread 50 --thread-prefix "w$k" \
    --duration "$SAFETY" --quiet >"$W/logs/traffic$k.out" 2>"$W/logs/traffic$k.err" &
  eval "W$k=\$!"
done
say "console pid $CPID, writers $W1 $W2 at $RATE/s each, loop every ${CYCLE}s, $MINUTES min"

# about half a round of canary at 20% of 2 x RATE/s; the rest of the round
# runs without a canary, as after a promotion
MIN_SAMPLES=$((RATE * CYCLE / 5))
[ "$MIN_SAMPLES" -ge 20 ] || MIN_SAMPLES=20
[ "$MIN_SAMPLES" -le 10000 ] || MIN_SAMPLES=10000
LOOP_TIMEOUT=$((CYCLE - 30)); [ "$LOOP_TIMEOUT" -ge 30 ] || LOOP_TIMEOUT=30
CYCLES=0; CYCLE_SKIPPED=0; CYCLE_SETUP_ERR=0; LOOP_NONZERO=0; OUTCOMES=""
LAST_OUTCOME="-"

start_cycle() {
  CYCLES=$((CYCLES + 1))
  case $((CYCLES % 3)) in
    0) _in="{\"message\":\"Please call yourself Orion from now on (soak $CYCLES).\",\"blueprintHint\":{\"userHandle\":\"Soak\",\"agentName\":\"Autopilot\"}}"
       _ex='{"action":"tool","toolName":"identity_update"}' ;;
    1) _in="{\"message\":\"What is a good name for a goldfish? (soak $CYCLES)\",\"blueprintHint\":{\"userHandle\":\"Soak\",\"agentName\":\"Autopilot\"}}"
       _ex='{"action":"none"}' ;;
    2) _in="{\"message\":\"From now on answer like a terse sysadmin (soak $CYCLES).\",\"blueprintHint\":{\"userHandle\":\"Soak\",\"agentName\":\"Autopilot\"}}"
       _ex='{"action":"tool","toolName":"identity_update"}' ;;
  esac
  _log="$W/logs/cycle$CYCLES"
  dse examples put -s "$SIG" --id "soak.train.$CYCLES" --split train --input "$_in" \
    --expected "$_ex" --tags soak >"$_log.setup" 2>&1 || CYCLE_SETUP_ERR=$((CYCLE_SETUP_ERR + 1))
  dse rollback -s "$SIG" --reason "soak cycle $CYCLES: reopen for the loop" >>"$_log.setup" 2>&1 ||
    CYCLE_SETUP_ERR=$((CYCLE_SETUP_ERR + 1))
  "$DSE_BIN" --db "$DB" loop -s "$SIG" --pct 20 --min-samples "$MIN_SAMPLES" --timeout "$LOOP_TIMEOUT" \
    --traffic-threads 1 --traffic-rate 2 >"$_log.out" 2>"$_log.err" &
  LOOP_PID=$!
  LAST_OUTCOME="$CYCLES:run"
}

# collect a finished loop round
reap_cycle() {
  [ -n "$LOOP_PID" ] || return 0
  alive "$LOOP_PID" && return 0
  wait "$LOOP_PID"; _rc=$?
  LOOP_PID=""
  _o=$(sed -n '1s/^loop [^:]*: *//p' "$W/logs/cycle$CYCLES.out")
  [ -n "$_o" ] || _o="rc$_rc"
  [ "$_rc" = 0 ] || LOOP_NONZERO=$((LOOP_NONZERO + 1))
  OUTCOMES="$OUTCOMES $_o"
  LAST_OUTCOME="$CYCLES:$_o"
}

# ---- sampling ---------------------------------------------------------
printf '| min | time UTC | console RSS KiB | console CPU %% of a core | writers CPU %% of a core | machine CPU %% (all users) | WAL KiB | WAL max KiB (5 s polls) | WAL frames not checkpointed, max (5 s polls) | db KiB | receipts | +receipts | +Error receipts | canary counters | canary receipts | counters = receipts | screen changed | pane key ms | loop round |\n' >"$TABLE"
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n' >>"$TABLE"

set -- $(count_receipts)
R0=${1:-0}; E0=${2:-0}; RPREV=$R0; EPREV=$E0
T_START=$(date +%s)
T_PREV=$T_START
C_PREV=$(ticks "$CPID"); WR_PREV=$(( $(ticks "$W1") + $(ticks "$W2") ))
set -- $(machine_cpu); M_BUSY=$1; M_TOT=$2
HASH_PREV=$(screen_hash)
N=0; WAL_MAX=0; WAL_MAX_INT=0; PEND_MAX=0; PEND_MAX_INT=0; PANE_I=0
RSS_FIRST=""; RSS_WARM=""; RSS_MAX=0; RSS_LAST=""
WARM_AT=5; [ "$MINUTES" -ge 15 ] || WARM_AT=1
CHECKS=0; CHECKS_EQ=0; CHECKS_RANGE=0; CHECKS_BAD=0
FROZEN=0; KEY_FAIL=0; KEY_MAX=0; CONSOLE_DIED=""; WRITER_DIED=""
# rounds start half a minute off the samples, so samples see every phase
NEXT_SAMPLE=$((T_START + 60)); NEXT_CYCLE=$((T_START + 30))

sample() {
  N=$((N + 1))
  _now=$(date +%s); _dt=$((_now - T_PREV)); T_PREV=$_now
  if alive "$CPID"; then
    _rss=$(rss_kib "$CPID"); _ct=$(ticks "$CPID")
    _ccpu=$(pct $((_ct - C_PREV)) "$_dt"); C_PREV=$_ct
  else
    _rss="-"; _ccpu="-"
  fi
  _wt=$(( $(ticks "$W1") + $(ticks "$W2") ))
  _wcpu=$(pct $((_wt - WR_PREV)) "$_dt"); WR_PREV=$_wt
  set -- $(machine_cpu)
  _mcpu=$(awk -v b=$(($1 - M_BUSY)) -v t=$(($2 - M_TOT)) 'BEGIN { if (t <= 0) print "-"; else printf "%.1f", b * 100 / t }')
  M_BUSY=$1; M_TOT=$2
  _pend=$(wal_pending)
  [ "$_pend" -le "$PEND_MAX_INT" ] || PEND_MAX_INT=$_pend
  [ "$_pend" -le "$PEND_MAX" ] || PEND_MAX=$_pend
  _wal=$(fsize_kib "$DB-wal"); _db=$(fsize_kib "$DB")
  [ "$_wal" -le "$WAL_MAX_INT" ] || WAL_MAX_INT=$_wal
  [ "$_wal" -le "$WAL_MAX" ] || WAL_MAX=$_wal
  set -- $(count_receipts)
  _r=${1:-0}; _e=${2:-0}
  _dr=$((_r - RPREV)); _de=$((_e - EPREV)); RPREV=$_r; EPREV=$_e
  _can=$(canary_reading)
  _v=$(canary_verdict "$_can")
  case $_v in
    equal) CHECKS=$((CHECKS + 1)); CHECKS_EQ=$((CHECKS_EQ + 1)) ;;
    range) CHECKS=$((CHECKS + 1)); CHECKS_RANGE=$((CHECKS_RANGE + 1)) ;;
    MISMATCH) CHECKS=$((CHECKS + 1)); CHECKS_BAD=$((CHECKS_BAD + 1)); say "canary MISMATCH: $_can" ;;
  esac
  if [ "$_can" = "-" ]; then _cc="-"; _cr="-"
  else set -- $_can; _cc=$1; if [ "$2" = "$3" ]; then _cr=$2; else _cr="$2..$3"; fi; fi
  if [ "$_rss" != "-" ]; then
    [ -n "$RSS_FIRST" ] || RSS_FIRST=$_rss
    [ "$N" != "$WARM_AT" ] || RSS_WARM=$_rss
    [ "$_rss" -le "$RSS_MAX" ] || RSS_MAX=$_rss
    RSS_LAST=$_rss
  fi
  # frozen?  The screen must differ from the one captured after the last
  # pane key (the header clock alone moves every minute); then the next
  # pane key must be drawn within 5 s.
  _h=$(screen_hash)
  if [ "$_h" = "$HASH_PREV" ]; then _sc=SAME; FROZEN=$((FROZEN + 1)); else _sc=yes; fi
  set -- $PANES
  _k=$(( PANE_I % $# + 1 )); eval "_key=\${$_k}"; PANE_I=$((PANE_I + 1))
  if alive "$CPID"; then
    _ms=$(press_pane "$_key") || KEY_FAIL=$((KEY_FAIL + 1))
    [ "$_ms" = FAIL ] || [ "$_ms" -le "$KEY_MAX" ] || KEY_MAX=$_ms
  else
    _ms=dead; KEY_FAIL=$((KEY_FAIL + 1))
  fi
  sleep 1   # let the new pane load before the reference capture
  HASH_PREV=$(screen_hash)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
    "$N" "$(date -u +%H:%M)" "$_rss" "$_ccpu" "$_wcpu" "$_mcpu" "$_wal" "$WAL_MAX_INT" "$PEND_MAX_INT" "$_db" \
    "$_r" "$_dr" "$_de" "$_cc" "$_cr" "$_v" "$_sc" "$_ms" "$LAST_OUTCOME" >>"$TABLE"
  say "sample $N: rss ${_rss}KiB cpu ${_ccpu}% wal ${_wal}KiB (max $WAL_MAX_INT, frames $PEND_MAX_INT) receipts $_r canary $_can $_v screen $_sc key $_ms"
  WAL_MAX_INT=0; PEND_MAX_INT=0
}

while [ "$N" -lt "$MINUTES" ]; do
  _now=$(date +%s)
  _wal=$(fsize_kib "$DB-wal")
  [ "$_wal" -le "$WAL_MAX_INT" ] || WAL_MAX_INT=$_wal
  [ "$_wal" -le "$WAL_MAX" ] || WAL_MAX=$_wal
  _pend=$(wal_pending)
  [ "$_pend" -le "$PEND_MAX_INT" ] || PEND_MAX_INT=$_pend
  [ "$_pend" -le "$PEND_MAX" ] || PEND_MAX=$_pend
  reap_cycle
  if [ "$_now" -ge "$NEXT_CYCLE" ]; then
    if [ -n "$LOOP_PID" ]; then CYCLE_SKIPPED=$((CYCLE_SKIPPED + 1)); else start_cycle; fi
    NEXT_CYCLE=$((NEXT_CYCLE + CYCLE))
  fi
  [ "$_now" -lt "$NEXT_SAMPLE" ] || { sample; NEXT_SAMPLE=$((NEXT_SAMPLE + 60)); }
  if [ -z "$CONSOLE_DIED" ] && ! alive "$CPID"; then CONSOLE_DIED="minute $N"; say "the console died"; fi
  for _p in "$W1" "$W2"; do
    if [ -z "$WRITER_DIED" ] && ! alive "$_p"; then WRITER_DIED="minute $N"; say "writer $_p died"; fi
  done
  [ "$N" -lt "$MINUTES" ] || break
  _s=$((NEXT_SAMPLE - $(date +%s)))
  [ "$_s" -le "$TICK" ] || _s=$TICK
  [ "$_s" -ge 1 ] || _s=1
  sleep "$_s"
done
T_END=$(date +%s)
WAL_OPEN_END=$(fsize_kib "$DB-wal")

# ---- stop cleanly -----------------------------------------------------
say "stopping"
if [ -n "$LOOP_PID" ]; then
  stop_pid "$LOOP_PID"
  _o=$(sed -n '1s/^loop [^:]*: *//p' "$W/logs/cycle$CYCLES.out")
  OUTCOMES="$OUTCOMES ${_o:-interrupted}(at-end)"
  LOOP_PID=""
fi
stop_pid "$W1"; RC_W1=$?
stop_pid "$W2"; RC_W2=$?
W1_PID=$W1; W2_PID=$W2; W1=""; W2=""
# load stopped: the console must still answer a key and quit on q
sleep 2
FINAL_KEY=dead; QUIT_RC=none
if alive "$CPID"; then
  if capture | sed -n 3p | grep -q -- "─ Overview"; then _fk=7; else _fk=2; fi
  FINAL_KEY=$(press_pane "$_fk")
  tmux -L "$SOCK" send-keys q
  _i=0
  while [ ! -f "$W/console.exit" ] && [ "$_i" -lt 150 ]; do sleep 0.1; _i=$((_i + 1)); done
  QUIT_RC=$(cat "$W/console.exit" 2>/dev/null || echo "no exit after 15 s")
fi
tmux -L "$SOCK" kill-server 2>/dev/null || true
_i=0
while alive "$CPID" && [ "$_i" -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done

# ---- after: integrity, episodes, errors --------------------------------
set -- $(count_receipts)
R_END=${1:-0}; E_END=${2:-0}
WAL_CLOSED=$(fsize_kib "$DB-wal"); DB_END=$(fsize_kib "$DB")
if [ -n "$SQLITE3" ]; then
  INTEGRITY=$(sq "PRAGMA integrity_check" 2>&1 | head -n 5 | tr '\n' ' ' | sed 's/ *$//')
  INTEGRITY_HOW="sqlite3 PRAGMA integrity_check"
  # every canary episode closed by stop/auto_stop: its final counts vs its
  # receipts between the two history rows (ties at either end widen lo..hi)
  sq "WITH h AS (SELECT id, action, canary_compiled_id AS cid, createdAtMs AS t,
                       okCount + errorCount AS n FROM dseCanaryHistory WHERE signatureId = '$SIGID'),
      ep AS (SELECT s.id AS sid, s.cid, s.t AS t0,
               (SELECT min(x.id) FROM h x WHERE x.id > s.id) AS nid
             FROM h s WHERE s.action IN ('start', 'update'))
      SELECT ep.sid, e.action, e.n,
        (SELECT count(*) FROM receipts r WHERE r.signatureId = '$SIGID' AND r.compiled_id = ep.cid
           AND r.resultTag IN ('Ok', 'Error') AND r.createdAtMs > ep.t0 AND r.createdAtMs < e.t),
        (SELECT count(*) FROM receipts r WHERE r.signatureId = '$SIGID' AND r.compiled_id = ep.cid
           AND r.resultTag IN ('Ok', 'Error') AND r.createdAtMs >= ep.t0 AND r.createdAtMs <= e.t)
      FROM ep JOIN h e ON e.id = ep.nid WHERE e.action IN ('stop', 'auto_stop')" \
    >"$W/logs/episodes.txt" 2>&1
  EP_N=$(grep -c . "$W/logs/episodes.txt")
  EP_BAD=$(awk -F'|' 'NF != 5 || $3 < $4 || $3 > $5' "$W/logs/episodes.txt" | grep -c .)
else
  INTEGRITY_HOW="no sqlite3: read back every receipt, the canary and the runs through dse"
  rm -f "$W/walk.state"
  if _rb=$(dse_walk_receipts) && dse --read-only signatures >/dev/null &&
     dse --read-only canary history -s "$SIG" >/dev/null && dse --read-only runs >/dev/null; then
    INTEGRITY="ok (read back ${_rb%% *} receipts)"
  else
    INTEGRITY="read-back FAILED"
  fi
  EP_N=0; EP_BAD=0
fi
# a running canary at the end (the loop was stopped, so normally none)
FINAL_CAN=$(canary_reading)
FINAL_V=$(canary_verdict "$FINAL_CAN")
[ "$FINAL_V" != MISMATCH ] || CHECKS_BAD=$((CHECKS_BAD + 1))

traffic_sum() { sed -n 's/^  ok \([0-9]*\)  error \([0-9]*\)  unrecorded \([0-9]*\).*/ok \1, error \2, unrecorded \3/p' "$1"; }
UNREC=$(cat "$W/logs/traffic1.out" "$W/logs/traffic2.out" | sed -n 's/.*unrecorded \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s + 0}')
# error lines in every stderr log, less our own end-of-run cancel of a loop
grep -i -E 'locked|busy|storage_error|error:|fatal|abort|assert|sanitizer|dse:' \
  "$W"/logs/traffic*.err "$W"/logs/cycle*.err "$W"/logs/console.err 2>/dev/null |
  grep -v 'canceled: the loop was interrupted' >"$W/logs/errors.txt"
ERR_LINES=$(grep -c . "$W/logs/errors.txt")
TALLY=$(printf '%s\n' $OUTCOMES | grep . | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}')

# ---- verdicts ---------------------------------------------------------
FAILS=""
# verdict VAR MESSAGE CONDITION: VAR=FAIL (and MESSAGE noted) when CONDITION holds
verdict() {
  if eval "$3"; then eval "$1=FAIL"; FAILS="$FAILS
- $2"; else eval "$1=PASS"; fi
}
verdict V_COUNT "canary counters != canary receipts ($CHECKS_BAD live samples, $EP_BAD closed episodes)" \
  '[ "$CHECKS_BAD" -gt 0 ] || [ "$EP_BAD" -gt 0 ]'
verdict V_INTEG "integrity: $INTEGRITY" 'case $INTEGRITY in ok*) false ;; *) true ;; esac'
verdict V_WAL "WAL reached ${WAL_MAX} KiB (limit $WAL_LIMIT_KIB KiB)" '[ "$WAL_MAX" -gt "$WAL_LIMIT_KIB" ]'
[ -n "$RSS_WARM" ] || RSS_WARM=${RSS_FIRST:-0}
verdict V_RSS "console RSS grew from $RSS_WARM KiB (warm-up) to ${RSS_LAST:-?} KiB" \
  '[ -z "$RSS_LAST" ] || [ "$RSS_LAST" -gt $((2 * RSS_WARM)) ]'
verdict V_CONSOLE "console frozen or gone (died: ${CONSOLE_DIED:-no}, unchanged screens $FROZEN, pane keys failed $KEY_FAIL, final key $FINAL_KEY, q exit $QUIT_RC)" \
  '[ -n "$CONSOLE_DIED" ] || [ "$FROZEN" -gt 0 ] || [ "$KEY_FAIL" -gt 0 ] || [ "$FINAL_KEY" = FAIL ] || [ "$FINAL_KEY" = dead ] || [ "$QUIT_RC" != 0 ]'
verdict V_LOAD "a traffic writer died early (${WRITER_DIED:-no}) or failed (rc $RC_W1/$RC_W2)" \
  '[ -n "$WRITER_DIED" ] || [ "$RC_W1" != 0 ] || [ "$RC_W2" != 0 ]'

{
  echo "# dse overnight soak"
  echo
  echo "- started $(date -u -d "@$T_START" '+%Y-%m-%d %H:%M:%S UTC'), ran $(( (T_END - T_START) / 60 )) min $(( (T_END - T_START) % 60 )) s, $N samples"
  echo "- machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%d MiB", $2 / 1024}' /proc/meminfo), $(uname -sr); dse $("$DSE_BIN" --version 2>/dev/null)"
  echo "- load: 2 \`dse traffic\` writers x $RATE predicts/s (2 threads x 50 thread ids each, local-knn);"
  echo "  a loop round every ${CYCLE}s (examples put + rollback + \`dse loop --pct 20 --min-samples $MIN_SAMPLES --traffic-rate 2\`);"
  echo "  the console (\`dse --db\`, refresh 1000 ms) in tmux 120x40, pane key rotated ($PANES) after each sample"
  echo "- store: $DB"
  echo
  echo "## Figures"
  echo
  echo "- receipts: $R0 at start -> $R_END at end (+$((R_END - R0)) written; +$((E_END - E0)) with result Error)"
  echo "- writers: 1: $(traffic_sum "$W/logs/traffic1.out"); 2: $(traffic_sum "$W/logs/traffic2.out")"
  echo "- loop rounds: $CYCLES started, $CYCLE_SKIPPED skipped (previous still running); outcomes: ${TALLY:-none}; non-zero exits $LOOP_NONZERO; setup command failures $CYCLE_SETUP_ERR"
  echo "- WAL: max $WAL_MAX KiB (5 s polls, console open), at most $PEND_MAX frames not yet checkpointed (wal-index mxFrame - nBackfill; autocheckpoint at 2000), $WAL_OPEN_END KiB at the end with the console open, $WAL_CLOSED KiB after everything closed"
  echo "- db: $DB_END KiB at the end"
  echo "- console RSS: first ${RSS_FIRST:-?} KiB, after warm-up (sample $WARM_AT) $RSS_WARM KiB, last ${RSS_LAST:-?} KiB, max $RSS_MAX KiB"
  echo "- console: screen unchanged between samples $FROZEN times; pane key failed $KEY_FAIL times, slowest ${KEY_MAX} ms (screen polled every 50 ms); after the load stopped: pane key ${FINAL_KEY} ms; q -> exit code $QUIT_RC"
  echo "- canary counters vs receipts: $CHECKS live samples with a running canary, $CHECKS_EQ equal, $CHECKS_RANGE within a same-ms tie, $CHECKS_BAD mismatched; closed episodes (stop/auto_stop) $EP_N checked, $EP_BAD mismatched; at the end: $FINAL_V"
  echo "- integrity ($INTEGRITY_HOW): $INTEGRITY"
  echo "- errors: unrecorded receipts $UNREC; error lines in stderr logs $ERR_LINES (logs/errors.txt)"
  echo
  echo "## Verdicts"
  echo
  echo "| check | verdict |"
  echo "|---|---|"
  echo "| counters == receipts (every sample, every closed episode) | $V_COUNT |"
  echo "| integrity | $V_INTEG |"
  echo "| WAL bounded (<= $((WAL_LIMIT_KIB / 1024)) MiB) | $V_WAL |"
  echo "| console RSS last <= 2 x warm-up | $V_RSS |"
  echo "| console live and responsive | $V_CONSOLE |"
  echo "| load sustained | $V_LOAD |"
  echo
  echo "## Samples"
  echo
  cat "$TABLE"
} >"$REPORT"
cat "$REPORT"
if [ -n "$FAILS" ]; then
  printf 'soak: FAILED:%s\n' "$FAILS" >&2
  [ -s "$W/logs/errors.txt" ] && { echo "--- first error lines ---" >&2; head -n 20 "$W/logs/errors.txt" >&2; }
  exit 1
fi
STATUS=0
say "passed"
exit 0
