import { z } from "zod";
import { MatcherSchema } from "../matchers.js";

/** `http:` — one request made with curl on the node. */
export const HttpSpecSchema = z.strictObject({
  url: z.string().min(1),
  method: z.enum(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body_send: z.string().optional(),
  status: MatcherSchema.optional(),
  body: MatcherSchema.optional(),
  /** Path in the JSON body → matcher, e.g. `{ status: ok, "checks.db": up }`. */
  json: z.record(z.string(), MatcherSchema).optional(),
  insecure: z.boolean().optional(),
});
export type HttpSpec = z.infer<typeof HttpSpecSchema>;
