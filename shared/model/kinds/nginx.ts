import { z } from "zod";
import { MatcherSchema } from "../matchers.js";

/** `nginx:` — where one location proxies to, read from the config nginx itself loads (`nginx -T`). */
export const NginxSpecSchema = z.strictObject({
  /** The location as written after `location`: "/app/lnd/", or with its modifier, "= /health". */
  location: z.string().min(1),
  /** Matched against the location's proxy_pass target, e.g. http://127.0.0.1:18083/. */
  proxy_pass: MatcherSchema,
  /** Main config file, for `nginx -T -c CONFIG`; nginx's built-in default when omitted. */
  config: z.string().min(1).optional(),
  /** Only locations inside a server block with this server_name (when several servers have one). */
  server_name: z.string().min(1).optional(),
});
export type NginxSpec = z.infer<typeof NginxSpecSchema>;

/** `nginx -T`: nginx tests the config and dumps every file it loaded, as it would load them. */
export function nginxArgv(spec: NginxSpec): string[] {
  return ["nginx", "-T", ...(spec.config !== undefined ? ["-c", spec.config] : [])];
}
