import { z } from "zod";
import { ScopeSchema } from "./systemd.js";

/**
 * `quadlet:` — podman Quadlet `.container` units on the node. `orphans: none` means every unit
 * has its container and no unit's service is wedged "activating" (seed 002: an orphan .container
 * wedges `systemctl --user`).
 */
export const QuadletSpecSchema = z.strictObject({
  scope: ScopeSchema,
  orphans: z.literal("none", { message: 'orphans takes one value: "none"' }),
  /** Directories to search instead of Quadlet's own search paths for the scope. */
  dirs: z.array(z.string().startsWith("/", { message: "dirs must be absolute paths" })).min(1).optional(),
});
export type QuadletSpec = z.infer<typeof QuadletSpecSchema>;

/** What is asked about each unit's service: "activating" is the wedged state seed 002 describes. */
export const QUADLET_SERVICE_PROPERTIES = ["ActiveState", "SubState"] as const;
