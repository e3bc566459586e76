// `coord report RUN --format md|html|junit|ctrf|json [-o FILE]`: a stored run rendered by one of
// coordinator/reports/. The verdict is judged here from the run alone; flakes from earlier runs of
// the same revision can be passed to judgeRun once the history is at hand.
import { writeFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { FleetgateError } from "../../shared/errors.js";
import { judgeRun } from "../judgement/verdict.js";
import { FORMAT_NAMES, loadReport, type ReportFormat } from "../reports/formats.js";
import { connected, print, withClient, type ConnectionFlags } from "./kit.js";
import { readRun } from "./run-reads.js";

interface ReportFlags extends ConnectionFlags {
  format: ReportFormat;
  output?: string;
}

function writeReport(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; pick a writable path with -o`);
  }
}

export function registerReportCommand(program: Command): void {
  connected(program.command("report").description("write a run's report: verdict, stages, skips, attestation, what failed and how to re-run it").argument("<run>", "run id"))
    .addOption(new Option("--format <format>", "md (release notes), html (one self-contained page), junit or ctrf (CI), json (fleetgate.report/v1)").choices(FORMAT_NAMES).default("md"))
    .option("-o, --output <file>", "write to this file instead of stdout")
    .action(async (runId: string, flags: ReportFlags) => {
      const [run, render] = await Promise.all([withClient(flags, (c) => readRun(c, runId)), loadReport(flags.format)]);
      const text = render(run, judgeRun(run));
      if (!flags.output) return print(text);
      writeReport(flags.output, text);
      process.stderr.write(`${flags.format} report of run ${runId} written to ${flags.output}\n`);
    });
}
