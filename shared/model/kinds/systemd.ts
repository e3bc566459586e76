import { z } from "zod";
import { integerMatcherSchema, MatcherSchema } from "../matchers.js";

/** Which service manager to ask: the system one, or the user's (`systemctl --user`). */
export const ScopeSchema = z.enum(["system", "user"]);
export type Scope = z.infer<typeof ScopeSchema>;

/** `systemd:` — one unit's state as its service manager reports it. */
export const SystemdSpecSchema = z.strictObject({
  // The unit goes into systemctl's argv: a leading "-" would be read as an option.
  unit: z.string().regex(/^[^-\s]\S*$/, { message: "a unit name, e.g. bitcoind.service (no spaces, no leading '-')" }),
  scope: ScopeSchema.default("system"),
  /** Matched against ActiveState. */
  state: MatcherSchema.default("active"),
  /** Matched against SubState (running, exited, dead, …). */
  sub_state: MatcherSchema.optional(),
  /** Matched against Result (success, exit-code, …). */
  result: MatcherSchema.optional(),
  /** Matched against NRestarts, a number. */
  restarts: integerMatcherSchema(0, Number.MAX_SAFE_INTEGER, "a restart count", "{ lte: 3 }").optional(),
});
export type SystemdSpec = z.infer<typeof SystemdSpecSchema>;

/** Asked in one call; recorded fixtures (show-7props-*) answer exactly this set. */
export const SYSTEMD_PROPERTIES = ["Result", "NRestarts", "ExecMainStatus", "LoadState", "ActiveState", "SubState", "UnitFileState"] as const;

/** `systemctl [--user] show UNIT -p A,B`: `--user` asks the user's manager, not the system's. */
export function systemctlShowArgv(scope: Scope, unit: string, properties: readonly string[]): string[] {
  return ["systemctl", ...(scope === "user" ? ["--user"] : []), "show", unit, "-p", properties.join(",")];
}

/** The one systemctl call a systemd check makes; built here so a dry run prints exactly it. */
export function systemdArgv(spec: SystemdSpec): string[] {
  return systemctlShowArgv(spec.scope ?? "system", spec.unit, SYSTEMD_PROPERTIES);
}
