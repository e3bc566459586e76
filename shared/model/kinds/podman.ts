import { z } from "zod";
import { FleetgateError } from "../../errors.js";
import { integerMatcherSchema, MatcherSchema } from "../matchers.js";

// podman's own rule for container names (libpod/define NameRegex). It also keeps a name from
// being read as an option once it is in podman's argv.
const ContainerNameSchema = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, {
  message: "a container name, e.g. lnd (letters, digits, '_', '.', '-'; not starting with '-')",
});

/**
 * State.Status as podman prints it (libpod/define/containerstate.go). Podman 4.3.1 (recorded) says
 * "created" for a container made by `podman create` and "initialized" for one the OCI runtime holds
 * but has not started; podman before the Docker-compat rename said "configured" for the first.
 */
export const PodmanStateSchema = z.enum(["running", "exited", "created", "paused", "stopped", "stopping", "initialized", "configured", "removing"]);

/** State.Health.Status (libpod/define/healthchecks.go); `none` means the container has no health status. */
export const PodmanHealthSchema = z.enum(["healthy", "unhealthy", "starting", "none"]);

const CONTAINER_ONLY = ["state", "health", "image", "restarts"] as const;

/**
 * `podman:` — either one container (`container:` with its state, health, image, restart count) or
 * a list that must all be running (`running: [lnd, electrumx]`). No `scope:`: rootless podman
 * answers for the user it runs as — the agent's, or the check's `user:` (shared/model/run-as.ts).
 */
export const PodmanSpecSchema = z
  .strictObject({
    container: ContainerNameSchema.optional(),
    /** Defaults to running. */
    state: PodmanStateSchema.optional(),
    health: PodmanHealthSchema.optional(),
    /** Matched against ImageName, e.g. `docker.io/lightninglabs/lnd:v0.18.3-beta`. */
    image: MatcherSchema.optional(),
    /** Matched against RestartCount, a number. */
    restarts: integerMatcherSchema(0, Number.MAX_SAFE_INTEGER, "a restart count", "{ lte: 3 }").optional(),
    running: z.array(ContainerNameSchema).min(1, "list at least one container name").optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.container !== undefined && spec.running !== undefined) {
      ctx.addIssue({ code: "custom", message: "give either container (one container) or running (a list), not both" });
    } else if (spec.container === undefined && spec.running === undefined) {
      ctx.addIssue({ code: "custom", message: "a podman check needs container (one container) or running (a list of containers)" });
    } else if (spec.running !== undefined) {
      for (const field of CONTAINER_ONLY.filter((f) => spec[f] !== undefined)) {
        ctx.addIssue({ code: "custom", path: [field], message: `${field} goes with container, not with running` });
      }
    }
  });
export type PodmanSpec = z.infer<typeof PodmanSpecSchema>;

/** Every container podman knows, with its names and state; the podman and quadlet checks read it. */
export const PODMAN_PS_ARGV: readonly string[] = ["podman", "ps", "-a", "--format", "json"];

/** The Go template whose output is recorded as inspect-format-state-*.json. */
export const STATE_FORMAT = "{{json .State}}";

/** The one podman command a spec needs; built here so a dry run prints exactly it. */
export function podmanArgv(spec: PodmanSpec): string[] {
  if (spec.running) return [...PODMAN_PS_ARGV];
  if (spec.container === undefined) throw new FleetgateError("bad_input", "a podman check needs container or running");
  // --type container: without it podman falls back to images, volumes, networks and pods of the
  // same name, and a node has an image "…/lnd" beside its container lnd.
  const argv = ["podman", "inspect", "--type", "container"];
  // ImageName and RestartCount are outside State; only then ask for the whole document.
  if (spec.image === undefined && spec.restarts === undefined) argv.push("--format", STATE_FORMAT);
  return [...argv, spec.container];
}
