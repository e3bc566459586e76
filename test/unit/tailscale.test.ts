import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseTailscaleStatus, readTailscaleStatus } from "../../shared/tailscale.js";

const FIXTURE = fileURLToPath(new URL("../fixtures/tailscale/localapi-v0-status-running.constructed.json", import.meta.url));
const STATUS_JSON = readFileSync(FIXTURE, "utf8");

const NODE1 = { backendState: "Running", dnsName: "node1.tail1234.ts.net", ips: ["100.101.102.103", "fd7a:115c:a1e0::9a01:6667"] };

describe("parseTailscaleStatus", () => {
  it("keeps this node's backend state, DNS name without the trailing dot, and its own Tailscale IPs (not a peer's)", () => {
    expect(parseTailscaleStatus(STATUS_JSON)).toEqual(NODE1);
  });

  it("gives empty fields for a status that has no Self", () => {
    expect(parseTailscaleStatus('{"BackendState":"NeedsLogin"}')).toEqual({ backendState: "NeedsLogin", dnsName: "", ips: [] });
  });
});

describe("readTailscaleStatus over a unix socket", () => {
  let dir: string;
  let socket: string;
  let server: Server | undefined;
  const seen: { method?: string; url?: string; host?: string }[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-ts-"));
    socket = join(dir, "tailscaled.sock");
    seen.length = 0;
  });

  afterEach(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server?.close(r));
      server = undefined;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<void> {
    server = createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, host: req.headers.host });
      handler(req, res);
    });
    await new Promise<void>((resolve) => server?.listen(socket, resolve));
  }

  it("asks GET /localapi/v0/status with Host local-tailscaled.sock and parses the answer", async () => {
    await serve((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(STATUS_JSON));
    expect(await readTailscaleStatus(socket)).toEqual(NODE1);
    expect(seen).toEqual([{ method: "GET", url: "/localapi/v0/status", host: "local-tailscaled.sock" }]);
  });

  it("returns undefined when no tailscaled listens on the socket path", async () => {
    expect(await readTailscaleStatus(join(dir, "absent.sock"))).toBeUndefined();
  });

  it("returns undefined when tailscaled refuses the request", async () => {
    await serve((_req, res) => res.writeHead(403).end("access denied\n"));
    expect(await readTailscaleStatus(socket)).toBeUndefined();
  });

  it("gives up after the timeout when tailscaled never answers", async () => {
    await serve(() => {
      /* hold the request open */
    });
    const t0 = Date.now();
    expect(await readTailscaleStatus(socket, 200)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("gives up after the timeout when tailscaled stalls halfway through its answer", async () => {
    await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(STATUS_JSON.slice(0, 100));
    });
    const t0 = Date.now();
    const outcome = await Promise.race([readTailscaleStatus(socket, 200), new Promise((r) => setTimeout(() => r("still waiting after 2 s"), 2000))]);
    expect(outcome).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
