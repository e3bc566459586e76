// One migration history on both engines (issue 19): the PostgreSQL list has exactly the SQLite
// list's versions, so a version added on one side alone fails here. What each version makes is
// compared on real servers in test/e2e/pg-store.test.ts.
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../coordinator/store/migrations.js";
import { PG_MIGRATIONS } from "../../coordinator/store/pg/migrations.js";

describe("the migration histories of SQLite and PostgreSQL", () => {
  it("have exactly the same version numbers, in the same order", () => {
    expect(PG_MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it("number their versions 1, 2, 3 … with no gap or repeat", () => {
    for (const list of [MIGRATIONS, PG_MIGRATIONS]) expect(list.map((m) => m.version)).toEqual(list.map((_, i) => i + 1));
  });

  it("give every PostgreSQL version some SQL", () => {
    for (const m of PG_MIGRATIONS) expect(m.sql.replace(/--.*$/gm, "").trim(), `version ${m.version}`).not.toBe("");
  });
});
