// The store `coord prune` reads: a module of its own, imported when prune runs, so the rest of the
// CLI starts without SQLite's or PostgreSQL's driver.
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { postgresStoreSettings } from "../store/postgres-settings.js";
import { openPostgresStore } from "../store/postgres-store.js";

/** The store prune reads: --store's PostgreSQL (not migrated), else STATE_DIR/coord.db read-only. */
export function openPruneStore(stateDir: string, store: string | undefined, passwordFile: string | undefined): Db {
  if (store) return openPostgresStore(postgresStoreSettings(store, passwordFile), "fleetgate prune", false);
  return openStateDb(stateDir);
}

function openStateDb(stateDir: string): Database.Database {
  const file = join(stateDir, "coord.db");
  if (!existsSync(file)) throw new FleetgateError("bad_input", `no coord.db in ${stateDir}; pass the coordinator's --state-dir`);
  // Read-only: prune deletes bundle directories, never a row, and must not migrate the
  // database of a coordinator that may be running a different version.
  return new Database(file, { readonly: true, fileMustExist: true });
}
