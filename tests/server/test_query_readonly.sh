#!/bin/sh
# A query never writes: a read token calls dsex/lmCache:get through
# /api/query, and twenty gets (hits and misses) leave the database and WAL
# files byte-identical, the change counter where it was, and the stored hit
# column untouched (before, every get bumped dseLmCache.hits inside the
# query).  Writing the cache still needs an admin token.
. "$DSE_SRCDIR/tests/server/common.sh"

"$DSE_BIN" --db "$tmp/dse.db" init >/dev/null || fail "init"
start_server --tokens "$tmp/tokens"

call mutation "$ADMIN" '{"path":"dsex/lmCache:put","args":{"key":"sha256:k1","model":"m1","response":{"text":"hi"}}}'
expect 200 '"status":"success"'
call mutation "$READ" '{"path":"dsex/lmCache:put","args":{"key":"sha256:k2","model":"m1","response":{"text":"no"}}}'
[ "$code" != 200 ] || fail "a read token wrote the LM cache"

files_sum() { cat "$tmp/dse.db" "$tmp/dse.db-wal" 2>/dev/null | cksum; }
counter() {
  call query "$READ" '{"path":"dsex/meta:changeCounter","args":{}}'
  expect 200 '"status":"success"'
  sed -n 's/.*"counter":\([0-9]*\).*/\1/p' "$tmp/body"
}

c0=$(counter)
sum0=$(files_sum)
i=0
while [ $i -lt 20 ]; do
  call query "$READ" '{"path":"dsex/lmCache:get","args":{"key":"sha256:k1"}}'
  expect 200 '"status":"success"' '"model":"m1"' '"text":"hi"'
  call query "$READ" '{"path":"dsex/lmCache:get","args":{"key":"sha256:missing"}}'
  expect 200 '"status":"success"' '"entry":null'
  i=$((i + 1))
done
sum1=$(files_sum)
c1=$(counter)
[ "$c0" = "$c1" ] || fail "change counter moved during queries: $c0 -> $c1"
[ "$sum0" = "$sum1" ] || fail "the database or WAL file changed during 40 queries"
hits=$(sqlite3 -readonly "$tmp/dse.db" "SELECT hits FROM dseLmCache WHERE key = 'sha256:k1'")
[ "$hits" = 0 ] || fail "dseLmCache.hits is $hits after gets (a query wrote)"

stop_server
[ "$stop_rc" = 0 ] || fail "dse serve exited $stop_rc on SIGTERM"
echo "ok: dsex/lmCache:get with a read token writes nothing"
