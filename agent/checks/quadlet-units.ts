// Where Quadlet looks for .container files and what each one becomes (a service, a container),
// after podman-systemd.unit(5) and pkg/systemd/quadlet in containers/podman.
import { join } from "node:path";
import type { Scope } from "../../shared/model/kinds/systemd.js";

/** section → key → every value assigned, in file order. */
export type UnitFile = Map<string, Map<string, string[]>>;

/**
 * The part of systemd.syntax(7) that naming needs: `[Section]`, `Key=value`, `#`/`;` comments
 * (which also carry upstream's `## assert-…` test annotations), and a trailing backslash that
 * continues a value on the next line, joined with a space.
 */
export function parseUnitFile(text: string): UnitFile {
  const sections: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  let pending: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("#") || line.startsWith(";")) continue;
    if (pending === undefined && line === "") continue;
    const joined = pending === undefined ? line : line ? `${pending} ${line}` : pending;
    if (joined.endsWith("\\")) {
      pending = joined.slice(0, -1).trimEnd();
      continue;
    }
    pending = undefined;
    const header = /^\[([^\]]+)\]$/.exec(joined);
    if (header) {
      const name = header[1] as string;
      section = sections.get(name) ?? new Map<string, string[]>();
      sections.set(name, section);
      continue;
    }
    const eq = joined.indexOf("=");
    if (!section || eq <= 0) continue; // systemd ignores such lines too, with a warning
    const key = joined.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), joined.slice(eq + 1).trim()]);
  }
  return sections;
}

/** The last assignment wins, and an empty one means "use the default", as in Quadlet. */
function lastValue(unit: UnitFile, section: string, key: string): string | undefined {
  const value = unit.get(section)?.get(key)?.at(-1);
  return value ? value : undefined;
}

export interface ContainerUnit {
  path: string;
  /** The file name, e.g. lnd.container. */
  file: string;
  /** The generated service, e.g. lnd.service. */
  service: string;
  /** The podman container it runs; undefined when ContainerName uses specifiers only systemd expands. */
  container: string | undefined;
}

/**
 * Names a .container file's service (`ServiceName=` or the file's stem, plus ".service") and
 * container (`ContainerName=` or "systemd-%N", %N being the service stem). Returns undefined for
 * a template (`name@.container`): only its instances have containers.
 */
export function describeContainerUnit(path: string, text: string): ContainerUnit | undefined {
  const file = path.slice(path.lastIndexOf("/") + 1);
  const stem = file.replace(/\.container$/, "");
  if (stem.endsWith("@")) return undefined;
  const unit = parseUnitFile(text);
  const serviceStem = lastValue(unit, "Container", "ServiceName") ?? stem;
  const at = stem.indexOf("@");
  // An instance (name@inst.container) defaults to systemd-%p_%i; Quadlet says so in getContainerName.
  const fallback = at > 0 ? `systemd-${stem.slice(0, at)}_${stem.slice(at + 1)}` : "systemd-%N";
  const container = (lastValue(unit, "Container", "ContainerName") ?? fallback).replaceAll("%N", serviceStem);
  return { path, file, service: `${serviceStem}.service`, container: container.includes("%") ? undefined : container };
}

export interface SearchEnv {
  XDG_RUNTIME_DIR?: string;
  XDG_CONFIG_HOME?: string;
  home: string;
  uid: number;
}

/** Quadlet's search paths for a scope, highest precedence first (podman-systemd.unit(5)). */
export function quadletSearchPaths(scope: Scope, env: SearchEnv): string[] {
  if (scope === "system") return ["/run/containers/systemd", "/etc/containers/systemd", "/usr/share/containers/systemd"];
  return [
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, "containers/systemd")] : []),
    join(env.XDG_CONFIG_HOME || join(env.home, ".config"), "containers/systemd"),
    `/etc/containers/systemd/users/${env.uid}`,
    "/etc/containers/systemd/users",
    `/usr/share/containers/systemd/users/${env.uid}`,
    "/usr/share/containers/systemd/users",
  ];
}
