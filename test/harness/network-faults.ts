// The faults a test injects into a netns fleet, and the bookkeeping to undo them. The desired
// state per node is kept here and applied whole (nft-rules.ts), so any order of partition, heal,
// loss and reset converges to exactly what was asked.
import { host } from "./host-commands.js";
import { NODE_LINK } from "./names.js";
import { NFT_TABLE, NO_IMPAIRMENTS, nftScript, type Impairments } from "./nft-rules.js";

/** tbf needs a bucket and a queue bound; these keep a 256kbit link usable for gRPC. */
const TBF_BURST = "16kbit";
const TBF_LATENCY = "400ms";

/** What the faults need to know about a node. */
export interface FaultNode {
  name: string;
  netns: string;
  address: string;
  hostVeth: string;
}

/** One side of a partition: a node, or the coordinator (which lives in the root namespace). */
export type FaultSide = FaultNode | { coordinator: string };

const isNode = (s: FaultSide): s is FaultNode => !("coordinator" in s);

export class NetworkFaults {
  private readonly impairments = new Map<string, Impairments>();
  private readonly cut = new Set<string>();
  private readonly slowed = new Set<string>();

  /**
   * Blocks (or unblocks) a↔b. Rules go into the nodes' own namespaces; with the coordinator as
   * one side only the node's namespace changes, since the root namespace is the host's own.
   */
  async setBlocked(a: FaultSide, b: FaultSide, blocked: boolean): Promise<void> {
    if (!isNode(a) && !isNode(b)) throw new Error("a partition needs at least one node");
    if (isNode(a) && isNode(b) && a.name === b.name) throw new Error(`cannot partition ${a.name} from itself`);
    const addressOf = (s: FaultSide) => (isNode(s) ? s.address : s.coordinator);
    const sides: [FaultNode, string][] = [];
    if (isNode(a)) sides.push([a, addressOf(b)]);
    if (isNode(b)) sides.push([b, addressOf(a)]);
    for (const [node, peer] of sides) {
      const cur = this.impairmentsOf(node);
      const blockedFrom = new Set(cur.blockedFrom);
      if (blocked) blockedFrom.add(peer);
      else blockedFrom.delete(peer);
      await this.apply(node, { ...cur, blockedFrom });
    }
  }

  async packetLoss(n: FaultNode, percent: number): Promise<void> {
    await this.apply(n, { ...this.impairmentsOf(n), lossPercent: percent });
  }

  /**
   * The host-side veth goes down: the node keeps its address and routes (like a real host whose
   * uplink died at the switch) but no frame gets in or out.
   */
  async cutLink(n: FaultNode): Promise<void> {
    await host(["ip", "link", "set", n.hostVeth, "down"]);
    this.cut.add(n.name);
  }

  async restoreLink(n: FaultNode): Promise<void> {
    await host(["ip", "link", "set", n.hostVeth, "up"]);
    this.cut.delete(n.name);
  }

  /** tbf on both ends of the veth: the host end shapes traffic to the node, eth0 traffic from it. */
  async slowLink(n: FaultNode, rate: string): Promise<void> {
    if (!/^\d+(\.\d+)?[kmg]?bit$/i.test(rate)) throw new Error(`slowLink rate must look like 256kbit or 2mbit, got "${rate}"`);
    const tbf = ["root", "tbf", "rate", rate, "burst", TBF_BURST, "latency", TBF_LATENCY];
    await host(["tc", "qdisc", "replace", "dev", n.hostVeth, ...tbf]);
    await host(["ip", "netns", "exec", n.netns, "tc", "qdisc", "replace", "dev", NODE_LINK, ...tbf]);
    this.slowed.add(n.name);
  }

  async clearSlowLink(n: FaultNode): Promise<void> {
    await host(["tc", "qdisc", "del", "dev", n.hostVeth, "root"], { allowFailure: true });
    await host(["ip", "netns", "exec", n.netns, "tc", "qdisc", "del", "dev", NODE_LINK, "root"], { allowFailure: true });
    this.slowed.delete(n.name);
  }

  async reset(nodes: FaultNode[]): Promise<void> {
    for (const n of nodes) {
      if (this.impairments.has(n.name)) {
        await host(["ip", "netns", "exec", n.netns, "nft", "delete", "table", "inet", NFT_TABLE], { allowFailure: true });
        this.impairments.delete(n.name);
      }
      if (this.cut.has(n.name)) await this.restoreLink(n);
      if (this.slowed.has(n.name)) await this.clearSlowLink(n);
    }
  }

  private impairmentsOf(n: FaultNode): Impairments {
    return this.impairments.get(n.name) ?? NO_IMPAIRMENTS;
  }

  private async apply(n: FaultNode, imp: Impairments): Promise<void> {
    await host(["ip", "netns", "exec", n.netns, "nft", "-f", "-"], { input: nftScript(imp) });
    this.impairments.set(n.name, imp);
  }
}
