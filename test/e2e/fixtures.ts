// Temp dirs and plan files for end-to-end tests; every test cleans up what it made.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Proc } from "../../scripts/local-fleet.js";

export class Workspace {
  readonly dir = mkdtempSync(join(tmpdir(), "fleetgate-e2e-"));
  readonly procs: Proc[] = [];

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  write(name: string, text: string): string {
    const file = this.path(name);
    writeFileSync(file, text);
    return file;
  }

  track<P extends Proc>(p: P): P {
    this.procs.push(p);
    return p;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop("SIGKILL")));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Reads the coordinator's real SQLite file, as an operator with sqlite3 would. */
export function queryDb<T>(stateDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(stateDir, "coord.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** A plan of one `fleet` stage (id fleet) running `suite` on every role=fleet node. */
export function fleetPlan(name: string, suite: string, iterations = 1): string {
  return `plan: ${name}\nstages:\n  - id: fleet\n    kind: fleet\n    suite: ${suite}\n    nodes: { role: fleet }\n    iterations: ${iterations}\n`;
}
