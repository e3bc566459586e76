// tailscaled's LocalAPI over its unix socket (there is no maintained client package).
// The Host header must be `local-tailscaled.sock`, as tailscale's own client sends it.
// Field names are those of ipnstate.Status and PeerStatus (test/fixtures/tailscale/).
import { request } from "node:http";
import { FleetgateError } from "./errors.js";

export const DEFAULT_TAILSCALED_SOCKET = "/var/run/tailscale/tailscaled.sock";

export interface TailscaleSelf {
  dnsName: string;
  ips: string[];
  backendState: string;
}

/** One machine of the tailnet as the Peer map of `/localapi/v0/status` describes it. */
export interface TailscalePeer {
  /** PeerStatus.HostName: the machine's own hostname; not unique, so never used to match. */
  hostName: string;
  /** PeerStatus.DNSName without the trailing dot: "host.tail1234.ts.net". */
  dnsName: string;
  ips: string[];
  /** ACL tags, e.g. "tag:fleet"; none for a machine owned by a user. */
  tags: string[];
  /** Connected to the tailnet's control plane. */
  online: boolean;
  /** PeerStatus.LastSeen in ms, which tailscaled sets only while the peer is offline; 0 otherwise. */
  lastSeenMs: number;
}

interface RawPeer {
  HostName?: string;
  DNSName?: string;
  TailscaleIPs?: string[] | null;
  Tags?: string[] | null;
  Online?: boolean;
  LastSeen?: string;
}

interface RawStatus {
  BackendState?: string;
  Self?: { DNSName?: string; TailscaleIPs?: string[] };
  Peer?: Record<string, RawPeer> | null;
}

const trimDot = (name: string) => name.replace(/\.$/, "");

/** Go's zero time.Time ("0001-01-01T00:00:00Z") and anything unparsable are "never": 0. */
function timeMs(text: string | undefined): number {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}

/** Pure: the fields we keep from `GET /localapi/v0/status`. */
export function parseTailscaleStatus(json: string): TailscaleSelf {
  const status = JSON.parse(json) as RawStatus;
  return {
    backendState: status.BackendState ?? "",
    dnsName: trimDot(status.Self?.DNSName ?? ""),
    ips: status.Self?.TailscaleIPs ?? [],
  };
}

/** Pure: every peer of the status (Self is not a peer), in DNS-name order so outputs stay stable. */
export function parseTailscalePeers(json: string): TailscalePeer[] {
  const status = JSON.parse(json) as RawStatus;
  return Object.values(status.Peer ?? {})
    .map((p) => ({
      hostName: p.HostName ?? "",
      dnsName: trimDot(p.DNSName ?? ""),
      ips: p.TailscaleIPs ?? [],
      tags: p.Tags ?? [],
      online: p.Online === true,
      lastSeenMs: timeMs(p.LastSeen),
    }))
    .sort((a, b) => a.dnsName.localeCompare(b.dnsName) || a.hostName.localeCompare(b.hostName));
}

/**
 * The body of `GET /localapi/v0/status`; rejects with an `unreachable` FleetgateError saying why
 * (no socket, refused, timed out, not 200), for callers that must report it.
 */
export function fetchTailscaleStatus(socketPath = DEFAULT_TAILSCALED_SOCKET, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new FleetgateError("unreachable", `tailscaled at ${socketPath}: ${why}`));
    const req = request(
      { socketPath, path: "/localapi/v0/status", method: "GET", headers: { Host: "local-tailscaled.sock" }, timeout: timeoutMs },
      (res) => {
        let body = "";
        let ended = false;
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        // A timeout mid-body destroys the request: the response then closes without "end".
        res.on("close", () => ended || fail(`answer cut off after ${timeoutMs} ms`));
        res.on("end", () => {
          ended = true;
          if (res.statusCode === 200) resolve(body);
          else fail(`HTTP ${res.statusCode}: ${body.trim().slice(0, 200)}`);
        });
      },
    );
    req.on("timeout", () => {
      req.destroy();
      fail(`no answer within ${timeoutMs} ms`);
    });
    req.on("error", (err: NodeJS.ErrnoException) => fail(err.code === "ENOENT" ? "no such socket (is tailscaled running here?)" : err.message));
    req.end();
  });
}

/** Returns undefined when tailscaled is not running here: Tailscale is optional on a node. */
export async function readTailscaleStatus(socketPath = DEFAULT_TAILSCALED_SOCKET, timeoutMs = 2000): Promise<TailscaleSelf | undefined> {
  try {
    return parseTailscaleStatus(await fetchTailscaleStatus(socketPath, timeoutMs));
  } catch {
    return undefined;
  }
}
