// The http check end to end with the real curl on this machine against a loopback server.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpCheck } from "../../agent/checks/http.js";
import type { Verdict } from "../../agent/checks/kind.js";
import type { HttpSpec } from "../../shared/model/kinds/http.js";
import { needsTool } from "../support/system-tools.js";

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (req.url === "/broken") {
      res.writeHead(500, { "content-type": "application/json" }).end('{"error":"internal"}\n');
    } else if (req.url === "/echo") {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => res.writeHead(201).end(`${req.method} ${req.headers["x-node"]} ${body}`));
    } else if (req.url === "/hang") {
      // never answers: the check's timeout must end it
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function check(spec: HttpSpec, timeoutMs = 5000): Promise<Verdict> {
  const seen = await httpCheck.observe(spec, { timeoutMs, maxOutputBytes: 64 * 1024 });
  return httpCheck.evaluate(spec, seen);
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe.skipIf(!needsTool("curl", "curl"))("httpCheck with real curl", () => {
  it("passes a 200 whose body contains the expected text", async () => {
    const v = await check({ url: `${base}/health`, status: 200, body: { contains: "ok" } });
    expect(v.passed).toBe(true);
    expect(v.summary).toMatch(/^200 in \d+ ms$/);
  });

  it("fails a 500 where 200 is expected, naming the URL", async () => {
    expect(await check({ url: `${base}/broken` })).toEqual({ passed: false, summary: `expected status 200, saw 500 from ${base}/broken` });
  });

  it("passes a 500 when the spec expects it, and reads the body", async () => {
    expect((await check({ url: `${base}/broken`, status: 500, body: { contains: "internal" } })).passed).toBe(true);
  });

  it("sends the method, headers and body the spec declares", async () => {
    const spec: HttpSpec = { url: `${base}/echo`, method: "POST", headers: { "X-Node": "node-a" }, body_send: "ping", status: 201, body: "POST node-a ping" };
    expect((await check(spec)).passed).toBe(true);
  });

  it("says there was no HTTP response from a closed loopback port, with curl's error", async () => {
    const port = await closedPort();
    const v = await check({ url: `http://127.0.0.1:${port}/` });
    expect(v.passed).toBe(false);
    expect(v.summary).toMatch(
      new RegExp(`^no HTTP response from http://127\\.0\\.0\\.1:${port}/: curl: \\(7\\) Failed to connect to 127\\.0\\.0\\.1 port ${port} after \\d+ ms: Couldn't connect to server$`),
    );
  });

  it("gives up on a server that never answers once the check's timeout passes", async () => {
    const started = Date.now();
    const v = await check({ url: `${base}/hang` }, 1000);
    expect(v.passed).toBe(false);
    expect(v.summary).toMatch(/^no HTTP response from .*\/hang: curl: \(28\) Operation timed out after \d+ milliseconds with 0 bytes received$/);
    expect(Date.now() - started).toBeLessThan(2900);
  });
});
