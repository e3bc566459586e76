// Tokens are random secrets shown once; only their sha256 is stored.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { FleetgateError } from "../../shared/errors.js";
import { humanDuration } from "../../shared/durations.js";
import type { Db } from "./db.js";

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString("base64url")}`;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How `coord token list` names a token: the start of its hash (the token itself is shown once). */
export const tokenId = (hash: string): string => hash.slice(0, 12);

/** `maxUses`: how many agents may enroll with it; 0 for any number until it expires. */
export function createEnrollToken(db: Db, ttlMs: number, description: string, now = Date.now(), maxUses = 0): { token: string; id: string; expiresAt: number } {
  const token = newSecret("fge");
  const expiresAt = now + ttlMs;
  const hash = hashToken(token);
  db.prepare("INSERT INTO enroll_tokens (hash, description, created_at, expires_at, max_uses) VALUES (?, ?, ?, ?, ?)").run(hash, description, now, expiresAt, maxUses);
  return { token, id: tokenId(hash), expiresAt };
}

export interface EnrollTokenRow {
  id: string;
  description: string;
  createdAt: number;
  expiresAt: number;
  maxUses: number;
  uses: number;
  revokedAt: number | null;
}

interface RawToken {
  hash: string;
  description: string;
  created_at: number;
  expires_at: number;
  max_uses: number;
  uses: number;
  revoked_at: number | null;
}

const tokenFromRow = (r: RawToken): EnrollTokenRow => ({
  id: tokenId(r.hash),
  description: r.description,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  maxUses: r.max_uses,
  uses: r.uses,
  revokedAt: r.revoked_at,
});

/** Every enrollment token, newest first. */
export function listEnrollTokens(db: Db): EnrollTokenRow[] {
  return (db.prepare("SELECT * FROM enroll_tokens ORDER BY created_at DESC").all() as RawToken[]).map(tokenFromRow);
}

/** Revokes the token whose id (from `coord token list`) is `id`; throws when none or several match. */
export function revokeEnrollToken(db: Db, id: string, now = Date.now()): EnrollTokenRow {
  const rows = id.length >= 6 ? (db.prepare("SELECT * FROM enroll_tokens WHERE hash LIKE ? || '%'").all(id) as RawToken[]) : [];
  if (rows.length !== 1) {
    throw new FleetgateError("not_found", rows.length ? `token id ${id} matches ${rows.length} tokens; give more of it` : `no enrollment token ${id}; list them with: coord token list`);
  }
  const row = rows[0] as RawToken;
  if (row.revoked_at === null) db.prepare("UPDATE enroll_tokens SET revoked_at = ? WHERE hash = ?").run(now, row.hash);
  return tokenFromRow({ ...row, revoked_at: row.revoked_at ?? now });
}

/** An agent enrolled with `token`: one of its uses is spent. */
export function spendEnrollToken(db: Db, token: string): void {
  db.prepare("UPDATE enroll_tokens SET uses = uses + 1 WHERE hash = ?").run(hashToken(token));
}

/** Throws an actionable error unless `token` is a live enrollment token. */
export function verifyEnrollToken(db: Db, token: string, now = Date.now()): void {
  const row = knownEnrollToken(db, token, now);
  if (row.max_uses > 0 && row.uses >= row.max_uses) {
    throw new FleetgateError("unauthenticated", `enrollment token already used ${row.uses} of ${row.max_uses} times; create one with: coord token create`);
  }
  if (row.expires_at <= now) {
    throw new FleetgateError("unauthenticated", `enrollment token expired ${humanDuration(now - row.expires_at)} ago; create one with: coord token create`);
  }
}

/**
 * Throws unless `token` is an enrollment token of this coordinator that nobody revoked; its uses
 * and expiry are not asked. What an enrollment retried after a lost reply needs: its first try
 * spent the use, and the retry may come after the token expired.
 */
export function knownEnrollToken(db: Db, token: string, now = Date.now()): { expires_at: number; max_uses: number; uses: number } {
  const row = db.prepare("SELECT expires_at, max_uses, uses, revoked_at FROM enroll_tokens WHERE hash = ?").get(hashToken(token)) as
    | { expires_at: number; max_uses: number; uses: number; revoked_at: number | null }
    | undefined;
  if (!row) throw new FleetgateError("unauthenticated", "enrollment token not recognised; create one with: coord token create");
  if (row.revoked_at !== null) {
    throw new FleetgateError("unauthenticated", `enrollment token revoked ${humanDuration(Math.max(0, now - row.revoked_at))} ago; create one with: coord token create`);
  }
  return row;
}
