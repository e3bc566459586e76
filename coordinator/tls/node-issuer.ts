// Issues node client certificates over the agent stream: at enrollment, when a node first connects
// over TLS, and again past half of each certificate's life (at a hello or while connected).
import type { Logger } from "pino";
import { issueNodeCertificate, type Ca, type IssuedCertificate } from "./issue.js";


export class NodeCertificateIssuer {
  constructor(
    private readonly ca: Ca,
    readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  issue(node: { name: string; machineId: string; publicKeyPem: string }, nowMs = Date.now()): IssuedCertificate {
    const issued = issueNodeCertificate(this.ca, node, nowMs, this.ttlMs);
    this.log.info({ node: node.name, notAfter: new Date(issued.notAfterMs).toISOString() }, "node certificate issued");
    return issued;
  }

  /** When a certificate valid from now until `notAfterMs` should be renewed: half way. */
  renewAt(notAfterMs: number, nowMs = Date.now()): number {
    return nowMs + (notAfterMs - nowMs) / 2;
  }
}
