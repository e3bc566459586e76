// Control tokens per person (migration 8): a random secret shown once, only its sha256 stored, with
// the person's name and role. A person has at most one live token; revoked and expired ones stay
// as the record of who could do what, and when.
import { FleetgateError } from "../../shared/errors.js";
import { humanDuration } from "../../shared/durations.js";
import { BOOTSTRAP_ADMIN, type Role } from "../access/roles.js";
import type { Db } from "./db.js";
import { hashToken, newSecret, tokenId } from "./tokens.js";

export interface PersonToken {
  /** The start of the token's sha256, as lists and logs name it. */
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  createdBy: string;
  /** null: never expires. */
  expiresAt: number | null;
  revokedAt: number | null;
}

export type TokenState = "active" | "expired" | "revoked";

export function tokenState(t: PersonToken, now: number): TokenState {
  if (t.revokedAt !== null) return "revoked";
  if (t.expiresAt !== null && t.expiresAt <= now) return "expired";
  return "active";
}

interface RawPersonToken {
  hash: string;
  person: string;
  role: Role;
  created_at: number;
  created_by: string;
  expires_at: number | null;
  revoked_at: number | null;
}

const fromRow = (r: RawPersonToken): PersonToken => ({
  id: tokenId(r.hash),
  name: r.person,
  role: r.role,
  createdAt: r.created_at,
  createdBy: r.created_by,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

// Names end up in logs, tables and sign-offs: no spaces or quotes, nothing that reads as a flag.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Throws unless `name` may name a person: letters, digits, `._@-`, not "admin" (the bootstrap token's). */
export function checkPersonName(name: string): void {
  if (!NAME.test(name)) {
    throw new FleetgateError("bad_input", `person name ${JSON.stringify(name)}: expected letters, digits and . _ @ - (up to 64), starting with a letter or digit, e.g. alice or alice@example.org`);
  }
  if (name === BOOTSTRAP_ADMIN.name) {
    throw new FleetgateError("bad_input", `"${name}" is the bootstrap token in STATE_DIR/admin.token; give the person a name of their own, e.g. coord user add alice --role admin`);
  }
}

/** A person's live tokens (at most one), newest first. */
function liveTokens(db: Db, name: string, now: number): RawPersonToken[] {
  return db
    .prepare("SELECT * FROM person_tokens WHERE person = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC")
    .all(name, now) as RawPersonToken[];
}

export interface NewPersonToken {
  name: string;
  role: Role;
  /** Who adds it (the calling person's name). */
  by: string;
  /** undefined: the token never expires. */
  ttlMs?: number;
  /** Revoke the person's live token in the same transaction instead of refusing. */
  replace?: boolean;
}

/** Stores a new token for a person and returns it (the only time it is seen), with the live token it replaced. */
export function addPersonToken(db: Db, req: NewPersonToken, now = Date.now()): { token: string; user: PersonToken; replaced?: PersonToken } {
  checkPersonName(req.name);
  return db.transaction(() => {
    const live = liveTokens(db, req.name, now);
    const current = live[0];
    if (current && !req.replace) {
      throw new FleetgateError(
        "conflict",
        `${req.name} already has a live token (${current.role}, ${tokenId(current.hash)}, added by ${current.created_by} ${humanDuration(now - current.created_at)} ago); revoke it first (coord user revoke ${req.name}), or add with --replace`,
      );
    }
    for (const t of live) db.prepare("UPDATE person_tokens SET revoked_at = ? WHERE hash = ?").run(now, t.hash);
    const token = newSecret("fgp");
    const row: RawPersonToken = { hash: hashToken(token), person: req.name, role: req.role, created_at: now, created_by: req.by, expires_at: req.ttlMs === undefined ? null : now + req.ttlMs, revoked_at: null };
    db.prepare("INSERT INTO person_tokens (hash, person, role, created_at, created_by, expires_at, revoked_at) VALUES (@hash, @person, @role, @created_at, @created_by, @expires_at, @revoked_at)").run(row);
    return { token, user: fromRow(row), replaced: current && fromRow({ ...current, revoked_at: now }) };
  })();
}

/** Every person token ever added, newest first. */
export function listPersonTokens(db: Db): PersonToken[] {
  return (db.prepare("SELECT * FROM person_tokens ORDER BY created_at DESC, rowid DESC").all() as RawPersonToken[]).map(fromRow);
}

/** Revokes `name`'s live token and returns it; throws when the person has none. */
export function revokePersonToken(db: Db, name: string, now = Date.now()): PersonToken {
  if (name === BOOTSTRAP_ADMIN.name) {
    throw new FleetgateError("bad_input", `"${name}" is the bootstrap token in STATE_DIR/admin.token, not revocable here; to replace it, delete that file and restart coord serve (it writes a new one)`);
  }
  return db.transaction(() => {
    const live = liveTokens(db, name, now);
    if (!live.length) throw new FleetgateError("not_found", `${name} has no live token; list people and their tokens with: coord user list`);
    for (const t of live) db.prepare("UPDATE person_tokens SET revoked_at = ? WHERE hash = ?").run(now, t.hash);
    return fromRow({ ...(live[0] as RawPersonToken), revoked_at: now });
  })();
}

/** The stored token `token` is, live or not; undefined when it was never issued here. */
export function findPersonToken(db: Db, token: string): PersonToken | undefined {
  const row = db.prepare("SELECT * FROM person_tokens WHERE hash = ?").get(hashToken(token)) as RawPersonToken | undefined;
  return row && fromRow(row);
}
