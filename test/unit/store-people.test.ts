// Person tokens in the store (store/people.ts), on SQLite and PostgreSQL: only the sha256 is kept, one live token a person,
// --replace and revoke keep the old row as history, names are checked, "admin" stays the bootstrap's.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { addPersonToken, findPersonToken, listPersonTokens, revokePersonToken, tokenState } from "../../coordinator/store/people.js";
import { refusal } from "../support/refusal.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const T0 = 1_700_000_000_000;
const DAY = 86_400_000;

let db: Db;

// SQLite only: it reads coord.db's own file; PostgreSQL's data directory is the server's.
describe("person tokens on disk (sqlite)", () => {
  it("keeps the token out of coord.db", () => {
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-people-"));
    try {
      db = openDb(join(dir, "coord.db"));
      const { token } = addPersonToken(db, { name: "alice", role: "admin", by: "admin", ttlMs: 90 * DAY }, T0);
      db.close();
      expect(readFileSync(join(dir, "coord.db")).includes(token)).toBe(false);
    } finally {
      if (db.open) db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(STORE_ENGINES)("person tokens (%s)", (engine) => {
  const store = storeOf(engine);
  beforeEach(async () => {
    db = await store.open();
  });

  describe("person tokens", () => {
    it("stores the sha256 of the token with name, role, who added it and the expiry, never the token", () => {
      const { token, user } = addPersonToken(db, { name: "alice", role: "admin", by: "admin", ttlMs: 90 * DAY }, T0);
      expect(token).toMatch(/^fgp_[A-Za-z0-9_-]{32}$/);
      const sha = createHash("sha256").update(token).digest("hex");
      // Every column but PostgreSQL's rowid, its stand-in for SQLite's implicit one (pg/migrations.ts).
      const stored = (db.prepare("SELECT * FROM person_tokens").all() as Record<string, unknown>[]).map(({ rowid: _rowid, ...row }) => row);
      expect(stored).toEqual([
        { hash: sha, person: "alice", role: "admin", created_at: T0, created_by: "admin", expires_at: T0 + 90 * DAY, revoked_at: null },
      ]);
      expect(user).toEqual({ id: sha.slice(0, 12), name: "alice", role: "admin", createdAt: T0, createdBy: "admin", expiresAt: T0 + 90 * DAY, revokedAt: null });
    });

    it("refuses a second live token for one person, saying how to replace it; --replace revokes the old one in the same step", () => {
      const first = addPersonToken(db, { name: "carol", role: "viewer", by: "admin" }, T0);
      const err = refusal(() => addPersonToken(db, { name: "carol", role: "operator", by: "alice" }, T0 + 3_600_000));
      expect([err.code, err.message]).toEqual(["conflict", `carol already has a live token (viewer, ${first.user.id}, added by admin 1 h ago); revoke it first (coord user revoke carol), or add with --replace`]);
      expect(listPersonTokens(db)).toHaveLength(1);

      const second = addPersonToken(db, { name: "carol", role: "operator", by: "alice", replace: true }, T0 + 3_600_000);
      expect(second.replaced).toMatchObject({ id: first.user.id, role: "viewer", revokedAt: T0 + 3_600_000 });
      expect(tokenState(findPersonToken(db, first.token)!, T0 + 3_600_001)).toBe("revoked");
      expect(tokenState(findPersonToken(db, second.token)!, T0 + 3_600_001)).toBe("active");
      expect(listPersonTokens(db).map((t) => [t.name, t.role, t.revokedAt])).toEqual([
        ["carol", "operator", null],
        ["carol", "viewer", T0 + 3_600_000],
      ]);
    });

    it("gives a person whose token expired a new one without --replace", () => {
      const old = addPersonToken(db, { name: "dave", role: "operator", by: "admin", ttlMs: DAY }, T0);
      expect(tokenState(findPersonToken(db, old.token)!, T0 + DAY)).toBe("expired");
      expect(addPersonToken(db, { name: "dave", role: "operator", by: "admin" }, T0 + DAY).replaced).toBeUndefined();
    });

    it("revokes a person's live token once; a second revoke, and the bootstrap admin, are refused", () => {
      const { token } = addPersonToken(db, { name: "erin", role: "viewer", by: "admin" }, T0);
      expect(revokePersonToken(db, "erin", T0 + 5).revokedAt).toBe(T0 + 5);
      expect(findPersonToken(db, token)?.revokedAt).toBe(T0 + 5);
      expect(refusal(() => revokePersonToken(db, "erin", T0 + 6)).message).toBe("erin has no live token; list people and their tokens with: coord user list");
      expect(refusal(() => revokePersonToken(db, "admin")).message).toMatch(/^"admin" is the bootstrap token in STATE_DIR\/admin.token, not revocable here/);
    });

    it("refuses names that are not a person's: the bootstrap's, spaces, a leading dash", () => {
      for (const name of ["admin", "carol smith", "-x", "", "x".repeat(65)]) {
        expect(refusal(() => addPersonToken(db, { name, role: "viewer", by: "admin" })).code, name).toBe("bad_input");
      }
      expect(listPersonTokens(db)).toEqual([]);
      expect(addPersonToken(db, { name: "alice@example.org", role: "viewer", by: "admin" }).user.name).toBe("alice@example.org");
    });
  });
});
