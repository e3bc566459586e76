// `coord serve --store postgres://…` (issue 19): where the PostgreSQL store is and how to log in,
// checked before anything connects, without loading the driver (the CLI reads these too). The
// password never comes from argv, where `ps` shows it: a file (--store-password-file, mode 0600),
// or libpq's own PGPASSFILE / ~/.pgpass, which pg reads.
import { readFileSync } from "node:fs";
import { FleetgateError } from "../../shared/errors.js";

export interface PostgresStoreSettings {
  /** postgres://user@host:port/database, without a password. */
  url: string;
  /** Read from --store-password-file; without it pg asks PGPASSFILE or ~/.pgpass. */
  password?: string;
}

/** Whether `--store` names PostgreSQL (else it is not a store fleetgate knows). */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//.test(value);
}

/** The settings, or bad_input saying what is wrong with them. Pure but for reading the password file. */
export function postgresStoreSettings(url: string, passwordFile: string | undefined): PostgresStoreSettings {
  if (!isPostgresUrl(url)) throw new FleetgateError("bad_input", `--store ${JSON.stringify(url)}: expected postgres://user@host:port/database (leave --store out for SQLite in STATE_DIR/coord.db)`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FleetgateError("bad_input", `--store ${JSON.stringify(url)} is not a URL: expected postgres://user@host:port/database`);
  }
  if (parsed.password) throw new FleetgateError("bad_input", "--store carries a password, which any user of this host can read in the process list: put it in --store-password-file FILE (or PGPASSFILE) and take it out of the URL");
  if (!passwordFile) return { url };
  let password: string;
  try {
    password = readFileSync(passwordFile, "utf8").replace(/\r?\n$/, "");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `--store-password-file ${passwordFile}: ${(err as Error).message}`);
  }
  if (!password) throw new FleetgateError("bad_input", `--store-password-file ${passwordFile} is empty`);
  return { url, password };
}

/** Where a URL points, for logs: never the password (there is none) nor the query. */
export function describeStore(url: string): string {
  const u = new URL(url);
  return `postgres://${u.username ? `${u.username}@` : ""}${u.host}${u.pathname}`;
}

