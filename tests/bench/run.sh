#!/bin/sh
# `make bench`: build a large store once (seeded, reused while its stamp
# matches), run every benchmark, print the table and write it to
# $DSE_BENCH_BIN/results.md.  Benchmarks measure; nothing here fails on a
# missed target (a program that breaks does fail the run).
#
# Knobs (environment):
#   BENCH_RECEIPTS (1000000)  BENCH_EXAMPLES (100000)  BENCH_SEED (1)
#   BENCH_SECONDS (5)         seconds per wrk run
#   BENCH_LM_LATENCY (50)     ms per fake LM call
#   BENCH_OWN_CLIENT (0)      1: also measure dse serve with bench_http (always when no wrk)
#   BENCH_TOKEN_SAMPLES (20000)  requests per kind of token for bench_token_timing
#   BENCH_ONLY                space-separated subset: gen receipts serve token compile console
set -u
: "${DSE_BIN:?}" "${DSE_SRCDIR:?}" "${DSE_BENCH_BIN:?}"
B=$DSE_BENCH_BIN
N_RC=${BENCH_RECEIPTS:-1000000}
N_EX=${BENCH_EXAMPLES:-100000}
SEED=${BENCH_SEED:-1}
SECS=${BENCH_SECONDS:-5}
LAT=${BENCH_LM_LATENCY:-50}
TOK_N=${BENCH_TOKEN_SAMPLES:-20000}
ONLY=${BENCH_ONLY:-gen receipts serve token compile console}
DATASET="$DSE_SRCDIR/db/datasets/selecttool.dataset.v1.jsonl"
[ -f "$DATASET" ] || DATASET="$DSE_SRCDIR/tests/fuzz/corpus/fuzz_dataset/selecttool.jsonl"
rows="$B/rows.txt"; : >"$rows"
log="$B/bench.log"; : >"$log"
tmp=$(mktemp -d)
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
say() { echo "bench: $*" >&2; }
collect() { tee -a "$log" | grep '^ROW|' >>"$rows"; }

# ---- the large store -------------------------------------------------
big="$B/large.db"
stamp="receipts=$N_RC examples=$N_EX seed=$SEED"
if want gen || want console || want serve; then
  if [ -f "$big" ] && [ "$(cat "$big.stamp" 2>/dev/null)" = "$stamp" ]; then
    say "reusing $big ($stamp; generator figures from when it was built)"
    want gen && [ -f "$big.rows" ] && cat "$big.rows" >>"$rows"
  else
    say "generating $big ($stamp); takes a few minutes"
    rm -f "$big" "$big-wal" "$big-shm" "$big.stamp" "$big.rows"
    "$B/bench_gen" "$big" --receipts "$N_RC" --examples "$N_EX" --seed "$SEED" | tee -a "$log" |
      grep '^ROW|' >"$big.rows" || exit 1
    cat "$big.rows" >>"$rows"
    echo "$stamp" >"$big.stamp"
  fi
fi

# ---- receipts, local -------------------------------------------------
if want receipts; then
  say "receipt recording, local"
  "$B/bench_receipts" --db "$tmp/rc.db" --label local | collect || exit 1
  rm -f "$tmp"/rc.db*
  say "the same rows through plain SQLite (the storage ceiling)"
  "$B/bench_sqlite_floor" "$tmp" | collect || exit 1
fi

# ---- dse serve ---------------------------------------------------------
start_serve() { # DB -> sets srv, url
  : >"$tmp/serve.out"
  "$DSE_BIN" --db "$1" serve --listen 127.0.0.1:0 --tokens "$tmp/tokens" --log /dev/null \
    --max-connections 256 >"$tmp/serve.out" 2>"$tmp/serve.err" &
  srv=$!
  i=0; url=""
  while [ $i -lt 200 ] && [ -z "$url" ]; do
    url=$(sed -n 's/^dse serve: listening on \(http:[^ ]*\)$/\1/p' "$tmp/serve.out"); i=$((i + 1)); sleep 0.05
  done
  [ -n "$url" ] || { say "dse serve did not start: $(cat "$tmp/serve.err")"; exit 1; }
}
stop_serve() { kill -TERM "$srv"; wait "$srv" 2>/dev/null; srv=""; }
if want serve; then
  ADMIN="bench-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  printf 'admin %s bench\n' "$ADMIN" >"$tmp/tokens"; chmod 600 "$tmp/tokens"
  if ! command -v wrk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing wrk (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; }
  fi
  start_serve "$big"
  if command -v wrk >/dev/null 2>&1; then
    for c in 1 8 64; do
      t=2; [ $c = 1 ] && t=1
      say "wrk: $c keep-alive connections, ${SECS}s"
      DSE_BENCH_TOKEN="$ADMIN" wrk -t$t -c$c -d"${SECS}s" -s "$DSE_SRCDIR/tests/bench/wrk_query.lua" \
        "$url" >"$tmp/wrk.$c" 2>&1
      cat "$tmp/wrk.$c" >>"$log"
      line=$(grep '^WRK ' "$tmp/wrk.$c")
      reqs=$(echo "$line" | sed 's/.*requests=\([0-9]*\).*/\1/')
      dur=$(echo "$line" | sed 's/.*duration_us=\([0-9]*\).*/\1/')
      p50=$(echo "$line" | sed 's/.*p50_us=\([0-9]*\).*/\1/')
      p99=$(echo "$line" | sed 's/.*p99_us=\([0-9]*\).*/\1/')
      errs=$(echo "$line" | sed 's/.*errors=\([0-9]*\).*/\1/')
      if [ -z "$line" ]; then say "wrk failed: $(tail -n 3 "$tmp/wrk.$c")"; continue; fi
      awk -v r="$reqs" -v d="$dur" -v p50="$p50" -v p99="$p99" -v e="$errs" -v c="$c" 'BEGIN {
        rate = r / (d / 1e6);
        printf "ROW|dse serve small queries/s, %d keep-alive client%s (wrk, loopback)|>= 5,000/s|%.0f /s|%.2f|p50 %.2f ms, p99 %.2f ms, %d errors\n",
          c, (c > 1 ? "s" : ""), rate, 5000 / rate, p50 / 1000, p99 / 1000, e }' >>"$rows"
    done
  fi
  # our own bounded client: when wrk is missing, or as a cross-check
  if ! command -v wrk >/dev/null 2>&1 || [ "${BENCH_OWN_CLIENT:-0}" = 1 ]; then
    command -v wrk >/dev/null 2>&1 || say "wrk is not installed (apt-get install wrk): using bench_http"
    hostport=${url#http://}
    for c in 1 8 64; do
      say "bench_http: $c keep-alive connections, ${SECS}s"
      "$B/bench_http" "$hostport" "$ADMIN" "$c" "$SECS" | collect
    done
  fi
  stop_serve
  say "receipt recording through dse serve"
  start_serve "$tmp/remote.db"
  "$B/bench_receipts" --remote "$url" --token "$ADMIN" --batched 50000 --single 5000 \
    --label "through dse serve" | collect || { stop_serve; exit 1; }
  stop_serve
fi

# ---- bearer-token timing ------------------------------------------------
# Its own small store and a 64-character admin token; the figure is whether
# a wrong token's response time shows how much of it matched.
if want token; then
  say "bearer-token timing: 4 kinds x $TOK_N requests (about 20 s)"
  TT="bench-tokentime-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  printf 'admin %s bench\n' "$TT" >"$tmp/tokens"; chmod 600 "$tmp/tokens"
  start_serve "$tmp/token.db"
  "$B/bench_token_timing" "${url#http://}" "$TT" "$TOK_N" "$SEED" | collect ||
    say "token timing benchmark failed (see $log)"
  stop_serve
fi

# ---- compile ------------------------------------------------------------
if want compile; then
  say "compile against a ${LAT} ms fake LM at concurrency 1, 4, 16; local-knn"
  "$B/bench_compile" "$DATASET" --latency "$LAT" | collect || exit 1
fi

# ---- console --------------------------------------------------------------
if want console; then
  if "$DSE_BIN" console --help >/dev/null 2>&1; then
    say "console in a pseudo-terminal on the large store"
    "$B/bench_console" "$DSE_BIN" "$big" | collect || say "console benchmark failed (see $log)"
  else
    echo "ROW|console first frame, key -> frame, RSS|<= 100 ms, <= 16 ms p99, <= 32 MiB|not measured|-|dse console not built" >>"$rows"
  fi
fi

# ---- the table ------------------------------------------------------------
cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
rev=$(git -C "$DSE_SRCDIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "## Benchmarks"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($cpu), $mem RAM,"
  echo "$(uname -sr), commit $rev, with \`make bench\`"
  echo "(store: $N_RC receipts, $N_EX examples, seed $SEED; fake LM latency $LAT ms)."
  echo "Ratio: measured / target for \"at most\" targets, target / measured for \"at least\";"
  echo "<= 1.00 means the target was met."
  echo
  echo "| figure | target | measured | ratio | notes |"
  echo "|---|---|---|---|---|"
  while IFS='|' read -r _ fig target meas ratio note; do
    verdict=""
    case "$ratio" in
      -|"") ;;
      *) verdict=$(awk -v r="$ratio" 'BEGIN { if (r <= 1.0) print "met"; else if (r < 2) printf "missed by %.0f%%", (r - 1) * 100; else printf "missed by a factor of %.1f", r }') ;;
    esac
    echo "| $fig | $target | $meas | $ratio${verdict:+ ($verdict)} | $note |"
  done <"$rows"
} >"$B/results.md"
cat "$B/results.md"
say "table written to $B/results.md (full log: $log)"
