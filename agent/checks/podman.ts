// `podman:` — one container's state and health, or a list of containers that must be running.
// podman cannot run on the test machines: evaluate() is tested on recorded outputs in
// ../shared/fixtures/podman, observe() through a fake podman that replays them.
import { FleetgateError } from "../../shared/errors.js";
import { PodmanSpecSchema, type PodmanSpec } from "../../shared/model/kinds/podman.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import type { CheckKind, Verdict } from "./kind.js";
import { evaluateInspect } from "./podman-inspect.js";
import { evaluateRunningList } from "./podman-ps.js";

type Observed = ProcessOutcome & { timeoutMs: number };

/** The Go template whose output is recorded as inspect-format-state-*.json. */
export const STATE_FORMAT = "{{json .State}}";

/** The one podman command a spec needs. */
export function podmanArgv(spec: PodmanSpec): string[] {
  if (spec.running) return ["podman", "ps", "-a", "--format", "json"];
  if (spec.container === undefined) throw new FleetgateError("bad_input", "a podman check needs container or running");
  // --type container: without it podman falls back to images, volumes, networks and pods of the
  // same name, and a node has an image "…/lnd" beside its container lnd.
  const argv = ["podman", "inspect", "--type", "container"];
  // ImageName and RestartCount are outside State; only then ask for the whole document.
  if (spec.image === undefined && spec.restarts === undefined) argv.push("--format", STATE_FORMAT);
  return [...argv, spec.container];
}

function evaluatePodman(spec: PodmanSpec, seen: Observed): Verdict {
  if (spec.running) return evaluateRunningList(spec.running, seen);
  if (spec.container === undefined) return { passed: false, summary: "a podman check needs container or running" };
  return evaluateInspect(spec, spec.container, seen);
}

export const podmanCheck: CheckKind<PodmanSpec, Observed> = {
  kind: "podman",
  schema: PodmanSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: podmanArgv(spec), timeoutMs: ctx.timeoutMs, maxOutputBytes: ctx.maxOutputBytes });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluatePodman,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
