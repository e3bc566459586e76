import { create } from "@bufbuild/protobuf";
import { NodeIdentitySchema, type NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { mergedLabels } from "../fleet/node-labels.js";
import type { Db } from "./db.js";

export interface NodeRow {
  identity: NodeIdentity;
  tokenHash: string;
  registeredAt: number;
  lastSeen: number;
  /** sha256 of the public key its client certificates are issued for; "" until it first connects over TLS. */
  keySha256: string;
  /** sha256 of the secret sent with the enrollment (Hello.enrollment_secret), "" for none. */
  enrollmentSecretHash: string;
  /** How it last connected: "mtls" or "plaintext". */
  transport: string;
  /** Labels set with `coord nodes label`, merged over identity.labels (fleet/node-labels.ts). */
  coordLabels: Record<string, string>;
  /** Set while an operator has the node drained: it takes no task of a run started meanwhile. */
  drain?: NodeDrainRow;
}

export interface NodeDrainRow {
  reason: string;
  at: number;
  by: string;
}

interface RawNode {
  name: string;
  machine_id: string;
  boot_id: string;
  hostname: string;
  labels_json: string;
  capabilities_json: string;
  facts_json: string;
  agent_version: string;
  tailscale_json: string | null;
  token_hash: string;
  registered_at: number;
  last_seen: number;
  key_sha256: string;
  enrollment_secret_hash: string;
  transport: string;
  coord_labels_json: string;
  drained_at: number | null;
  drain_reason: string;
  drained_by: string;
}

function fromRow(r: RawNode): NodeRow {
  return {
    identity: create(NodeIdentitySchema, {
      name: r.name,
      machineId: r.machine_id,
      bootId: r.boot_id,
      hostname: r.hostname,
      labels: JSON.parse(r.labels_json) as Record<string, string>,
      capabilities: JSON.parse(r.capabilities_json) as string[],
      factsJson: r.facts_json,
      agentVersion: r.agent_version,
      tailscale: r.tailscale_json ? (JSON.parse(r.tailscale_json) as { dnsName: string; ips: string[] }) : undefined,
    }),
    tokenHash: r.token_hash,
    registeredAt: r.registered_at,
    lastSeen: r.last_seen,
    keySha256: r.key_sha256,
    enrollmentSecretHash: r.enrollment_secret_hash,
    transport: r.transport,
    coordLabels: JSON.parse(r.coord_labels_json) as Record<string, string>,
    drain: r.drained_at === null ? undefined : { reason: r.drain_reason, at: r.drained_at, by: r.drained_by },
  };
}

/** The labels selectors match: the agent's own with the coordinator's (coord nodes label) over them. */
export function nodeLabels(n: NodeRow): Record<string, string> {
  return mergedLabels(n.identity.labels, n.coordLabels);
}

export function getNode(db: Db, name: string): NodeRow | undefined {
  const r = db.prepare("SELECT * FROM nodes WHERE name = ?").get(name) as RawNode | undefined;
  return r && fromRow(r);
}

export function listNodes(db: Db): NodeRow[] {
  return (db.prepare("SELECT * FROM nodes ORDER BY name").all() as RawNode[]).map(fromRow);
}

/** Inserts or refreshes a node's identity; keeps its registration time. */
export function upsertNode(db: Db, id: NodeIdentity, tokenHash: string, now = Date.now()): void {
  db.prepare(
    `INSERT INTO nodes (name, machine_id, boot_id, hostname, labels_json, capabilities_json, facts_json, agent_version,
                        tailscale_json, token_hash, registered_at, last_seen)
     VALUES (@name, @machine_id, @boot_id, @hostname, @labels_json, @capabilities_json, @facts_json, @agent_version,
             @tailscale_json, @token_hash, @now, @now)
     ON CONFLICT(name) DO UPDATE SET machine_id = excluded.machine_id, boot_id = excluded.boot_id,
       hostname = excluded.hostname, labels_json = excluded.labels_json, capabilities_json = excluded.capabilities_json,
       facts_json = excluded.facts_json, agent_version = excluded.agent_version, tailscale_json = excluded.tailscale_json,
       token_hash = excluded.token_hash, last_seen = excluded.last_seen`,
  ).run({
    name: id.name,
    machine_id: id.machineId,
    boot_id: id.bootId,
    hostname: id.hostname,
    labels_json: JSON.stringify(id.labels),
    capabilities_json: JSON.stringify(id.capabilities),
    facts_json: id.factsJson || "{}",
    agent_version: id.agentVersion,
    tailscale_json: id.tailscale ? JSON.stringify({ dnsName: id.tailscale.dnsName, ips: id.tailscale.ips }) : null,
    token_hash: tokenHash,
    now,
  });
}

/** Every registered node's name: what a metrics scrape needs, without decoding whole rows. */
export function nodeNames(db: Db): string[] {
  return db.prepare("SELECT name FROM nodes").pluck().all() as string[];
}

/** Keeps the hash of the secret the node enrolled with (see Hello.enrollment_secret). */
export function setEnrollmentSecret(db: Db, name: string, secretHash: string): void {
  db.prepare("UPDATE nodes SET enrollment_secret_hash = ? WHERE name = ?").run(secretHash, name);
}

/** Binds the node to the key its certificates are issued for ("" unbinds), and says how it connected. */
export function bindNodeKey(db: Db, name: string, keySha256: string, transport: string): void {
  db.prepare("UPDATE nodes SET key_sha256 = ?, transport = ? WHERE name = ?").run(keySha256, transport, name);
}

export function setNodeTransport(db: Db, name: string, transport: string): void {
  db.prepare("UPDATE nodes SET transport = ? WHERE name = ?").run(transport, name);
}

/** Drains the node (or replaces the reason of its drain); false when no such node. */
export function drainNode(db: Db, name: string, drain: NodeDrainRow): boolean {
  return db.prepare("UPDATE nodes SET drained_at = ?, drain_reason = ?, drained_by = ? WHERE name = ?").run(drain.at, drain.reason, drain.by, name).changes > 0;
}

export function undrainNode(db: Db, name: string): void {
  db.prepare("UPDATE nodes SET drained_at = NULL, drain_reason = '', drained_by = '' WHERE name = ?").run(name);
}

export function setCoordLabels(db: Db, name: string, labels: Record<string, string>): void {
  db.prepare("UPDATE nodes SET coord_labels_json = ? WHERE name = ?").run(JSON.stringify(labels), name);
}

/** Removes the node's registration, drain and coordinator labels included; its runs and results stay. */
export function forgetNode(db: Db, name: string): void {
  db.prepare("DELETE FROM nodes WHERE name = ?").run(name);
}

export function touchNode(db: Db, name: string, now = Date.now()): void {
  db.prepare("UPDATE nodes SET last_seen = ? WHERE name = ?").run(now, name);
}

/** Sets last_seen of many nodes in one transaction: one synced commit, whatever their number. */
export function touchNodes(db: Db, seen: Iterable<[name: string, at: number]>): void {
  const update = db.prepare("UPDATE nodes SET last_seen = ? WHERE name = ?");
  db.transaction(() => {
    for (const [name, at] of seen) update.run(at, name);
  })();
}

/**
 * What the node's agent may forget: the end of the unbroken run of committed event seqs that
 * starts at its first one. An event that failed to commit leaves a gap here, so the agent keeps it
 * and sends it again, even when later events did commit.
 */
export function committedPrefix(db: Db, name: string): bigint {
  const r = db
    .prepare(
      `SELECT MIN(e.seq) AS seq FROM agent_events e WHERE e.node_name = ?
         AND NOT EXISTS (SELECT 1 FROM agent_events n WHERE n.node_name = e.node_name AND n.seq = e.seq + 1)`,
    )
    .get(name) as { seq: number | null };
  return BigInt(r.seq ?? 0);
}

/** The highest event seq committed for the node: the agent numbers above it, so no seq is reused. */
export function highestCommittedSeq(db: Db, name: string): bigint {
  const r = db.prepare("SELECT MAX(seq) AS seq FROM agent_events WHERE node_name = ?").get(name) as { seq: number | null };
  return BigInt(r.seq ?? 0);
}

