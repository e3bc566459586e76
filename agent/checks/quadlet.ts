import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { PODMAN_PS_ARGV } from "../../shared/model/kinds/podman.js";
import { QUADLET_SERVICE_PROPERTIES, QuadletSpecSchema, type QuadletSpec } from "../../shared/model/kinds/quadlet.js";
import { preview } from "../../shared/model/matchers.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { runtimeDir } from "../run-as/setpriv.js";
import { firstLine, processFailure, toolMissing, spawnOptions, type CheckKind, type Verdict } from "./kind.js";
import { describeContainerUnit, quadletSearchPaths, type ContainerUnit } from "./quadlet-units.js";
import { parseShowProperties, systemctlFailure, systemctlShowArgv } from "./systemctl-show.js";

export interface QuadletObserved {
  dirs: string[];
  units: ContainerUnit[];
  /** "PATH: CODE" for each search path or file that exists but could not be read. */
  unreadable: string[];
  /** `podman ps -a --format json`; absent when there is no unit to look for. */
  containers?: ProcessOutcome;
  services: { service: string; outcome: ProcessOutcome }[];
  timeoutMs: number;
}

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

/** Every .container in `dirs`; a file in an earlier dir shadows one of the same name in a later one. */
async function listContainerUnits(dirs: string[]): Promise<Pick<QuadletObserved, "units" | "unreadable">> {
  const units: ContainerUnit[] = [];
  const unreadable: string[] = [];
  const seenNames = new Set<string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith(".container")).sort();
    } catch (err) {
      if (errorCode(err) !== "ENOENT") unreadable.push(`${dir}: ${errorCode(err)}`);
      continue;
    }
    for (const name of names.filter((n) => !seenNames.has(n))) {
      seenNames.add(name);
      const path = join(dir, name);
      try {
        const unit = describeContainerUnit(path, await readFile(path, "utf8"));
        if (unit) units.push(unit);
      } catch (err) {
        unreadable.push(`${path}: ${errorCode(err)}`);
      }
    }
  }
  return { units, unreadable };
}

/** Names of every container podman knows, or why podman could not say. */
function containerNames(ps: ProcessOutcome, timeoutMs: number): Set<string> | string {
  const broken = processFailure(ps, timeoutMs);
  if (broken) return toolMissing(broken) ? broken : `podman ps ${broken}`;
  if (ps.exitCode !== 0) return `podman ps exited ${ps.exitCode}: ${firstLine(ps.stderr) || "no output"}`;
  try {
    const list = JSON.parse(ps.stdout) as { Names?: string[] }[];
    return new Set(list.flatMap((c) => c.Names ?? []));
  } catch {
    return `podman ps printed no JSON: ${preview(ps.stdout)}`;
  }
}

/**
 * Why a unit is an orphan, empty when it is not. A service stuck "activating" is waiting for a
 * container that never signals readiness; if it is only slow to start, `retry:` gives it time.
 */
export function orphanReasons(unit: ContainerUnit, containers: Set<string>, activeState: string | undefined): string[] {
  const reasons: string[] = [];
  if (unit.container !== undefined && !containers.has(unit.container)) reasons.push(`no container named ${unit.container}`);
  if (activeState === "activating") reasons.push(`service ${unit.service} activating`);
  return reasons;
}

function evaluateQuadlet(spec: QuadletSpec, seen: QuadletObserved): Verdict {
  if (seen.unreadable.length) return { passed: false, summary: `cannot read quadlet units: ${seen.unreadable.join("; ")}` };
  if (!seen.units.length) return { passed: true, summary: `no .container units in ${seen.dirs.join(", ")}` };
  const containers = seen.containers ? containerNames(seen.containers, seen.timeoutMs) : "podman ps was not run";
  if (typeof containers === "string") return { passed: false, summary: `cannot list containers: ${containers}` };
  const orphans: string[] = [];
  for (const unit of seen.units) {
    const asked = seen.services.find((s) => s.service === unit.service);
    if (!asked) return { passed: false, summary: `systemctl was not asked about ${unit.service}` };
    const failure = systemctlFailure(asked.outcome, spec.scope, unit.service, seen.timeoutMs);
    if (failure) return { passed: false, summary: failure };
    const reasons = orphanReasons(unit, containers, parseShowProperties(asked.outcome.stdout).get("ActiveState"));
    if (reasons.length) orphans.push(`${unit.file}: ${reasons.join("; ")}`);
  }
  if (orphans.length) return { passed: false, summary: orphans.join(" | ") };
  return { passed: true, summary: `${seen.units.length} .container unit(s), none orphaned` };
}

export const quadletCheck: CheckKind<QuadletSpec, QuadletObserved> = {
  kind: "quadlet",
  schema: QuadletSpecSchema,
  async observe(spec, ctx) {
    // The user scope means the user the check runs as (its user:, else the agent's): its home,
    // uid and rootless podman store. Another user's units are where its processes would see them.
    const other = ctx.runAs?.setpriv ? ctx.runAs.user : undefined;
    const { XDG_RUNTIME_DIR, XDG_CONFIG_HOME } = other ? { XDG_RUNTIME_DIR: runtimeDir(other.uid), XDG_CONFIG_HOME: undefined } : process.env;
    const dirs = spec.dirs ?? quadletSearchPaths(spec.scope, { XDG_RUNTIME_DIR, XDG_CONFIG_HOME, home: other?.home ?? homedir(), uid: other?.uid ?? process.getuid?.() ?? 0 });
    const seen: QuadletObserved = { dirs, ...(await listContainerUnits(dirs)), services: [], timeoutMs: ctx.timeoutMs };
    if (!seen.units.length) return seen;
    // One budget for the whole check: every process gets what is left of it.
    const deadline = Date.now() + ctx.timeoutMs;
    const run = (argv: string[]) => runProcess({ argv, timeoutMs: Math.max(1, deadline - Date.now()), ...spawnOptions(ctx) });
    seen.containers = await run([...PODMAN_PS_ARGV]);
    for (const { service } of seen.units) {
      seen.services.push({ service, outcome: await run(systemctlShowArgv(spec.scope, service, QUADLET_SERVICE_PROPERTIES)) });
    }
    return seen;
  },
  evaluate: evaluateQuadlet,
  evidence: (seen) => ({
    stdout: [...seen.units.map((u) => `${u.path} -> ${u.service}, container ${u.container ?? "(set by systemd specifiers)"}`), seen.containers?.stdout ?? ""].join("\n"),
    stderr: [seen.containers, ...seen.services.map((s) => s.outcome)].map((p) => p?.stderr ?? "").filter(Boolean).join(""),
  }),
};
