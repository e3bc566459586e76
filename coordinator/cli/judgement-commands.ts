// `coord signoff`, `coord known-good` and `coord diff`: the commands a release manager uses to
// record a decision, find the last good run, and see what changed since. Formatting is pure.
import { toJson } from "@bufbuild/protobuf";
import type { Command } from "commander";
import { ControlService, RunSummarySchema, type RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { diffRuns, type CheckChange, type RunDiff } from "../judgement/diff.js";
import type { Acceptance } from "../judgement/signoff-rules.js";
import { table } from "./format.js";
import { pairReasons, reasonRecorder, type ReasonToken } from "./reason-pairs.js";
import { connected, positiveInt, print, repeatable, withClient, type ConnectionFlags } from "./kit.js";
import { listRunSummaries, readRun } from "./run-reads.js";
import type { ControlClient } from "./client.js";

export type AcceptToken = ReasonToken<"accept-skip" | "accept-override">;

/** Pairs each --accept-skip and --accept-override with the --reason typed after it. */
export function pairAcceptances(tokens: readonly AcceptToken[]): { skips: Acceptance[]; overrides: Acceptance[] } {
  const usage = { why: "every acceptance is recorded with why it is acceptable", example: "--accept-skip TARGET --reason TEXT or --accept-override NAME --reason TEXT" };
  const pairs = pairReasons(tokens, usage);
  const of = (flag: AcceptToken["flag"]) => pairs.filter((p) => p.flag === flag).map(({ target, reason }) => ({ target, reason }));
  return { skips: of("accept-skip"), overrides: of("accept-override") };
}

function iso(ms: bigint): string {
  return new Date(Number(ms)).toISOString();
}

export function formatSignedOff(run: RunSummary): string {
  const s = run.signoff;
  const lines = [`run ${run.runId} (${run.planName}) signed off by ${s?.by ?? "?"} at ${iso(s?.atMs ?? 0n)}`];
  for (const a of s?.accepted ?? []) lines.push(`  accepted skip ${a.target}: ${a.reason}`);
  for (const a of s?.acceptedOverrides ?? []) lines.push(`  accepted override ${a.target}: ${a.reason}`);
  // The signer sees exactly what was waived, by whom, until when: recorded with the sign-off.
  for (const w of s?.waivers ?? []) lines.push(`  accepted waiver ${w.checkId} on ${w.node ? `node ${w.node}` : w.role ? `role ${w.role}` : "every node"}: ${w.reason} (owner ${w.owner}, expires ${w.expires}, ${w.source})`);
  if (run.waived.length) lines.push("  waived in this run:", ...run.waived.map((w) => `    ${w}`));
  return lines.join("\n");
}

export function formatKnownGood(runs: RunSummary[], plan?: string): string {
  if (!runs.length) return `no signed-off runs${plan ? ` of plan ${plan}` : ""}; sign a GO run off with: coord signoff RUN`;
  const rows = [["RUN", "PLAN", "REVISION", "SIGNED BY", "WHEN", "ACCEPTED SKIPS"]];
  for (const r of runs) {
    const overrides = (r.signoff?.acceptedOverrides ?? []).map((a) => `override ${a.target} (${a.reason})`);
    const accepted = [...(r.signoff?.accepted ?? []).map((a) => `${a.target} (${a.reason})`), ...overrides].join("; ");
    rows.push([r.runId, r.planName, r.planRevision || "-", r.signoff?.by ?? "-", iso(r.signoff?.atMs ?? 0n), accepted || "-"]);
  }
  return table(rows);
}

function changeRows(title: string, changes: CheckChange[]): string[] {
  if (!changes.length) return [];
  const rows = changes.map((c) => [`  ${c.stage}`, c.node, c.check, `${c.before || "(absent)"} -> ${c.after || "(absent)"}`]);
  return ["", `${title} (${changes.length})`, table(rows)];
}

export function formatDiff(d: RunDiff): string {
  const lines = [`diff ${d.a.runId} -> ${d.b.runId} (plan ${d.b.planName})`];
  if (d.a.planName !== d.b.planName) lines.push(`  different plans: ${d.a.planName} -> ${d.b.planName}`);
  if (d.a.planRevision !== d.b.planRevision) lines.push(`  plan revision changed: ${d.a.planRevision || "unknown"} -> ${d.b.planRevision || "unknown"} (plan or suites edited)`);
  if (d.a.mode !== d.b.mode) lines.push(`  mode changed: ${d.a.mode || "full"} -> ${d.b.mode || "full"}`);
  lines.push(
    ...changeRows("newly failing", d.newlyFailing),
    ...changeRows("newly passing", d.newlyPassing),
    ...changeRows("otherwise changed", d.changed),
    ...changeRows("appeared", d.appeared),
    ...changeRows("disappeared", d.disappeared),
  );
  if (d.nodesAdded.length || d.nodesRemoved.length) {
    lines.push("", "nodes");
    for (const n of d.nodesAdded) lines.push(`  + ${n}`);
    for (const n of d.nodesRemoved) lines.push(`  - ${n}`);
  }
  if (d.facts.length) {
    lines.push("", `node facts changed (${d.facts.length})`);
    lines.push(table(d.facts.map((f) => [`  ${f.node}`, f.fact, `${f.before || "(unknown)"} -> ${f.after || "(unknown)"}`])));
  }
  const lists = [d.newlyFailing, d.newlyPassing, d.changed, d.appeared, d.disappeared, d.nodesAdded, d.nodesRemoved, d.facts];
  if (lists.every((l) => !l.length)) lines.push("", "no difference in check outcomes or node facts");
  return lines.join("\n");
}

/**
 * Asks the coordinator to sign the run off and returns the signed run's summary. The coordinator
 * answers only once the sign-off is committed, so an answer naming the signer is the one proof it
 * was recorded; a refusal records nothing. When the call fails any other way (the coordinator went
 * away, an internal error), the sign-off may or may not be recorded, and the error says so.
 */
export async function requestSignOff(client: ControlClient, runId: string, by: string, accept: Acceptance[], acceptOverrides: Acceptance[]): Promise<RunSummary> {
  const signed = (list: Acceptance[]) => list.map((a) => ({ ...a, source: "sign-off" }));
  let run: RunSummary | undefined;
  try {
    ({ run } = await client.call(ControlService.method.signOff, { runId, by, accept: signed(accept), acceptOverrides: signed(acceptOverrides) }));
  } catch (err) {
    const e = FleetgateError.from(err);
    if (e.code !== "unreachable" && e.code !== "internal") throw e;
    throw new FleetgateError(e.code, `${e.message}\nthe sign-off of run ${runId} may have been recorded before this went wrong; see whether it was with: coord known-good`, undefined, { cause: err });
  }
  if (!run?.signoff?.by) {
    throw new FleetgateError("internal", `the coordinator answered the sign-off of run ${runId} without saying who signed it; see whether it was recorded with: coord known-good`);
  }
  return run;
}

export function registerJudgementCommands(program: Command): void {
  // commander keeps each option's values apart; a reason belongs to the flag typed before it.
  const tokens: AcceptToken[] = [];
  const token = reasonRecorder(tokens);
  connected(
    program
      .command("signoff")
      .description("sign a finished GO run off (role admin): records who (the person your token belongs to), when, and each skip or override accepted by name; refuses anything else")
      .argument("<run>", "run id")
      .option("--by <name>", "who you are: optional, the sign-off records the person your token belongs to, and refuses any other name")
      .option("--accept-skip <target>", "accept a skip by its name in the report (stage, leg or STAGE/STEP); repeatable, each followed by its --reason", token("accept-skip"))
      .option("--accept-override <name>", "accept a narrowing of the run by the name on the report's scope line (iterations, nodes, only, tags, with:LEG, drained, missing-agents); repeatable, each followed by its --reason", token("accept-override"))
      .option("--reason <text>", "why the --accept-skip or --accept-override before it is acceptable", token("reason"))
      .option("--json", "print the signed-off run's summary (who, when, what was accepted, the verdict) as JSON"),
  ).action(async (runId: string, flags: ConnectionFlags & { by?: string; json?: boolean }) => {
    const { skips, overrides } = pairAcceptances(tokens.splice(0));
    const run = await withClient(flags, (c) => requestSignOff(c, runId, flags.by ?? "", skips, overrides));
    print(flags.json ? JSON.stringify(toJson(RunSummarySchema, run), null, 2) : formatSignedOff(run));
  });

  connected(
    program
      .command("known-good")
      .description("list signed-off runs, newest first: the last known-good run of a plan and what was accepted")
      .argument("[plan]", "only runs of this plan name")
      .option("--limit <n>", "how many", positiveInt, 20)
      .option("--json", "print JSON"),
  ).action(async (plan: string | undefined, flags: ConnectionFlags & { limit: number; json?: boolean }) => {
    const runs = await withClient(flags, (c) => listRunSummaries(c, { limit: flags.limit, planName: plan ?? "", signedOnly: true }));
    // A coordinator that predates these filters ignores them: never show an unsigned run as good.
    const good = runs.filter((r) => r.signoff?.by && (!plan || r.planName === plan));
    print(flags.json ? JSON.stringify(good.map((r) => toJson(RunSummarySchema, r)), null, 2) : formatKnownGood(good, plan));
  });

  connected(
    program
      .command("diff")
      .description("what changed from RUN_A to RUN_B: checks newly failing or passing, appeared or gone, and node facts (kernel, OS, packages, agent, identity)")
      .argument("<run-a>", "the earlier run, e.g. the last known-good")
      .argument("<run-b>", "the later run")
      .option("--json", "print JSON"),
  ).action(async (runA: string, runB: string, flags: ConnectionFlags & { json?: boolean }) => {
    const [a, b] = await withClient(flags, (c) => Promise.all([readRun(c, runA), readRun(c, runB)]));
    const d = diffRuns(a, b);
    print(flags.json ? JSON.stringify(d, null, 2) : formatDiff(d));
  });
}
