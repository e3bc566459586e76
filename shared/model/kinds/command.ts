import { z } from "zod";
import { MatcherSchema } from "../matchers.js";

/** `command:` — an argv array run with no shell. */
export const CommandSpecSchema = z.strictObject({
  argv: z.array(z.string()).min(1, "argv needs at least the program name"),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
  expect: z
    .strictObject({
      exit: MatcherSchema.optional(),
      stdout: MatcherSchema.optional(),
      stderr: MatcherSchema.optional(),
      json: z.record(z.string(), MatcherSchema).optional(),
    })
    .optional(),
  /** Where the command writes JUnit XML: `stdout`, or a file path (relative to cwd). One result per test. */
  junit: z.string().min(1).optional(),
});
export type CommandSpec = z.infer<typeof CommandSpecSchema>;
