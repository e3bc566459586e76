// The PostgreSQL migration history against a real server (test/harness/postgres.ts): applied to a
// fresh database it makes the schema the SQLite history makes — the same tables, columns,
// nullability, defaults, primary keys, foreign keys and indexes — plus the `rowid` identity
// columns that stand in for SQLite's implicit rowid where queries order by it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb } from "../../coordinator/store/db.js";
import { MIGRATIONS } from "../../coordinator/store/migrations.js";
import { migratePg } from "../../coordinator/store/pg/db.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { needsTool } from "../support/system-tools.js";

const ready = needsTool(postgresBinary("initdb"), "postgresql");

/** The tables whose SQLite queries order by rowid (runs.ts, tasks.ts, people.ts, rollouts.ts). */
const ROWID_TABLES = ["check_results", "person_tokens", "rollouts", "runs"];

interface Column { name: string; type: string; notNull: boolean; default: string | null }
interface Schema {
  tables: string[];
  columns: Record<string, Column[]>;
  primaryKeys: Record<string, string[]>;
  foreignKeys: string[];
  indexes: Record<string, string>;
}

/** SQLite's type → the PostgreSQL types it may become (pg/migrations.ts says which and why). */
const TYPES: Record<string, string[]> = { INTEGER: ["integer", "bigint"], TEXT: ["text"], BLOB: ["bytea"] };

function sqliteSchema(): Schema {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-pg-schema-"));
  const db = openDb(join(dir, "coord.db"));
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    const columns: Schema["columns"] = {};
    const primaryKeys: Schema["primaryKeys"] = {};
    const foreignKeys: string[] = [];
    for (const t of tables) {
      const info = db.prepare(`SELECT name, type, "notnull" AS nn, dflt_value AS d, pk FROM pragma_table_info(?)`).all(t) as { name: string; type: string; nn: number; d: string | null; pk: number }[];
      // An INTEGER PRIMARY KEY is never null in SQLite whatever it declares.
      columns[t] = info.map((c) => ({ name: c.name, type: c.type, notNull: c.nn === 1 || c.pk > 0, default: c.d })).sort((a, b) => a.name.localeCompare(b.name));
      primaryKeys[t] = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      for (const fk of db.prepare("SELECT \"from\" AS f, \"table\" AS rt, \"to\" AS rc FROM pragma_foreign_key_list(?)").all(t) as { f: string; rt: string; rc: string }[]) {
        foreignKeys.push(`${t}.${fk.f} -> ${fk.rt}.${fk.rc}`);
      }
    }
    const indexes: Schema["indexes"] = {};
    for (const ix of db.prepare("SELECT name, tbl_name AS t FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'").all() as { name: string; t: string }[]) {
      const cols = (db.prepare("SELECT name FROM pragma_index_info(?) ORDER BY seqno").all(ix.name) as { name: string }[]).map((c) => c.name);
      indexes[ix.name] = `${ix.t}(${cols.join(", ")})`;
    }
    return { tables, columns, primaryKeys, foreignKeys: foreignKeys.sort(), indexes };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pgSchema(client: pg.Client): Promise<Schema> {
  const tables = (await client.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map((r: { t: string }) => r.t);
  const columns: Schema["columns"] = {};
  for (const r of (await client.query("SELECT table_name AS t, column_name AS c, data_type AS ty, is_nullable AS n, column_default AS d FROM information_schema.columns WHERE table_schema = 'public'")).rows as { t: string; c: string; ty: string; n: string; d: string | null }[]) {
    // '[]'::text → '[]', as SQLite keeps a default's text.
    (columns[r.t] ??= []).push({ name: r.c, type: r.ty, notNull: r.n === "NO", default: r.d === null ? null : r.d.replace(/::[a-z ]+$/, "") });
  }
  for (const t of Object.keys(columns)) columns[t]?.sort((a, b) => a.name.localeCompare(b.name));
  const primaryKeys: Schema["primaryKeys"] = {};
  const keyColumns = await client.query(`
    SELECT cl.relname AS t, a.attname AS c, c.contype AS kind, fcl.relname AS rt, fa.attname AS rc, k.i
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid
    JOIN pg_namespace ns ON ns.oid = cl.relnamespace AND ns.nspname = 'public'
    CROSS JOIN LATERAL unnest(c.conkey, COALESCE(c.confkey, c.conkey)) WITH ORDINALITY AS k(a1, a2, i)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.a1
    LEFT JOIN pg_class fcl ON fcl.oid = c.confrelid
    LEFT JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.a2
    WHERE c.contype IN ('p', 'f') ORDER BY cl.relname, c.conname, k.i`);
  const foreignKeys: string[] = [];
  for (const r of keyColumns.rows as { t: string; c: string; kind: string; rt: string | null; rc: string | null }[]) {
    if (r.kind === "p") (primaryKeys[r.t] ??= []).push(r.c);
    else foreignKeys.push(`${r.t}.${r.c} -> ${r.rt}.${r.rc}`);
  }
  const indexes: Schema["indexes"] = {};
  const ix = await client.query(`
    SELECT i.relname AS name, t.relname AS t, array_agg(a.attname::text ORDER BY k.i) AS cols
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace ns ON ns.oid = t.relnamespace AND ns.nspname = 'public'
    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, i)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE NOT x.indisprimary GROUP BY i.relname, t.relname`);
  for (const r of ix.rows as { name: string; t: string; cols: string[] }[]) indexes[r.name] = `${r.t}(${r.cols.join(", ")})`;
  return { tables, columns, primaryKeys, foreignKeys: foreignKeys.sort(), indexes };
}

describe.skipIf(!ready)("the PostgreSQL migration history on a real server", () => {
  let server: PostgresServer;
  let lite: Schema;
  let client: pg.Client;
  let applied: number[];

  beforeAll(async () => {
    server = await startPostgres();
    lite = sqliteSchema();
    client = new pg.Client({ connectionString: await server.createDatabase("migrated") });
    await client.connect();
    applied = await migratePg(client);
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it("applies every version in order and records each in schema_migrations", async () => {
    expect(applied).toEqual(MIGRATIONS.map((m) => m.version));
    const rows = (await client.query("SELECT version FROM schema_migrations ORDER BY version")).rows.map((r: { version: number }) => r.version);
    expect(rows).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("applies nothing a second time", async () => {
    expect(await migratePg(client)).toEqual([]);
  });

  it("makes the same tables as SQLite", async () => {
    expect((await pgSchema(client)).tables).toEqual(lite.tables);
  });

  it("makes each table's columns with SQLite's names, nullability, defaults and matching types, plus rowid where queries order by it", async () => {
    const mine = await pgSchema(client);
    for (const t of lite.tables) {
      const pgColumns = mine.columns[t] ?? [];
      expect(pgColumns.some((c) => c.name === "rowid"), `${t}.rowid`).toBe(ROWID_TABLES.includes(t));
      const compared = pgColumns.filter((c) => c.name !== "rowid");
      expect(compared.map((c) => [c.name, c.notNull, c.default]), t).toEqual((lite.columns[t] ?? []).map((c) => [c.name, c.notNull, c.default]));
      (lite.columns[t] ?? []).forEach((c, i) => expect(TYPES[c.type], `${t}.${c.name} ${c.type} → ${compared[i]?.type}`).toContain(compared[i]?.type));
    }
  });

  it("keys and indexes every table as SQLite does, (node_name, seq) of agent_events included", async () => {
    const mine = await pgSchema(client);
    expect(mine.primaryKeys).toEqual(lite.primaryKeys);
    expect(mine.primaryKeys.agent_events).toEqual(["node_name", "seq"]);
    expect(mine.primaryKeys.check_results).toEqual(["task_id", "check_id"]);
    expect(mine.foreignKeys).toEqual(lite.foreignKeys);
    expect(mine.indexes).toEqual(lite.indexes);
  });

  it("refuses a second agent event with the same node and seq", async () => {
    await client.query("INSERT INTO agent_events (node_name, seq, received_at) VALUES ('n1', 1, 0)");
    await expect(client.query("INSERT INTO agent_events (node_name, seq, received_at) VALUES ('n1', 1, 5)")).rejects.toMatchObject({ code: "23505" });
    await client.query("DELETE FROM agent_events");
  });

  it("applies each version once when two coordinators migrate one database at the same time", async () => {
    const url = await server.createDatabase("raced");
    const clients = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const [a, b] = await Promise.all(clients.map((c) => migratePg(c)));
      expect([...(a ?? []), ...(b ?? [])].sort((x, y) => x - y)).toEqual(MIGRATIONS.map((m) => m.version));
      expect((await clients[0]?.query("SELECT COUNT(*)::int AS n FROM schema_migrations"))?.rows[0]).toEqual({ n: MIGRATIONS.length });
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
