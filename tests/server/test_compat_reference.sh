#!/bin/sh
# Promote and canary start through a plain reference deployment: a small
# node proxy in front of `dse serve` answers every dsex/ function the way a
# Convex deployment of the reference functions does ("Could not find public
# function"), so dse sees no extension.  There an artifact with dse's
# train-split demos is refused (incompatible_artifact, one line per problem,
# the fix), `dse compile --profile reference` makes one that is promoted,
# and --force overrides.  `dse loop` there compiles with that profile by
# itself and promotes.  `dse serve` itself (extensions listed) and the
# SQLite store never refuse.
. "$(dirname "$0")/common.sh"
: "${DSE_SRCDIR:?DSE_SRCDIR must point at the source tree}"
command -v node >/dev/null 2>&1 || fail "node is not installed (make installs nodejs)"

D="$DSE_BIN"
SIG=@openagents/autopilot/blueprint/SelectTool.v1
FIX="$DSE_SRCDIR/db/datasets/selecttool.dataset.v1.jsonl"
ppid=""
stop_proxy() { [ -n "$ppid" ] && { kill "$ppid" 2>/dev/null || true; wait "$ppid" 2>/dev/null || true; }; ppid=""; }
trap 'stop_proxy; cleanup' EXIT

expect_rc() { want=$1; shift; set +e; "$@" >"$tmp/o" 2>"$tmp/e"; got=$?; set -e
  [ "$got" = "$want" ] || { cat "$tmp/o" "$tmp/e" >&2; fail "exit $got (want $want): $*"; }; }
jget() { sed -n "s/^  \"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$2" | head -n 1; }

# a store with the examples, served
expect_rc 0 "$D" --db "$tmp/dse.db" init
expect_rc 0 "$D" --db "$tmp/dse.db" examples import "$FIX" --signature "$SIG"
start_server
node "$DSE_SRCDIR/tests/server/plain_reference_proxy.js" "$url" >"$tmp/proxy.out" 2>"$tmp/proxy.err" &
ppid=$!
purl=""
i=0
while [ $i -lt 200 ] && [ -z "$purl" ]; do
  purl=$(sed -n 's/^proxy on \(http:[^ ]*\)$/\1/p' "$tmp/proxy.out")
  [ -n "$purl" ] || { kill -0 "$ppid" 2>/dev/null || fail "proxy exited: $(cat "$tmp/proxy.err")"; sleep 0.05; }
  i=$((i + 1))
done
[ -n "$purl" ] || fail "proxy did not start"

# the loop on the plain deployment compiles with the reference profile and
# gets its canary started and promoted
expect_rc 0 "$D" --remote "$purl" --json loop --signature "$SIG"
grep -q '"outcome": "promoted"' "$tmp/o" || fail "loop: $(cat "$tmp/o" "$tmp/e")"
LOOPID=$(sed -n 's/^    "compiled_id": "\(sha256:[0-9a-f]*\)",\{0,1\}$/\1/p' "$tmp/o" | head -n 1)

# both compiles on the local store: the profile's is the loop's
expect_rc 0 "$D" --db "$tmp/dse.db" --json compile --signature "$SIG"
DEF=$(jget compiled_id "$tmp/o"); DEFJOB=$(jget jobHash "$tmp/o")
expect_rc 0 "$D" --db "$tmp/dse.db" --json compile --signature "$SIG" --profile reference
REF=$(jget compiled_id "$tmp/o"); REFJOB=$(jget jobHash "$tmp/o")
[ "$(jget existed "$tmp/o")" = true ] || fail "the loop did not compile with the profile"
[ "$REF" = "$LOOPID" ] || fail "loop chose '$LOOPID', the profile $REF"
[ "$DEFJOB" != "$REFJOB" ] || fail "the reference profile has the default job"
[ "$DEF" != "$REF" ] || fail "both compiles chose $DEF"
expect_rc 2 "$D" --db "$tmp/dse.db" compile --signature "$SIG" --profile strict
grep -q 'profile must be "reference"' "$tmp/e" || fail "bad profile: $(cat "$tmp/e")"

# the default job's artifact: refused for promote and canary, nothing written
expect_rc 1 "$D" --remote "$purl" promote --signature "$SIG" --compiled-id "$DEF" --min-delta -1
grep -q "incompatible_artifact" "$tmp/e" || fail "promote not refused: $(cat "$tmp/e")"
grep -q "dse compile --profile reference" "$tmp/e" || fail "no fix in: $(cat "$tmp/e")"
grep -q -- "--force" "$tmp/e" || fail "no --force hint in: $(cat "$tmp/e")"
grep -q "^  params.fewShot.demos: " "$tmp/e" || fail "no per-field line: $(cat "$tmp/e")"
grep -q "^  params.fewShot.exampleIds: .*PromptRenderError" "$tmp/e" || fail "no render line: $(cat "$tmp/e")"
grep -q "^    fix: " "$tmp/e" || fail "no fix lines: $(cat "$tmp/e")"
expect_rc 1 "$D" --remote "$purl" canary start --signature "$SIG" --compiled-id "$DEF" --pct 50 --skip-gate
grep -q "incompatible_artifact" "$tmp/e" || fail "canary not refused: $(cat "$tmp/e")"
expect_rc 0 "$D" --remote "$purl" --json canary status --signature "$SIG"
grep -q '"canary": null' "$tmp/o" || fail "a canary was started: $(cat "$tmp/o")"
expect_rc 0 "$D" --remote "$purl" --json active --signature "$SIG"
grep -q "\"compiled_id\": \"$REF\"" "$tmp/o" || fail "the pointer moved: $(cat "$tmp/o")"

# the reference profile's artifact: promoted through the gate
expect_rc 0 "$D" --remote "$purl" --json promote --signature "$SIG" --compiled-id "$REF" --min-delta -1
[ "$(jget to "$tmp/o")" = "$REF" ] || fail "promote to: $(cat "$tmp/o")"
[ "$(jget jobHash "$tmp/o")" = "$REFJOB" ] || fail "gate used job $(jget jobHash "$tmp/o")"

# --force overrides, for canary start and promote
expect_rc 0 "$D" --remote "$purl" canary start --signature "$SIG" --compiled-id "$DEF" --pct 50 --skip-gate --force
expect_rc 0 "$D" --remote "$purl" --json promote --signature "$SIG" --compiled-id "$DEF" --min-delta -1 --force
[ "$(jget to "$tmp/o")" = "$DEF" ] || fail "forced promote to: $(cat "$tmp/o")"
stop_proxy

# `dse serve` lists its extensions: no check there, nor on SQLite
expect_rc 0 "$D" --remote "$url" promote --signature "$SIG" --compiled-id "$REF" --min-delta -1
expect_rc 0 "$D" --remote "$url" promote --signature "$SIG" --compiled-id "$DEF" --min-delta -1
stop_server
expect_rc 0 "$D" --db "$tmp/dse.db" promote --signature "$SIG" --compiled-id "$REF" --min-delta -1
expect_rc 0 "$D" --db "$tmp/dse.db" promote --signature "$SIG" --compiled-id "$DEF" --min-delta -1
echo "ok"
