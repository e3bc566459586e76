import { z } from "zod";
import { MatcherSchema } from "../matchers.js";

const STATUS_HELP = "an HTTP status 100–599, or a matcher over it: { gte: 200, lt: 300 }, { one_of: [200, 204] }";
const StatusCode = z.number({ error: (iss) => `expected ${STATUS_HELP}, got ${JSON.stringify(iss.input)}` }).int().min(100).max(599);

/**
 * `status:` is a number: a code (200) or a numeric matcher, never text or a list (`status: ok`
 * and `status: [200, 204]` would never match and were once accepted and run).
 */
export const StatusMatcherSchema = z.union(
  [
    StatusCode,
    z
      .strictObject({ gte: StatusCode.optional(), lte: StatusCode.optional(), gt: StatusCode.optional(), lt: StatusCode.optional(), one_of: z.array(StatusCode).min(1).optional() })
      .refine((o) => Object.keys(o).length === 1, { message: "a status matcher takes exactly one of gte, lte, gt, lt, one_of" }),
  ],
  { error: (iss) => `expected ${STATUS_HELP}, got ${JSON.stringify(iss.input)}` },
);

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
