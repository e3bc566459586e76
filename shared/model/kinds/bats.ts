import { z } from "zod";

/** `bats:` — one bats file run on the node with `bats --tap`; each @test becomes a case. */
export const BatsSpecSchema = z.strictObject({
  file: z.string().min(1),
  /** Added to the agent's environment: the values the bats file reads (ARCHY_HOST, …). */
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  /** bats --filter: a regex over test names. */
  filter: z.string().optional(),
});
export type BatsSpec = z.infer<typeof BatsSpecSchema>;

/** argv for `bats --tap`; bats 1.8.2 refuses `--`, so a file named like an option gets "./". */
export function batsArgv(spec: BatsSpec): string[] {
  const file = spec.file.startsWith("-") ? `./${spec.file}` : spec.file;
  return ["bats", "--tap", ...(spec.filter !== undefined ? ["--filter", spec.filter] : []), file];
}
