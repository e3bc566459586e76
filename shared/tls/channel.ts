// How the agent and the CLI reach the coordinator: TLS against the CA they were given (or, for an
// enrolled agent, the one it pinned), with the node's client certificate when it has one.
// Plaintext only to a loopback address, or when the user says --insecure: a node token or admin
// token sent in the clear off this host can be read by anyone on the path.
import { isIP } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { FleetgateError } from "../errors.js";

// grpc-js sends the dialled host as the TLS server name, an IP address included, and Node warns
// (DEP0123) on every such connection. Coordinators are commonly dialled by address, and the
// certificate is still checked against that address (IP SANs), so this one warning is noise.
// Installed with the first TLS channel, so a process that only imports this module (the
// coordinator, for hostOf) keeps its warnings as they are.
let quieted = false;
function quietIpServerNameWarning(): void {
  if (quieted) return;
  quieted = true;
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === "object" && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === "DEP0123") return;
    (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

export interface ChannelTls {
  caPem: string;
  /** The node's client certificate and key (mTLS); absent before enrollment and for the CLI. */
  client?: { certPem: string; keyPem: string };
}

/** The host part of host:port, [v6]:port, or a bare host. */
export function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const colons = address.split(":").length - 1;
  return colons === 1 ? address.slice(0, address.lastIndexOf(":")) : address;
}

export function isLoopback(address: string): boolean {
  const host = hostOf(address).toLowerCase();
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/**
 * The channel credentials for `address`. With no CA, plaintext — refused off loopback unless
 * `insecure`, with the fix in the message. `insecure` also forces plaintext when a CA is known.
 */
export function channelCredentials(address: string, tls: ChannelTls | undefined, opts: { insecure: boolean; caFlag: string }): grpc.ChannelCredentials {
  if (opts.insecure) return grpc.credentials.createInsecure();
  if (!tls) {
    if (isLoopback(address)) return grpc.credentials.createInsecure();
    throw new FleetgateError(
      "bad_input",
      `refusing plaintext to ${address}: tokens would cross the network in the clear. Pass ${opts.caFlag} FILE (the coordinator's STATE_DIR/tls/ca.crt), or --insecure if the coordinator runs coord serve --insecure`,
    );
  }
  quietIpServerNameWarning();
  return grpc.credentials.createSsl(Buffer.from(tls.caPem), tls.client ? Buffer.from(tls.client.keyPem) : null, tls.client ? Buffer.from(tls.client.certPem) : null);
}
