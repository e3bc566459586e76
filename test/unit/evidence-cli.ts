// Runs `coord <evidence command>` in-process, as main.ts does: the exit status and what was printed.
import { Command } from "commander";
import { vi } from "vitest";
import { registerEvidenceCommands } from "../../coordinator/cli/evidence-commands.js";
import { reportFailure } from "../../shared/cli-exit.js";

export interface CoordResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function coord(...args: string[]): Promise<CoordResult> {
  const program = new Command("coord").exitOverride().configureOutput({ writeErr: () => undefined });
  registerEvidenceCommands(program);
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((stderr += String(chunk)), true));
  process.exitCode = 0;
  let code: number;
  try {
    await program.parseAsync(["node", "coord", ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    code = reportFailure("coord", e);
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = 0;
  }
  return { code, stdout, stderr };
}
