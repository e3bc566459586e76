import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { createEnrollToken, listEnrollTokens, revokeEnrollToken, spendEnrollToken, verifyEnrollToken } from "../../coordinator/store/tokens.js";
import { refusal } from "../support/refusal.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

describe.each(STORE_ENGINES)("enrollment tokens (%s)", (engine) => {
  const store = storeOf(engine);
  let db: Db;
  beforeEach(async () => {
    db = await store.open();
  });

  it("accepts a live token until it expires", () => {
    const { token, expiresAt } = createEnrollToken(db, HOUR, "rack 3", T0);
    expect(expiresAt).toBe(T0 + HOUR);
    expect(() => verifyEnrollToken(db, token, T0 + HOUR - 1)).not.toThrow();
    expect(refusal(() => verifyEnrollToken(db, token, T0 + HOUR)).code).toBe("unauthenticated");
  });

  it("enrolls as many agents as its use count allows, then refuses, saying so", () => {
    const { token } = createEnrollToken(db, HOUR, "one box", T0, 2);
    for (let i = 0; i < 2; i++) {
      verifyEnrollToken(db, token, T0);
      spendEnrollToken(db, token);
    }
    expect(refusal(() => verifyEnrollToken(db, token, T0)).message).toBe("enrollment token already used 2 of 2 times; create one with: coord token create");
  });

  it("refuses a revoked token, lists it as revoked, and finds it by the start of its id", () => {
    const { token, id } = createEnrollToken(db, HOUR, "leaked in a ticket", T0);
    expect(listEnrollTokens(db)).toEqual([{ id, description: "leaked in a ticket", createdAt: T0, expiresAt: T0 + HOUR, maxUses: 0, uses: 0, revokedAt: null }]);
    expect(revokeEnrollToken(db, id.slice(0, 8), T0 + 60_000).revokedAt).toBe(T0 + 60_000);
    expect(refusal(() => verifyEnrollToken(db, token, T0 + 120_000)).message).toBe("enrollment token revoked 1 min ago; create one with: coord token create");
    expect(refusal(() => revokeEnrollToken(db, "ffffffffffff")).message).toBe("no enrollment token ffffffffffff; list them with: coord token list");
  });

  it("refuses an unknown token and says how to get one", () => {
    createEnrollToken(db, HOUR, "rack 3", T0);
    const err = refusal(() => verifyEnrollToken(db, "fge_not-a-real-token", T0));
    expect(err.code).toBe("unauthenticated");
    expect(err.message).toBe("enrollment token not recognised; create one with: coord token create");
  });

  it("refuses an expired token, saying how long ago it expired and how to get a new one", () => {
    const { token } = createEnrollToken(db, HOUR, "rack 3", T0);
    const err = refusal(() => verifyEnrollToken(db, token, T0 + 3 * HOUR));
    expect(err.code).toBe("unauthenticated");
    expect(err.message).toBe("enrollment token expired 2 h ago; create one with: coord token create");
  });

  it("stores only the token's sha256: the raw token is nowhere in the table", () => {
    const { token } = createEnrollToken(db, HOUR, "rack 3", T0);
    const rows = db.prepare("SELECT * FROM enroll_tokens").all() as Record<string, unknown>[];
    expect(rows).toEqual([{ hash: createHash("sha256").update(token).digest("hex"), description: "rack 3", created_at: T0, expires_at: T0 + HOUR, max_uses: 0, uses: 0, revoked_at: null }]);
    for (const value of Object.values(rows[0] ?? {})) expect(String(value)).not.toContain(token);
  });
});

// SQLite only: it reads coord.db's own files; PostgreSQL's data directory is the server's.
describe("enrollment tokens on disk (sqlite)", () => {
  let dir: string;
  let dbPath: string;
  let db: Db;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-tokens-"));
    dbPath = join(dir, "coord.db");
    db = openDb(dbPath);
  });

  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the raw token out of the database files, write-ahead log included", () => {
    const { token } = createEnrollToken(db, HOUR, "rack 3", T0);
    const hash = createHash("sha256").update(token).digest("hex");
    const secret = Buffer.from(token);
    const files = [dbPath, `${dbPath}-wal`].filter((f) => existsSync(f));
    const before = Buffer.concat(files.map((f) => readFileSync(f)));
    expect(before.includes(Buffer.from(hash)), "the hash should be on disk, or this test reads the wrong files").toBe(true);
    expect(before.includes(secret)).toBe(false);
    db.close();
    expect(readFileSync(dbPath).includes(secret)).toBe(false);
  });
});
