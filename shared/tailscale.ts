// tailscaled's LocalAPI over its unix socket (there is no maintained client package).
// The Host header must be `local-tailscaled.sock`, as tailscale's own client sends it.
import { request } from "node:http";

export const DEFAULT_TAILSCALED_SOCKET = "/var/run/tailscale/tailscaled.sock";

export interface TailscaleSelf {
  dnsName: string;
  ips: string[];
  backendState: string;
}

/** Pure: the fields we keep from `GET /localapi/v0/status`. */
export function parseTailscaleStatus(json: string): TailscaleSelf {
  const status = JSON.parse(json) as { BackendState?: string; Self?: { DNSName?: string; TailscaleIPs?: string[] } };
  return {
    backendState: status.BackendState ?? "",
    dnsName: (status.Self?.DNSName ?? "").replace(/\.$/, ""),
    ips: status.Self?.TailscaleIPs ?? [],
  };
}

/** Returns undefined when tailscaled is not running here: Tailscale is optional on a node. */
export function readTailscaleStatus(socketPath = DEFAULT_TAILSCALED_SOCKET, timeoutMs = 2000): Promise<TailscaleSelf | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: "/localapi/v0/status", method: "GET", headers: { Host: "local-tailscaled.sock" }, timeout: timeoutMs },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        // A timeout mid-body destroys the request: the response then closes without "end".
        res.on("close", () => resolve(undefined));
        res.on("end", () => {
          try {
            resolve(res.statusCode === 200 ? parseTailscaleStatus(body) : undefined);
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
    req.end();
  });
}
