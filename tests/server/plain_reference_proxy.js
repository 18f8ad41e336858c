// A stand-in for a Convex deployment of the reference functions only: it
// forwards every request to the `dse serve` at argv[2], except that any
// dsex/ function (our extensions) is answered the way such a deployment
// answers an unknown function.  Used by tests/server/test_compat_reference.sh
// and tests/console/test_compat_console.sh.  Prints "proxy on URL".
const http = require("http");
const up = new URL(process.argv[2]);
const srv = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    let path = "";
    try { path = JSON.parse(body.toString("utf8")).path || ""; } catch (e) {}
    if (String(path).startsWith("dsex/")) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "error",
        errorMessage: "[Request ID: 1] Server Error\nCould not find public function for '" + path + "'." }));
      return;
    }
    const headers = { "content-type": "application/json", "content-length": body.length };
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    const f = http.request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers },
      (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    f.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
    f.end(body);
  });
});
srv.listen(0, "127.0.0.1", () => console.log("proxy on http://127.0.0.1:" + srv.address().port));
