#!/bin/sh
# `dse serve` against the official Convex client: the `convex` npm package's
# ConvexHttpClient (args as a one-element array, format convex_encoded_json,
# any status but 200/560 a transport error) runs queries, mutations and
# actions, and sees function errors as ConvexError with errorData.code.
# Also the roles (admin, read, ingest, no token with --public-queries) as the
# client sees them.
#
# The package is installed once with npm into $DSE_CONVEX_NPM (default
# $DSE_SRCDIR/build/npm-convex, under the ignored build/ directory) and
# reused while its version is the pinned one.  No node, no npm, or no
# registry: the test FAILS (it does not skip).
. "$(dirname "$0")/common.sh"
: "${DSE_SRCDIR:?DSE_SRCDIR must point at the source tree}"

# 1.48.0 is the newest release that runs on Node 20 (engines: node >= 20;
# 1.49.0 and later need Node 22).
CONVEX_VERSION=1.48.0
npmdir=${DSE_CONVEX_NPM:-$DSE_SRCDIR/build/npm-convex}

command -v node >/dev/null 2>&1 || fail "node is not installed (needed for the official Convex client; make installs nodejs)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (needed to fetch the convex package; make installs npm)"

have=$(node -e 'try { console.log(require(process.argv[1]).version) } catch (e) { console.log("") }' \
  "$npmdir/node_modules/convex/package.json" 2>/dev/null || true)
if [ "$have" != "$CONVEX_VERSION" ]; then
  # install beside the cache and move it into place, so a failed or
  # concurrent install never leaves a half-filled cache behind
  mkdir -p "$(dirname "$npmdir")"
  stage="$npmdir.tmp.$$"
  rm -rf "$stage"
  if ! npm install --prefix "$stage" --no-audit --no-fund --ignore-scripts --omit=optional \
      --loglevel=error "convex@$CONVEX_VERSION" >"$tmp/npm.log" 2>&1; then
    rm -rf "$stage"
    fail "cannot install convex@$CONVEX_VERSION from the npm registry (is it reachable?): $(tail -n 5 "$tmp/npm.log")"
  fi
  rm -rf "$npmdir"
  mv "$stage" "$npmdir" 2>/dev/null || { rm -rf "$stage"; [ -d "$npmdir/node_modules/convex" ] || fail "cannot move the convex package into $npmdir"; }
fi

INGEST="ing-$(rand_hex 16)"
printf 'ingest %s runtime\n' "$INGEST" >>"$tmp/tokens"
start_server --tokens "$tmp/tokens" --public-queries

cat >"$tmp/client.cjs" <<'EOF'
const { createRequire } = require("module");
const need = createRequire(process.env.NPMDIR + "/node_modules/");
const { ConvexHttpClient } = need("convex/browser");
const { anyApi, makeFunctionReference } = need("convex/server");
const { ConvexError } = need("convex/values");
const assert = require("assert");

const url = process.env.URL;
const client = (token) => {
  const c = new ConvexHttpClient(url, { logger: false });
  if (token) c.setAuth(token);
  return c;
};
const admin = client(process.env.ADMIN);
const read = client(process.env.READ);
const ingest = client(process.env.INGEST);
const anon = client(null);

// a function error: ConvexError carrying errorData {code, message}
async function functionError(p, code, text) {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConvexError, `expected a ConvexError, got ${e}`);
    assert.strictEqual(e.data.code, code, `code of ${e.message}`);
    if (text) assert.ok(e.message.includes(text), `message ${e.message} lacks ${text}`);
    return;
  }
  assert.fail(`expected ${code}`);
}
// a transport error (401): a plain Error with the body's text
async function transportError(p, text) {
  try {
    await p;
  } catch (e) {
    assert.ok(!(e instanceof ConvexError), `expected a plain Error, got ConvexError ${e.message}`);
    assert.ok(e.message.includes(text), `message ${e.message} lacks ${text}`);
    return;
  }
  assert.fail(`expected ${text}`);
}

(async () => {
  // mutation, then queries through the three ways of naming a function
  let r = await admin.mutation(anyApi.dse.artifacts.putArtifact,
    { signatureId: "S", compiled_id: "c1", json: { compiled_id: "c1", v: 1 } });
  assert.deepStrictEqual(r, { ok: true, existed: false });
  r = await read.query(anyApi.dse.artifacts.getArtifact, { signatureId: "S", compiled_id: "c1" });
  assert.strictEqual(r.artifact.v, 1);
  r = await read.query(makeFunctionReference("dse/artifacts:listArtifacts"),
    { signatureId: "S", limit: 10n });   // a bigint goes as {"$integer": base64}
  assert.strictEqual(r.artifacts.length, 1);
  assert.strictEqual(r.artifacts[0].compiled_id, "c1");
  r = await read.query("dse/active:getActive", { signatureId: "S" });
  assert.strictEqual(r.compiled_id, null);
  console.log("ok: query and mutation");

  // examples round trip; an action may call a mutation and a query
  r = await admin.mutation("dse/examples:putExample", { signatureId: "S", exampleId: "e1",
    inputJson: { q: "hi" }, expectedJson: { a: "hello" }, split: "train", tags: ["t"] });
  assert.strictEqual(r.existed, false);
  r = await read.query("dse/examples:getExample", { signatureId: "S", exampleId: "e1" });
  assert.deepStrictEqual(r.example.inputJson, { q: "hi" });
  assert.deepStrictEqual(r.example.tags, ["t"]);
  r = await admin.action("dse/examples:putExample", { signatureId: "S", exampleId: "e2",
    inputJson: 2, expectedJson: 3 });
  assert.strictEqual(r.existed, false);
  r = await read.action("dse/examples:listExamples", { signatureId: "S" });
  assert.deepStrictEqual(r.examples.map((e) => e.exampleId), ["e1", "e2"]);
  console.log("ok: examples round trip and actions");

  // function errors: HTTP 560, ConvexError with our code and message
  await functionError(admin.mutation("dse/active:setActive", { signatureId: "S", compiled_id: "nope" }),
    "artifact_not_found", "artifact_not_found");
  await functionError(read.query("dse/nope:nothing", {}), "unknown_function", "dse/nope:nothing");
  await functionError(admin.query("dse/artifacts:putArtifact",
    { signatureId: "S", compiled_id: "c2", json: {} }), "invalid_input", "/api/mutation");
  await functionError(read.query("dse/artifacts:listArtifacts", { signatureId: "S", limit: NaN }),
    "invalid_input", "NaN");
  await functionError(read.query("dse/artifacts:getArtifact",
    { signatureId: new ArrayBuffer(2), compiled_id: "c1" }), "invalid_input", "bytes");
  console.log("ok: function errors");

  // roles
  await functionError(read.mutation("dse/artifacts:putArtifact",
    { signatureId: "S", compiled_id: "c2", json: {} }), "forbidden", "admin token");
  await functionError(read.query("dse/opsRuns:listRuns", {}), "forbidden", "ops admin");
  await functionError(read.query("dse/receipts:listPredictReceiptsBySignatureIdAdmin",
    { signatureId: "S" }), "forbidden");
  r = await admin.query("dse/opsRuns:listRuns", {});
  assert.deepStrictEqual(r.runs, []);
  r = await ingest.mutation("dse/receipts:recordPredictReceipt", { threadId: "t1", runId: "r1",
    receipt: { receiptId: "rc1", signatureId: "S", compiled_id: "c1", result: { _tag: "Ok" } } });
  assert.strictEqual(r.ok, true);
  r = await ingest.mutation("dse/blobs:putText", { threadId: "t1", runId: "r1", text: "trace" });
  assert.ok(r.blob.id.startsWith("sha256:"));
  await functionError(ingest.query("dse/examples:getExample", { signatureId: "S", exampleId: "e1" }),
    "forbidden", "ingest");
  await functionError(ingest.mutation("dse/artifacts:putArtifact",
    { signatureId: "S", compiled_id: "c3", json: {} }), "forbidden");
  r = await read.query("dse/receipts:getPredictReceiptByReceiptId", { receiptId: "rc1" });
  assert.strictEqual(r.receipt ? r.receipt.threadId : r.threadId, "t1");
  // --public-queries: the reference's unauthenticated queries need no token
  r = await anon.query("dse/canary:getCanary", { signatureId: "S" });
  assert.strictEqual(r.canary, null);
  r = await ingest.query("dse/active:getActive", { signatureId: "S" });
  assert.strictEqual(r.compiled_id, null);
  await transportError(anon.query("dse/examples:getExample", { signatureId: "S", exampleId: "e1" }),
    "unauthorized");
  await transportError(client("wrong-token-0123456789").query("dse/canary:getCanary",
    { signatureId: "S" }), "unauthorized");
  console.log("ok: roles");
})().catch((e) => {
  console.error("FAIL:", e && e.stack ? e.stack : e);
  process.exit(1);
});
EOF

NPMDIR="$npmdir" URL="$url" ADMIN="$ADMIN" READ="$READ" INGEST="$INGEST" \
  node "$tmp/client.cjs" >"$tmp/node.out" 2>&1 || fail "the Convex client: $(cat "$tmp/node.out")"
cat "$tmp/node.out"
for step in "query and mutation" "examples round trip and actions" "function errors" "roles"; do
  grep -q "^ok: $step" "$tmp/node.out" || fail "no '$step' in $(cat "$tmp/node.out")"
done
# the access log shows the client's calls with their statuses
grep -q 'POST /api/action dse/examples:putExample 200 ' "$tmp/err" || fail "no action in the log"
grep -q 'POST /api/mutation dse/active:setActive 560 ' "$tmp/err" || fail "no 560 in the log"
echo "ok: official convex $CONVEX_VERSION client against dse serve"
