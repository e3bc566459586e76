// Opening the PostgreSQL store that `coord serve --store` names (settings: postgres-settings.ts).
import { FleetgateError } from "../../shared/errors.js";
import { PgSyncDb } from "./pg/sync-db.js";
import { describeStore, type PostgresStoreSettings } from "./postgres-settings.js";

/** Connects (retrying for a few seconds) and migrates unless told not to; throws unreachable when the server does not answer. */
export function openPostgresStore(settings: PostgresStoreSettings, applicationName: string, migrate = true): PgSyncDb {
  try {
    return new PgSyncDb({ connectionString: settings.url, password: settings.password, applicationName, reconnectMs: 3_000, statementTimeoutMs: 60_000, migrate });
  } catch (err) {
    const e = FleetgateError.from(err, "unreachable");
    // Named: the operator may run several coordinators and stores, and the driver's words name neither.
    throw new FleetgateError(e.code, `cannot use the store at ${describeStore(settings.url)}: ${e.message}`, undefined, { cause: err });
  }
}
