// `fleetgate-agent config check` on the command line. The checking itself (config-check.ts) is
// imported when the command runs: it loads gRPC's TLS glue, which `check` and `facts` never need.
import type { Command } from "commander";
import { EXIT_CODE } from "../../shared/errors.js";
import { addRunOptions } from "./run-options.js";
import type { RunFlags } from "./settings.js";

export function registerConfigCommand(program: Command): void {
  const config = program.command("config").description("the agent's configuration (agent.yaml)");
  addRunOptions(
    config
      .command("check")
      .description(
        "validate the agent config (errors name file:line), check the files it names (token_file, ca), and show each setting `run` would use with the same flags and environment and where it came from (flag > env > file > default); exit 0 when run could start, 3 when not",
      ),
  ).action(async (flags: RunFlags) => {
    const [{ checkAgentConfig }, { formatConfigReport }] = await Promise.all([import("./config-check.js"), import("../../shared/config-report.js")]);
    const report = checkAgentConfig(flags, process.env);
    process.stdout.write(`${formatConfigReport(report, "run")}\n`);
    for (const p of report.problems) process.stderr.write(`fleetgate-agent: ${p}\n`);
    if (report.problems.length) process.exitCode = EXIT_CODE.bad_input;
  });
}
