// Compares `podman ps -a --format json` (recorded: ps-a.json) with `podman: { running: [...] }`.
// -a, not the running-only listing: a container that is there but created or exited is named
// with its state, which says more than "not listed".
import { preview } from "../../shared/model/matchers.js";
import type { ProcessOutcome } from "../process.js";
import { firstLine, processFailure, toolMissing, type Verdict } from "./kind.js";

/** The fields of one `podman ps --format json` entry read here. */
interface ListedContainer {
  Names?: string[];
  State?: string;
}

/** Pure verdict: passes when every named container is listed with State "running". */
export function evaluateRunningList(names: string[], seen: ProcessOutcome & { timeoutMs: number }): Verdict {
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: toolMissing(broken) ? broken : `podman ps ${broken}` };
  if (seen.exitCode !== 0) return { passed: false, summary: `podman ps exited ${seen.exitCode}: ${firstLine(seen.stderr) || "no output"}` };
  let listed: ListedContainer[];
  try {
    listed = JSON.parse(seen.stdout) as ListedContainer[];
    if (!Array.isArray(listed)) throw new Error("not a list");
  } catch {
    return { passed: false, summary: `podman ps printed no JSON list: ${preview(seen.stdout)}` };
  }
  const notRunning = names.flatMap((name) => {
    const state = listed.find((c) => c.Names?.includes(name))?.State;
    return state === "running" ? [] : [`${name} (${state ?? "no such container"})`];
  });
  if (notRunning.length) return { passed: false, summary: `not running: ${notRunning.join(", ")}` };
  return { passed: true, summary: `running: ${names.join(", ")}` };
}
