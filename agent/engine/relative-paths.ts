// Pure: where a check's relative paths resolve. A process runs in `cwd:` (relative to the base
// dir, default the base dir itself), so its argv and a bats file resolve there as in a shell; a
// path the agent opens itself (file, disk, nginx's config) resolves against the base dir. The base
// is the suite's directory under `fleetgate-agent check` and the task's work dir in the daemon, so
// a suite behaves the same both ways.
import { resolve } from "node:path";
import type { ResolvedBlock, ResolvedCheck } from "../../shared/model/suite.js";

type Spec = Record<string, unknown>;

function atBase(block: ResolvedBlock, base: string): ResolvedBlock {
  const spec = block.spec as Spec;
  const str = (key: string) => (typeof spec[key] === "string" ? (spec[key] as string) : undefined);
  switch (block.kind) {
    case "command":
    case "bats":
      return { ...block, spec: { ...spec, cwd: resolve(base, str("cwd") ?? ".") } };
    case "file":
    case "disk":
      return { ...block, spec: { ...spec, path: resolve(base, str("path") ?? ".") } };
    case "nginx":
      return str("config") === undefined ? block : { ...block, spec: { ...spec, config: resolve(base, str("config") as string) } };
    default:
      return block;
  }
}

/** The check with its relative paths resolved against `base` (absolute paths stay as written). */
export function resolvePathsAt(check: ResolvedCheck, base: string): ResolvedCheck {
  return { ...check, ...atBase(check, base), then: check.then ? atBase(check.then, base) : undefined };
}
