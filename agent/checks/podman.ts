// `podman:` — one container's state and health, or a list of containers that must be running.
// podman cannot run on the test machines: evaluate() is tested on recorded outputs in
// test/fixtures/podman, observe() through a fake podman that replays them.
import { podmanArgv, PodmanSpecSchema, STATE_FORMAT, type PodmanSpec } from "../../shared/model/kinds/podman.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { spawnOptions, type CheckKind, type Verdict } from "./kind.js";
import { evaluateInspect } from "./podman-inspect.js";
import { evaluateRunningList } from "./podman-ps.js";

type Observed = ProcessOutcome & { timeoutMs: number };

// The argv is built in shared/ so the coordinator's dry run prints exactly what runs here.
export { podmanArgv, STATE_FORMAT };

function evaluatePodman(spec: PodmanSpec, seen: Observed): Verdict {
  if (spec.running) return evaluateRunningList(spec.running, seen);
  if (spec.container === undefined) return { passed: false, summary: "a podman check needs container or running" };
  return evaluateInspect(spec, spec.container, seen);
}

export const podmanCheck: CheckKind<PodmanSpec, Observed> = {
  kind: "podman",
  schema: PodmanSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: podmanArgv(spec), timeoutMs: ctx.timeoutMs, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluatePodman,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
