// The admin token's file in the state dir: coord serve creates it, the CLI on the same host reads it.
// A module of its own so the CLI finds the file without loading the server.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newSecret } from "../store/tokens.js";

export const ADMIN_TOKEN_FILE = "admin.token";

/** Created on first start, mode 0600: whoever can read the state dir administers the coordinator. */
export function ensureAdminToken(stateDir: string): string {
  const file = join(stateDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = newSecret("fga");
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  return token;
}
