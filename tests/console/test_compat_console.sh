#!/bin/sh
# The console on a plain reference deployment (a node proxy in front of
# `dse serve` that hides every dsex/ extension, as a Convex deployment of the
# reference functions does): `c` compiles with the reference profile, as
# `dse loop` does there, so `p` can promote what it compiled instead of
# being refused with incompatible_artifact.  Its signature list, stats and
# example counts come from the built-in catalog and the reference's lists.  The pointer then names the
# artifact `dse compile --profile reference` finds already compiled.
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null 2>&1 || fail "node is not installed (make installs nodejs)"
SIG=SelectTool.v1
prepare_store
start_server
PPID_PROXY=""
stop_proxy() { [ -n "$PPID_PROXY" ] && { kill "$PPID_PROXY" 2>/dev/null || true; wait "$PPID_PROXY" 2>/dev/null || true; }; PPID_PROXY=""; }
trap 'stop_proxy; cleanup' EXIT
node "$DSE_SRCDIR/tests/server/plain_reference_proxy.js" "http://127.0.0.1:$PORT" >"$T/proxy.out" 2>"$T/proxy.err" &
PPID_PROXY=$!
wait_cmd 10 grep -q "^proxy on " "$T/proxy.out"
PURL=$(sed -n 's/^proxy on \(http:[^ ]*\)$/\1/p' "$T/proxy.out")
[ -n "$PURL" ] || fail "proxy did not start: $(cat "$T/proxy.err")"

cat >"$T/run.sh" <<RUN
#!/bin/sh
"$DSE_BIN" --remote "$PURL" console --no-state --signature $SIG --pane compile 2>"$T/stderr.txt"
echo \$? > "$T/exit.tmp"; mv "$T/exit.tmp" "$T/exit.txt"
RUN
chmod +x "$T/run.sh"; rm -f "$T/exit.txt"
tmux_new "$T/run.sh"
wait_for "no compile reports"
# signatures, their stats and the example counts come from the built-in
# catalog and the reference's list functions (no dsex/ there)
wait_for "Signatures .* 1/8"
capture
grep -q "unsupported" "$T/screen.txt" && fail "the console shows the missing extensions as errors"
grep -q "STALE" "$T/screen.txt" && fail "a plain deployment's panes are marked stale"
keys 6; wait_for "labeled 0/34 "
keys 5; wait_for "Compile · $SIG"
keys A; wait_for "ARMED"
keys c; wait_for "compile $SIG: optimizer "
keys y
wait_for "compiled $SIG: sha256:" 120
keys p; wait_for "promote $SIG: (none) -> "
keys y
wait_for "promoted $SIG" 60
capture
grep -q "incompatible_artifact" "$T/screen.txt" && fail "the console compiled an artifact the reference cannot run"

# what the console promoted is the reference profile's artifact
stop_proxy
quit_console
ACT=$(dse active show --signature $SIG --json | tr -d ' \n' | sed -n 's/.*"compiled_id":"\([^"]*\)".*/\1/p')
[ -n "$ACT" ] || fail "no pointer after the console's promote"
dse compile --signature $SIG --profile reference --json > "$T/ref.json" 2>"$T/ref.err" || fail "compile --profile reference: $(cat "$T/ref.err")"
tr -d ' \n' < "$T/ref.json" | grep -q "\"compiled_id\":\"$ACT\"" ||
  fail "the console promoted $ACT, not the reference profile's artifact: $(cat "$T/ref.json")"
tr -d ' \n' < "$T/ref.json" | grep -q '"existed":true' || fail "the console's compile was not the reference profile's job"
echo "ok: on a plain reference deployment the console compiles with the reference profile and promotes it"
