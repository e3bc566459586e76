import { z } from "zod";
import { integerMatcherSchema, MatcherSchema } from "../matchers.js";

/** `status:` is a code or a numeric matcher over it: `status: ok` would never match. */
export const StatusMatcherSchema = integerMatcherSchema(100, 599, "an HTTP status 100–599", "{ gte: 200, lt: 300 }, { one_of: [200, 204] }");

/** `http:` — one request made with curl on the node. */
export const HttpSpecSchema = z.strictObject({
  url: z.string().min(1),
  method: z.enum(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body_send: z.string().optional(),
  status: StatusMatcherSchema.optional(),
  body: MatcherSchema.optional(),
  /** Path in the JSON body → matcher, e.g. `{ status: ok, "checks.db": up }`. */
  json: z.record(z.string(), MatcherSchema).optional(),
  insecure: z.boolean().optional(),
});
export type HttpSpec = z.infer<typeof HttpSpecSchema>;

// The write-out format of the recorded fixture `curl -sS -w '\n%{http_code} %{time_total}\n' URL`:
// the body, then a line "CODE SECONDS". CODE is 000 when no response arrived.
export const CURL_WRITE_OUT = "\n%{http_code} %{time_total}\n";

/**
 * curl argv for a spec: the check runs on the node with the node's own curl. Here, not in the
 * agent, because a dry run on the coordinator prints this exact argv.
 */
export function curlArgv(spec: HttpSpec, timeoutMs: number): string[] {
  const argv = ["curl", "-sS", "--max-time", String(Math.max(1, Math.ceil(timeoutMs / 1000))), "-w", CURL_WRITE_OUT];
  if (spec.method === "HEAD") argv.push("-I");
  else if (spec.method && spec.method !== "GET") argv.push("-X", spec.method);
  for (const [name, value] of Object.entries(spec.headers ?? {})) argv.push("-H", `${name}: ${value}`);
  if (spec.body_send !== undefined) argv.push("--data-binary", spec.body_send);
  if (spec.insecure) argv.push("-k");
  argv.push("--", spec.url);
  return argv;
}
