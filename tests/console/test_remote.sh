#!/bin/sh
# A remote store (dse serve + --remote, with tokens): read-only by default,
# writes refused with a message, A arms them for the session (the frame says
# ARMED), a rollback through the server with an admin token lands in the
# store, live refresh follows the server's change counter, and with a read
# token an armed rollback is refused by the server (forbidden) and changes
# nothing.
. "$(dirname "$0")/lib.sh"
prepare_demo
ADMIN=admin-token-0123456789abcdef
READ=read-token-0123456789abcdef
printf 'admin %s ops\nread %s viewer\n' "$ADMIN" "$READ" > "$T/tokens"
chmod 600 "$T/tokens"
start_server --tokens "$T/tokens"
active() { dse active show --signature SelectTool.v1 --json | tr -d ' \n' | sed -n 's/.*"compiled_id":"\([^"]*\)".*/\1/p'; }
A0=$(active)

cat > "$T/run.sh" <<RUN
#!/bin/sh
DSE_TOKEN="\$TOKEN" "$DSE_BIN" --remote "http://127.0.0.1:$PORT" console --no-state --signature SelectTool.v1 --pane history 2>"$T/stderr.txt"
echo \$? > "$T/exit.tmp"; mv "$T/exit.tmp" "$T/exit.txt"
RUN
chmod +x "$T/run.sh"; rm -f "$T/exit.txt"
TOKEN=$ADMIN; export TOKEN
tmux_new "$T/run.sh"
wait_for "remote:http://127.0.0.1:$PORT  \[READ-ONLY\]"
wait_for "History · SelectTool.v1"
keys R; wait_for "read-only: rollback refused"
keys x; wait_for "no action here"
[ "$(active)" = "$A0" ] || fail "a read-only console wrote"

keys A; wait_for "ARMED"
keys R; wait_for "\[y/N\]"; keys y
wait_for "rolled back SelectTool.v1"
[ "$(active)" != "$A0" ] || fail "the armed rollback did not reach the store"

# a write by someone else shows up through the change counter
dse rollback --signature SelectTool.v1 --reason "from the cli" >/dev/null
wait_for "from the cli"
quit_console
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"

# the same with a read token: the server refuses the mutation
A1=$(active)
rm -f "$T/exit.txt"
TOKEN=$READ; export TOKEN
tmux_new "$T/run.sh"
wait_for "History · SelectTool.v1"
keys A; wait_for "ARMED"
keys R; wait_for "\[y/N\]"; keys y
wait_for "forbidden"
[ "$(active)" = "$A1" ] || fail "a read token moved the pointer"
quit_console
stop_server
[ "$(cat "$T/exit.txt")" = 0 ] || fail "console exit $(cat "$T/exit.txt")"
echo "ok: remote store, read-only by default, armed writes, admin token writes, read token refused"
