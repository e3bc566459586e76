// coord.yaml: the same settings as the `serve` flags; flags win.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { SizeSchema } from "../../shared/model/sizes.js";
import { DurationSchema } from "../../shared/model/suite.js";
import { YamlSource } from "../../shared/model/yaml-source.js";

const ServeConfigSchema = z.strictObject({
  listen: z.string().optional(),
  state_dir: z.string().optional(),
  lost_after: DurationSchema.optional(),
  heartbeat: DurationSchema.optional(),
  /** ed25519 private key (coord keygen) that signs each evidence bundle's manifest. */
  signing_key: z.string().optional(),
  /** Free space needed under the evidence dir to start a run, e.g. 1GiB. */
  min_free: SizeSchema.optional(),
  /** Serve plaintext gRPC (shown on every run and report). */
  insecure: z.boolean().optional(),
  /** Your own server certificate and key (PEM); default: issued at each start from STATE_DIR/tls/ca.key. */
  tls_cert: z.string().optional(),
  tls_key: z.string().optional(),
  /** More DNS names or IP addresses for the issued server certificate. */
  san: z.array(z.string()).optional(),
  /** Lifetime of node client certificates, e.g. 7d. */
  node_cert_ttl: DurationSchema.optional(),
});
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

export function loadServeConfig(path: string | undefined): ServeConfig {
  if (!path) return {};
  return YamlSource.parse(readFileSync(path, "utf8"), path).validate(ServeConfigSchema);
}
