// A stand-in for a real app, for trying `coord rollout` (see README.md): its "install" is two files
// in DIR, and its health endpoint tells whether that install is good.
//
//   node app-server.mjs DIR PORT
//
// GET /health on 127.0.0.1:PORT reads DIR/version and DIR/data/marker on every request (so a change
// applied on disk shows at once, with no restart): 200 "ok VERSION" when the version does not
// contain "broken" and the marker exists, else 500 saying why. No dependencies beyond Node.
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";

const [dir, port] = process.argv.slice(2);
if (!dir || !/^\d+$/.test(port ?? "")) {
  process.stderr.write("usage: node app-server.mjs DIR PORT\n");
  process.exit(3);
}

/** The file's text, or undefined when it cannot be read (missing is an answer, not a crash). */
async function read(path) {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** [status, body] of the health endpoint for the install in `dir` as it is now. */
async function health() {
  const version = (await read(join(dir, "version")))?.trim();
  if (!version) return [500, `no version: ${join(dir, "version")} is missing or empty\n`];
  if (version.includes("broken")) return [500, `version ${version} is broken\n`];
  if ((await read(join(dir, "data", "marker"))) === undefined) return [500, `data lost: ${join(dir, "data", "marker")} is missing\n`];
  return [200, `ok ${version}\n`];
}

const server = createServer((req, res) => {
  const path = new URL(req.url ?? "/", "http://app").pathname;
  if (req.method !== "GET" || path !== "/health") {
    res.writeHead(404, { "content-type": "text/plain" }).end("only GET /health\n");
    return;
  }
  health().then(
    ([status, body]) => res.writeHead(status, { "content-type": "text/plain" }).end(body),
    (err) => res.writeHead(500, { "content-type": "text/plain" }).end(`health failed: ${err.message}\n`),
  );
});

server.on("error", (err) => {
  process.stderr.write(`app-server: ${err.message}\n`);
  process.exit(1);
});
server.listen(Number(port), "127.0.0.1", () => process.stderr.write(`app-server: ${dir} on http://127.0.0.1:${port}/health\n`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
