// Refused claims on registered node names (migration 9): the latest other machine that tried to
// register under a name, kept so `coord nodes` shows the conflict and `coord nodes replace`
// can hand the name over to exactly that machine.
import type { Db } from "./db.js";

export interface NodeClaimRow {
  name: string;
  machineId: string;
  hostname: string;
  address: string;
  attempts: number;
  firstAt: number;
  lastAt: number;
  approvedAt: number | undefined;
}

interface RawClaim {
  name: string;
  machine_id: string;
  hostname: string;
  address: string;
  attempts: number;
  first_at: number;
  last_at: number;
  approved_at: number | null;
}

function fromRow(r: RawClaim): NodeClaimRow {
  return { name: r.name, machineId: r.machine_id, hostname: r.hostname, address: r.address, attempts: r.attempts, firstAt: r.first_at, lastAt: r.last_at, approvedAt: r.approved_at ?? undefined };
}

export function getClaim(db: Db, name: string): NodeClaimRow | undefined {
  const r = db.prepare("SELECT * FROM node_claims WHERE name = ?").get(name) as RawClaim | undefined;
  return r && fromRow(r);
}

export function listClaims(db: Db): Map<string, NodeClaimRow> {
  return new Map((db.prepare("SELECT * FROM node_claims").all() as RawClaim[]).map((r) => [r.name, fromRow(r)]));
}

/** Counts another attempt by the same machine; a different machine replaces the claim (and any approval). */
export function recordClaim(db: Db, claim: { name: string; machineId: string; hostname: string; address: string }, now = Date.now()): void {
  db.prepare(
    `INSERT INTO node_claims (name, machine_id, hostname, address, attempts, first_at, last_at)
     VALUES (@name, @machineId, @hostname, @address, 1, @now, @now)
     ON CONFLICT(name) DO UPDATE SET
       attempts = CASE WHEN node_claims.machine_id = excluded.machine_id THEN node_claims.attempts + 1 ELSE 1 END,
       first_at = CASE WHEN node_claims.machine_id = excluded.machine_id THEN node_claims.first_at ELSE excluded.first_at END,
       approved_at = CASE WHEN node_claims.machine_id = excluded.machine_id THEN node_claims.approved_at ELSE NULL END,
       machine_id = excluded.machine_id, hostname = excluded.hostname, address = excluded.address, last_at = excluded.last_at`,
  ).run({ ...claim, now });
}

export function approveClaim(db: Db, name: string, now = Date.now()): void {
  db.prepare("UPDATE node_claims SET approved_at = ? WHERE name = ?").run(now, name);
}

export function clearClaim(db: Db, name: string): void {
  db.prepare("DELETE FROM node_claims WHERE name = ?").run(name);
}
