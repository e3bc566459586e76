// The plain HTTP listener of `coord serve --metrics-listen` and `fleetgate-agent run
// --metrics-listen`: /metrics for Prometheus, /healthz, and /readyz where the process says what
// ready means. No auth and no TLS, as Prometheus exporters usually are: bind it to loopback or a
// management network (docs/metrics.md). It imports no metrics library: each side brings its own
// registry, loaded only when asked for.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FleetgateError } from "../errors.js";

export interface MetricsEndpoints {
  /** The scrape, in the exposition format its content type names. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Why the process is not ready, or undefined when it is; without it there is no /readyz. */
  notReady?(): string | undefined;
}

export interface MetricsServer {
  /** host:port it listens on (the port chosen when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

/** "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0" → host and port; `flag` names the setting in the error. */
export function parseListen(listen: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new FleetgateError("bad_input", `${flag} ${listen}: expected HOST:PORT, e.g. 127.0.0.1:9464 ([::1]:9464 for IPv6; port 0 picks a free one)`);
  return { host: (m[1] ?? m[2]) as string, port };
}

function reply(res: ServerResponse, status: number, body: string, contentType = "text/plain; charset=utf-8"): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

async function answer(endpoints: MetricsEndpoints, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    reply(res, 405, "only GET and HEAD\n");
    return;
  }
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/metrics") {
    const { contentType, body } = await endpoints.metrics();
    reply(res, 200, body, contentType);
  } else if (path === "/healthz") {
    // The process answers: that is all "up" means; /readyz says whether it can do its work.
    reply(res, 200, "ok\n");
  } else if (path === "/readyz" && endpoints.notReady) {
    const why = endpoints.notReady();
    reply(res, why === undefined ? 200 : 503, why === undefined ? "ready\n" : `not ready: ${why}\n`);
  } else {
    reply(res, 404, `not found; this listener serves /metrics, /healthz${endpoints.notReady ? " and /readyz" : ""}\n`);
  }
}

/** Listens on `listen` (HOST:PORT); rejects with bad_input naming `flag` when it cannot. */
export async function startMetricsServer(listen: string, flag: string, endpoints: MetricsEndpoints, onError: (err: unknown) => void): Promise<MetricsServer> {
  const { host, port } = parseListen(listen, flag);
  const server = createServer((req, res) => {
    answer(endpoints, req, res).catch((err: unknown) => {
      onError(err);
      if (!res.headersSent) reply(res, 500, `${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  // A scraper that opens a connection and sends nothing must not hold it for ever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new FleetgateError("bad_input", `${flag} ${listen}: cannot listen: ${err.code ?? err.message}`, undefined, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive scrapers hold idle connections; they must not hold a stopping process.
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
