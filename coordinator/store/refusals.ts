// Refusals as rows (migration 10): counts by kind, and the newest refusals one by one, at most
// `keep` of them. Written in batches by the refusal log (server/refusals.ts), never per refusal.
import type { RefusalKind, RefusalSide, RefusalStore, RefusalTotal, StoredRefusal } from "../server/refusals.js";
import type { Db } from "./db.js";

interface RawRefusal {
  at: number;
  side: string;
  kind: string;
  code: string;
  peer: string;
  claimed: string;
  message: string;
}

interface RawTotal {
  kind: string;
  side: string;
  count: number;
  first_at: number;
  last_at: number;
}

/** Adds `rows` and the counts in `totals`, and drops all but the newest `keep` rows, in one transaction. */
export function saveRefusals(db: Db, rows: StoredRefusal[], totals: RefusalTotal[], keep: number): void {
  db.transaction(() => {
    const insert = db.prepare("INSERT INTO refusals (at, side, kind, code, peer, claimed, message) VALUES (@at, @side, @kind, @code, @peer, @claimed, @message) RETURNING id");
    let last = 0;
    for (const r of rows) last = (insert.get(r) as { id: number }).id;
    const count = db.prepare(
      `INSERT INTO refusal_totals (kind, side, count, first_at, last_at) VALUES (@kind, @side, @count, @firstAt, @lastAt)
       ON CONFLICT (kind) DO UPDATE SET count = refusal_totals.count + excluded.count,
         first_at = CASE WHEN refusal_totals.first_at <= excluded.first_at THEN refusal_totals.first_at ELSE excluded.first_at END,
         last_at = CASE WHEN refusal_totals.last_at >= excluded.last_at THEN refusal_totals.last_at ELSE excluded.last_at END`,
    );
    for (const t of totals) count.run(t);
    // ids only grow, so the newest `keep` rows are the last ids.
    if (last) db.prepare("DELETE FROM refusals WHERE id <= ?").run(last - keep);
  })();
}

/** The newest `limit` refusals (newest first) and the totals by kind (most first). */
export function readRefusals(db: Db, limit: number): { recent: StoredRefusal[]; totals: RefusalTotal[] } {
  const recent = (db.prepare("SELECT at, side, kind, code, peer, claimed, message FROM refusals ORDER BY id DESC LIMIT ?").all(limit) as RawRefusal[]).map(
    (r): StoredRefusal => ({ ...r, side: r.side as RefusalSide, kind: r.kind as RefusalKind }),
  );
  const totals = (db.prepare("SELECT * FROM refusal_totals ORDER BY count DESC, kind").all() as RawTotal[]).map(
    (t): RefusalTotal => ({ kind: t.kind as RefusalKind, side: t.side as RefusalSide, count: t.count, firstAt: t.first_at, lastAt: t.last_at }),
  );
  return { recent, totals };
}

/** The refusal log's store over coord.db, keeping the newest `keep` rows. */
export function refusalStore(db: Db, keep: number): RefusalStore {
  return { save: (rows, totals) => saveRefusals(db, rows, totals, keep), read: (limit) => readRefusals(db, limit) };
}
