// What a check will observe on its node, said before it runs (a dry run): the exact argv for
// kinds that run one process, a one-line description for the others. Pure; built from the same
// argv functions the agent's checks call, so what is shown is what runs.
import { batsArgv, type BatsSpec } from "./bats.js";
import { bitcoinCliArgv, type BitcoinSpec } from "./bitcoin.js";
import { commandArgv, type CommandSpec } from "./command.js";
import type { DiskSpec } from "./disk.js";
import type { FileSpec } from "./file.js";
import { curlArgv, type HttpSpec } from "./http.js";
import type { KindName } from "./index.js";
import { nginxArgv, type NginxSpec } from "./nginx.js";
import { PODMAN_PS_ARGV, podmanArgv, type PodmanSpec } from "./podman.js";
import { QUADLET_SERVICE_PROPERTIES, type QuadletSpec } from "./quadlet.js";
import { systemctlShowArgv, systemdArgv, type SystemdSpec } from "./systemd.js";
import type { TcpSpec } from "./tcp.js";

export interface PlannedObservation {
  /** The process the agent starts, exactly; absent for kinds that start none or several. */
  argv?: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** For kinds without one argv: what is read or probed. */
  observes?: string;
}

function quadletObservation(spec: QuadletSpec): string {
  const where = spec.dirs ? spec.dirs.join(", ") : `Quadlet's ${spec.scope} search paths`;
  const show = systemctlShowArgv(spec.scope, "UNIT", QUADLET_SERVICE_PROPERTIES).join(" ");
  return `.container units in ${where}; then ${PODMAN_PS_ARGV.join(" ")} and, per unit, ${show}`;
}

/** `spec` is the kind's block as validated by its schema (defaults applied). */
export function plannedObservation(kind: KindName, spec: unknown, timeoutMs: number): PlannedObservation {
  switch (kind) {
    case "command": {
      const s = spec as CommandSpec;
      return { argv: commandArgv(s), cwd: s.cwd, env: s.env };
    }
    case "http":
      return { argv: curlArgv(spec as HttpSpec, timeoutMs) };
    case "bats": {
      const s = spec as BatsSpec;
      return { argv: batsArgv(s), cwd: s.cwd, env: s.env };
    }
    case "nginx":
      return { argv: nginxArgv(spec as NginxSpec) };
    case "podman":
      return { argv: podmanArgv(spec as PodmanSpec) };
    case "bitcoin":
      return { argv: bitcoinCliArgv(spec as BitcoinSpec) };
    case "systemd":
      return { argv: systemdArgv(spec as SystemdSpec) };
    case "quadlet":
      return { observes: quadletObservation(spec as QuadletSpec) };
    case "tcp": {
      const s = spec as TcpSpec;
      return { observes: `TCP connect to ${s.address}${s.expect_closed ? " (expected closed)" : ""}` };
    }
    case "file": {
      const s = spec as FileSpec;
      const reads = s.contains !== undefined || s.matches !== undefined || s.sha256 !== undefined;
      return { observes: `stat ${s.path}${reads ? " and read it" : ""}` };
    }
    case "disk":
      return { observes: `statfs ${(spec as DiskSpec).path}` };
    case "memory":
      return { observes: "/proc/meminfo" };
    case "load":
      return { observes: "load averages (/proc/loadavg)" };
  }
}
