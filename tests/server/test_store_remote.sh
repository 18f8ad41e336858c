#!/bin/sh
# The store test suite (tests/unit/test_store.c) against the remote back end:
# `dse serve` on a free loopback port over a temporary store, and the same
# test binary with DSE_TEST_STORE_URL/DSE_TEST_STORE_TOKEN set.
. "$DSE_SRCDIR/tests/server/common.sh"

bin="$(dirname "$DSE_BIN")/tests/test_store"
if [ ! -f "$DSE_SRCDIR/tests/unit/test_store.c" ]; then
  echo "skip: tests/unit/test_store.c does not exist yet"
  exit 0
fi
[ -x "$bin" ] || fail "$bin is not built (make builds unit tests before scripted ones)"

start_server --tokens "$tmp/tokens" --timeout 30
DSE_TEST_STORE_URL="$url" DSE_TEST_STORE_TOKEN="$ADMIN" DSE_SRCDIR="$DSE_SRCDIR" "$bin" \
  >"$tmp/suite" 2>&1 || { cat "$tmp/suite" >&2; fail "store suite failed against $url"; }
tail -n 3 "$tmp/suite"
stop_server
[ "$stop_rc" = 0 ] || fail "dse serve exited $stop_rc on SIGTERM"
echo "ok: store suite over HTTP"
