// How systemd would start a service, read from its unit file, for tests that start a packaged
// program "exactly as its unit would" without systemd as PID 1: ExecStart='s argv, the user (User=,
// Group=), the working directory (WorkingDirectory=, else /), the environment (systemd's PATH,
// INVOCATION_ID, STATE_DIRECTORY=, Environment= lines) and whether its ConditionPathExists= hold.
// Settings this cannot reproduce make it throw rather than start something different.
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { execArgv, unitValue, unitValues, type UnitFile } from "../support/unit-file.js";

/** systemd's PATH for system services (systemd 252, Debian 12; `systemctl show-environment`). */
export const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Settings whose effect this emulation does not reproduce; a unit using one cannot be started "exactly" here. */
const UNSUPPORTED = ["AmbientCapabilities", "EnvironmentFile", "RootDirectory", "RootImage", "ExecStartPre", "PassEnvironment", "SupplementaryGroups"];

export interface ServiceStart {
  /** The program and its arguments as ExecStart= gives them. */
  argv: string[];
  /** The whole environment (the process gets nothing else). */
  env: Record<string, string>;
  cwd: string;
  /** User= as written, or undefined for root. */
  user?: { name: string; uid: number; gid: number; home: string; shell: string };
  /** StateDirectory= as paths under /var/lib. */
  stateDirs: string[];
}

function passwdEntry(root: string, name: string): ServiceStart["user"] {
  for (const file of [join(root, "etc/passwd"), "/etc/passwd"]) {
    if (!existsSync(file)) continue;
    const line = readFileSync(file, "utf8").split("\n").find((l) => l.split(":")[0] === name);
    if (line) {
      const [, , uid, gid, , home, shell] = line.split(":");
      return { name, uid: Number(uid), gid: Number(gid), home: home!, shell: shell! };
    }
  }
  throw new Error(`User=${name}: no such user in ${root}/etc/passwd or /etc/passwd`);
}

/** What systemd would run for the [Service] of `unit`, with the root's passwd for User=. */
export function serviceStart(unit: UnitFile, root: string): ServiceStart {
  for (const key of UNSUPPORTED) {
    if (unitValues(unit, "Service", key).length) throw new Error(`the unit sets ${key}=, which this emulation does not reproduce`);
  }
  const exec = unitValues(unit, "Service", "ExecStart");
  if (exec.length !== 1) throw new Error(`expected one ExecStart=, got ${exec.length}`);
  const stateDirs = unitValues(unit, "Service", "StateDirectory").flatMap((v) => v.split(/\s+/)).filter(Boolean).map((d) => `/var/lib/${d}`);
  const userName = unitValue(unit, "Service", "User");
  const user = userName ? passwdEntry(root, userName) : undefined;
  const env: Record<string, string> = { PATH: SYSTEMD_PATH, INVOCATION_ID: randomBytes(16).toString("hex") };
  if (stateDirs.length) env.STATE_DIRECTORY = stateDirs.join(":");
  if (user) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell });
  for (const line of unitValues(unit, "Service", "Environment")) {
    for (const m of line.matchAll(/"([^"]*)"|(\S+)/g)) {
      const pair = m[1] ?? m[2]!;
      const eq = pair.indexOf("=");
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  const cwd = unitValue(unit, "Service", "WorkingDirectory") ?? "/";
  if (cwd.startsWith("~") || cwd.startsWith("-")) throw new Error(`WorkingDirectory=${cwd} is not supported here`);
  return { argv: execArgv(exec[0]!), env, cwd, user, stateDirs };
}

/**
 * Whether the unit's ConditionPathExists= hold under `root`: every plain one, and at least one of
 * those written with "|" (triggering conditions) when there are any; "!" negates.
 */
export function pathConditionsHold(unit: UnitFile, root: string): boolean {
  const checks = unitValues(unit, "Unit", "ConditionPathExists").map((raw) => {
    const triggering = raw.startsWith("|");
    const rest = triggering ? raw.slice(1) : raw;
    const negated = rest.startsWith("!");
    const path = negated ? rest.slice(1) : rest;
    return { triggering, holds: existsSync(join(root, path)) !== negated };
  });
  const triggering = checks.filter((c) => c.triggering);
  return checks.filter((c) => !c.triggering).every((c) => c.holds) && (triggering.length === 0 || triggering.some((c) => c.holds));
}
