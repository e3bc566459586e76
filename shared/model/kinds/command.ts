import { z } from "zod";
import { integerMatcherSchema, MatcherSchema } from "../matchers.js";

/** `command:` — an argv array run with no shell, or a `shell:` script when the suite asks for one. */
export const CommandSpecSchema = z
  .strictObject({
    argv: z.array(z.string()).min(1, "argv needs at least the program name").optional(),
    /** Run with /bin/sh -c; only when a pipeline or redirection is really needed. */
    shell: z.string().min(1).optional(),
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    expect: z
      .strictObject({
        exit: integerMatcherSchema(0, 255, "an exit status 0–255", "{ one_of: [0, 1] }, { lte: 2 }").optional(),
        stdout: MatcherSchema.optional(),
        stderr: MatcherSchema.optional(),
        json: z.record(z.string(), MatcherSchema).optional(),
      })
      .optional(),
    /** Where the command writes JUnit XML: `stdout`, or a file path (relative to cwd). One result per test. */
    junit: z.string().min(1).optional(),
  })
  .refine((c) => (c.argv === undefined) !== (c.shell === undefined), {
    message: 'a command takes either argv: [program, args…] or shell: "script", not both or neither',
  });
export type CommandSpec = z.infer<typeof CommandSpecSchema>;

/** The argv actually executed: the suite's argv, or /bin/sh -c SCRIPT for `shell:`. */
export function commandArgv(spec: CommandSpec): string[] {
  return spec.shell !== undefined ? ["/bin/sh", "-c", spec.shell] : (spec.argv ?? []);
}
