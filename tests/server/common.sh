# Sourced by tests/server/test_*.sh: a temp dir with a tokens file, and
# helpers to run `dse serve` on a free loopback port and call it with curl.
# POSIX sh.  Every wait is a bounded retry loop, never a bare sleep.
set -eu
: "${DSE_BIN:?DSE_BIN must point at the dse binary}"

tmp=$(mktemp -d)
pid=""
url=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$tmp/err" ]; then echo "--- server log (tail):" >&2; tail -n 15 "$tmp/err" >&2; fi
  exit 1
}

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
ADMIN="adm-$(rand_hex 16)"
READ="rd-$(rand_hex 16)"
printf '# test tokens\nadmin %s ops\n\nread %s viewer\n' "$ADMIN" "$READ" >"$tmp/tokens"
chmod 600 "$tmp/tokens"

# start_server [serve options...]: starts `dse serve` on 127.0.0.1:0 unless
# the options give --listen; sets $pid and $url once /healthz answers.
start_server() {
  : >"$tmp/out"
  case " $* " in
    *" --listen "*) "$DSE_BIN" --db "$tmp/dse.db" serve "$@" >"$tmp/out" 2>>"$tmp/err" & ;;
    *) "$DSE_BIN" --db "$tmp/dse.db" serve --listen 127.0.0.1:0 "$@" >"$tmp/out" 2>>"$tmp/err" & ;;
  esac
  pid=$!
  i=0
  while [ $i -lt 200 ]; do
    url=$(sed -n 's/^dse serve: listening on \(http:[^ ]*\)$/\1/p' "$tmp/out")
    if [ -n "$url" ] && curl -fsS --max-time 2 "$url/healthz" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { pid=""; fail "dse serve exited during start-up"; }
    sleep 0.05
    i=$((i + 1))
  done
  fail "dse serve did not answer /healthz within 10 s"
}

# stop_server: SIGTERM and wait; sets $stop_rc.
stop_server() {
  kill -TERM "$pid"
  stop_rc=0
  wait "$pid" || stop_rc=$?
  pid=""
}

# call KIND TOKEN BODY: POST {url}/api/KIND; sets $code, body in $tmp/body.
# TOKEN "-" sends no Authorization header.
call() {
  if [ "$2" = "-" ]; then
    code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -X POST \
      -H 'Content-Type: application/json' --data-binary "$3" "$url/api/$1")
  else
    code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -X POST \
      -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
      --data-binary "$3" "$url/api/$1")
  fi
}

# expect CODE [TEXT...]: the last call's status and body contents.
expect() {
  want=$1
  shift
  [ "$code" = "$want" ] || fail "expected HTTP $want, got $code: $(head -c 300 "$tmp/body")"
  for t in "$@"; do
    grep -qF -- "$t" "$tmp/body" || fail "HTTP $code body lacks '$t': $(head -c 300 "$tmp/body")"
  done
}
