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

export function createEnrollToken(db: Db, ttlMs: number, description: string, now = Date.now()): { token: string; expiresAt: number } {
  const token = newSecret("fge");
  const expiresAt = now + ttlMs;
  db.prepare("INSERT INTO enroll_tokens (hash, description, created_at, expires_at) VALUES (?, ?, ?, ?)").run(hashToken(token), description, now, expiresAt);
  return { token, expiresAt };
}

/** Throws an actionable error unless `token` is a live enrollment token. */
export function verifyEnrollToken(db: Db, token: string, now = Date.now()): void {
  const row = db.prepare("SELECT expires_at FROM enroll_tokens WHERE hash = ?").get(hashToken(token)) as { expires_at: number } | undefined;
  if (!row) throw new FleetgateError("unauthenticated", "enrollment token not recognised; create one with: coord token create");
  if (row.expires_at <= now) {
    throw new FleetgateError("unauthenticated", `enrollment token expired ${humanDuration(now - row.expires_at)} ago; create one with: coord token create`);
  }
}
