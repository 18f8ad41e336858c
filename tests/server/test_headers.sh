#!/bin/sh
# Requests without one meaning are refused before routing, each with a JSON
# error body: two Content-Length or two Authorization headers (400), %00 in
# the URL path or query (400; decoded, the path would end there and
# "/api/query%00junk" would be routed as /api/query), Transfer-Encoding
# other than plain chunked (501), Transfer-Encoding with Content-Length
# (400), and a NUL inside a bearer token never matches a token by its
# prefix.  Well-formed requests (chunked, single headers) still work.
. "$DSE_SRCDIR/tests/server/common.sh"

"$DSE_BIN" --db "$tmp/dse.db" init >/dev/null || fail "init"
start_server --tokens "$tmp/tokens"
body='{"path":"dse/active:getActive","args":{"signatureId":"s"}}'
len=$(printf '%s' "$body" | wc -c | tr -d ' ')

# post [curl args...]: POST $body to /api/query with the given headers;
# sets $code, the body in $tmp/body.
post() {
  code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' "$@" --data-binary "$body" "$url/api/query")
}
json_error() {
  grep -q '"status":"error"' "$tmp/body" || grep -q '"ok":false' "$tmp/body" ||
    fail "$1: the error body is not a JSON error: $(head -c 300 "$tmp/body")"
  head -c 1 "$tmp/body" | grep -q '{' || fail "$1: body is not JSON: $(head -c 300 "$tmp/body")"
}

# baseline: one of each header works, chunked works
post -H "Authorization: Bearer $READ"
expect 200 '"status":"success"'
post -H "Authorization: Bearer $READ" -H 'Transfer-Encoding: chunked'
expect 200 '"status":"success"'

# duplicate Content-Length, equal or not
post -H "Authorization: Bearer $READ" -H "Content-Length: $len" -H "Content-Length: $len"
expect 400 "more than one Content-Length"; json_error "duplicate Content-Length"
post -H "Authorization: Bearer $READ" -H "Content-Length: $len" -H "Content-Length: 3"
expect 400 "more than one Content-Length"; json_error "differing Content-Length"

# duplicate Authorization: which token counts?  Neither.
post -H "Authorization: Bearer $READ" -H "Authorization: Bearer $ADMIN"
expect 400 "more than one Authorization"; json_error "duplicate Authorization"
post -H "Authorization: Bearer nope-nope-nope-nope" -H "authorization: Bearer $READ"
expect 400 "more than one Authorization"; json_error "duplicate Authorization (case)"

# unsupported transfer codings: 501 at once (libmicrohttpd would otherwise
# read until the client closes)
for te in gzip 'chunked, gzip' 'gzip, chunked' identity deflate 'chunked,chunked'; do
  post -H "Authorization: Bearer $READ" -H "Transfer-Encoding: $te"
  expect 501 "Transfer-Encoding"; json_error "Transfer-Encoding: $te"
done
# two Transfer-Encoding headers
post -H "Authorization: Bearer $READ" -H 'Transfer-Encoding: chunked' -H 'Transfer-Encoding: chunked'
expect 501 "Transfer-Encoding"; json_error "two Transfer-Encoding headers"
# chunked plus Content-Length (a smuggling shape)
post -H "Authorization: Bearer $READ" -H 'Transfer-Encoding: chunked' -H "Content-Length: $len"
expect 400 "Transfer-Encoding and Content-Length"; json_error "chunked + Content-Length"

# %00 anywhere in the path or query
for path in '/api/query%00junk' '/api/query%00' '/api/mutation%00x'; do
  code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $READ" --data-binary "$body" "$url$path")
  expect 400 "encoded NUL"; json_error "$path"
done
for path in '/healthz%00x' '/api/dse/receipt/r1%00x' '/api/dse/blob/r1/b%00' '/healthz?a=%00' \
            '/no%00where'; do
  code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' \
    -H "Authorization: Bearer $READ" "$url$path")
  expect 400 "encoded NUL"; json_error "$path"
done
# an encoded percent sign followed by 00 is plain text, not a NUL
code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/a%2500b")
expect 200 '"receipt":null'
code=$(curl -sS --max-time 10 -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $READ" \
  "$url/api/dse/receipt/%1B%5B2J")
expect 200 '"receipt":null'

# A NUL inside the token: raw bytes over a socket (curl cannot send them).
# bash's /dev/tcp; `Connection: close` so the read ends.
port=${url##*:}
raw() {
  timeout 15 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "$2" >&3; cat <&3' raw "$port" "$1" \
    >"$tmp/raw" 2>/dev/null || true
  sed -n '1s/^HTTP\/1\.1 \([0-9]*\).*/\1/p' "$tmp/raw" | tr -d '\r'
}
half=$(printf '%s' "$READ" | cut -c1-8)
rest=$(printf '%s' "$READ" | cut -c9-)
for tok in "$half\\000$rest" "\\000$READ" "$half\\000"; do
  st=$(raw "POST /api/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer $tok\r\nContent-Length: $len\r\n\r\n$body")
  case $st in 400|401) ;; *) fail "NUL in the token ($tok): HTTP '$st', want 400 or 401: $(head -c 300 "$tmp/raw")" ;; esac
  grep -q '"status":"error"' "$tmp/raw" || fail "NUL in the token: no JSON error body"
done
# the raw path works at all (same request, intact token)
st=$(raw "POST /api/query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer $READ\r\nContent-Length: $len\r\n\r\n$body")
[ "$st" = 200 ] || fail "raw request with a good token: HTTP '$st'"
# %00 in a raw request line too
st=$(raw "GET /api/query%%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
[ "$st" = 400 ] || fail "raw %00 request: HTTP '$st'"

# the server is still healthy after all of that
curl -fsS --max-time 5 "$url/healthz" >/dev/null || fail "healthz after hostile headers"
stop_server
[ "$stop_rc" = 0 ] || fail "dse serve exited $stop_rc on SIGTERM"
echo "ok: duplicate/NUL/transfer-encoding requests refused with JSON errors"
