// `coord rollout` (issue 18): apply a change node by node, each node gated, kept or rolled back;
// `coord rollout show|watch|resume|abort` and `coord rollouts`. The rollout runs in the coordinator:
// this follows it by asking where it stands once a second, so a CLI that goes away loses nothing.
import { toJson } from "@bufbuild/protobuf";
import { InvalidArgumentError, type Command } from "commander";
import { ControlService, RolloutSchema, type Rollout, type RolloutNode } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { parseLabel } from "../../shared/labels.js";
import { parseChange } from "../../shared/model/change.js";
import { isFinished } from "../rollouts/core.js";
import { Status, statusName } from "../../shared/model/status.js";
import { parseVarFlag, type ResolvedVars } from "../../shared/model/suite-vars.js";
import type { ControlClient } from "./client.js";
import { table } from "./format.js";
import { connected, positiveInt, print, repeatable, withClient, type ConnectionFlags } from "./kit.js";
import { loadPlanFiles, read } from "./run-command.js";
import { suiteFilesMessage } from "./run-flags.js";
import { cliRunVars, type VarFlags } from "./run-vars.js";

const POLL_MS = 1_000;

/** 0 completed, 1 stopped with a node rolled back or not changed, 2 held, aborted, or a node in unknown state. */
export function rolloutExitCode(r: Rollout): number {
  if (r.status === "completed" || r.status === "dry-run") return 0;
  if (r.status === "held" || r.status === "aborted" || r.nodes.some((n) => n.outcome === "unknown_state")) return 2;
  return 1;
}

const facts = (f: Record<string, string>) =>
  Object.entries(f)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",") || "-";
const status = (s: Status) => (s === Status.UNSPECIFIED ? "-" : statusName(s).replace("_", " "));
const time = (ms: bigint) => new Date(Number(ms)).toISOString().slice(11, 19);

function rolledBack(n: RolloutNode): string {
  const run = n.runs.find((r) => r.phase === "rollback");
  return run ? status(run.status) : "-";
}

function knownGood(n: RolloutNode, quick: boolean): string {
  if (n.knownGoodAdvanced) return "advanced";
  if (n.outcome === "changed") return quick ? "kept (quick gate)" : "kept";
  return "kept";
}

/** Pure: the rollout report a person reads (coord rollout show, and the end of coord rollout). */
export function formatRollout(r: Rollout): string {
  const mode = r.quick ? "quick gate (never advances known-good)" : "full gate";
  const lines = [
    `rollout ${r.id || "(dry run)"}: change ${r.change}${r.version ? ` (version ${r.version})` : ""}, gate plan ${r.plan}, batches of ${r.batch}, ${mode}: ${r.status.toUpperCase()}`,
  ];
  if (r.summary) lines.push(`  ${r.summary}`);
  for (const note of r.notes) lines.push(`  note: ${note}`);
  const rows = [["NODE", "BATCH", "PHASE", "OUTCOME", "FACTS BEFORE", "FACTS AFTER", "GATE", "ROLLBACK", "PROOF", "KNOWN-GOOD"]];
  for (const n of r.nodes) {
    rows.push([n.name, String(n.batch), n.phase, n.outcome.replace(/_/g, " ") || "-", facts(n.factsBefore), facts(n.factsAfter), status(n.gateStatus), rolledBack(n), status(n.proofStatus), knownGood(n, r.quick)]);
  }
  lines.push(table(rows));
  const notes = r.nodes.filter((n) => n.note || n.holdReasons.length || n.approval);
  if (notes.length) {
    lines.push("nodes:");
    for (const n of notes) {
      if (n.holdReasons.length) lines.push(`  ${n.name}: held: ${n.holdReasons.join("; ")}`);
      if (n.approval) lines.push(`  ${n.name}: ${n.approval}`);
      if (n.note) lines.push(`  ${n.name}: ${n.note}`);
      if (Object.keys(n.knownGoodBefore).length) lines.push(`  ${n.name}: known-good before: ${facts(n.knownGoodBefore)}`);
    }
  }
  const runs = r.nodes.flatMap((n) => n.runs.filter((x) => x.runId).map((x) => `  ${n.name} ${x.phase}: run ${x.runId} ${status(x.status)}${x.summary ? ` (${x.summary})` : ""}`));
  if (runs.length) lines.push("phase runs (each one's output is in its evidence: coord show RUN, coord evidence export RUN):", ...runs);
  if (r.events.length) lines.push("events:", ...r.events.map((e) => `  ${time(e.atMs)} ${e.kind}: ${e.text}${e.who ? ` (${e.who})` : ""}`));
  if (r.status === "held") lines.push(`held for approval: coord rollout resume ${r.id} --approve --reason TEXT, or coord rollout abort ${r.id} --reason TEXT`);
  return lines.join("\n");
}

/** Pure: what changed between two looks at a rollout, one line each (phases entered, events). */
export function progressLines(before: Rollout | undefined, now: Rollout): string[] {
  // Events first: they happened before the phases the nodes are in now.
  const seen = before?.events.length ?? 0;
  const out = now.events.slice(seen).filter((e) => e.kind !== "node_done").map((e) => `${e.kind}: ${e.text}${e.who ? ` (${e.who})` : ""}`);
  for (const n of now.nodes) {
    const was = before?.nodes.find((x) => x.name === n.name);
    if (was?.phase === n.phase && was.outcome === n.outcome) continue;
    if (n.phase === "pending" && !n.outcome) continue;
    const run = n.runs.at(-1);
    const detail = n.outcome ? n.outcome.replace(/_/g, " ") : run && run.phase === n.phase ? `run ${run.runId}` : "";
    out.push(`${n.name.padEnd(12)} ${n.phase.padEnd(18)} ${detail}`.trimEnd());
  }
  return out;
}

/** The rollout an answer carries; one without it is the coordinator breaking. */
function rolloutOf(res: { rollout?: Rollout }): Rollout {
  if (!res.rollout) throw new FleetgateError("internal", "the coordinator answered without the rollout");
  return res.rollout;
}

/** Follows until the rollout ends or holds; prints progress on stderr and the report on stdout. */
async function follow(client: ControlClient, id: string, json: boolean): Promise<number> {
  let last: Rollout | undefined;
  for (;;) {
    const now = rolloutOf(await client.call(ControlService.method.getRollout, { rolloutId: id }));
    for (const line of progressLines(last, now)) process.stderr.write(`${line}\n`);
    last = now;
    if (isFinished(now.status) || now.status === "held") {
      print(json ? JSON.stringify(toJson(RolloutSchema, now), null, 2) : formatRollout(now));
      return rolloutExitCode(now);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

interface RolloutFlags extends ConnectionFlags, VarFlags {
  plan?: string;
  change?: string;
  nodes?: Record<string, string>;
  node: string[];
  batch?: number;
  quick?: boolean;
  dryRun?: boolean;
  detach?: boolean;
  json?: boolean;
}

/**
 * A subcommand's flags with `coord rollout`'s: commander gives a flag both declare (--json,
 * --coordinator, --state-dir…) to the parent even when it is typed after the subcommand.
 */
const flagsOf = <T>(cmd: Command): T => cmd.optsWithGlobals<T & object>();

/** --nodes KEY=VALUE, repeatable: a label selector. */
function nodesFlag(value: string, prev?: Record<string, string>): Record<string, string> {
  try {
    return parseLabel(value, prev);
  } catch {
    throw new InvalidArgumentError(`--nodes expects KEY=VALUE (e.g. role=fleet), got "${value}"`);
  }
}

const setExit = (code: number) => {
  process.exitCode = code;
};

export function registerRolloutCommands(program: Command): void {
  const rollout = connected(
    program
      .command("rollout")
      .description("apply a change node by node (batches, primary first): facts, hold rules, the gate's preconditions, snapshot, apply, gate; green keeps it and advances known-good, red rolls it back, proves the rollback with the gate, alerts and stops (exit 0 completed, 1 stopped, 2 held/aborted/unknown state, 3 bad input)")
      // Not requiredOption: commander would then demand them of `coord rollout show ID` too.
      .option("--plan <file>", "the gate plan; the change's gate: names its stages (required)")
      .option("--change <file>", "the change: facts, snapshot, apply, rollback steps, gate stages, hold rules (docs/rollouts.md) (required)")
      .option("--nodes <key=value>", "only nodes with this label, repeatable (e.g. role=fleet); role=dev nodes only when asked for", nodesFlag)
      .option("--node <name>", "only this node, repeatable", repeatable, [] as string[])
      .option("--batch <n>", "nodes changed at once", positiveInt, 1)
      .option("--quick", "run the gate in quick mode: a green gate keeps the change but never advances known-good")
      .option("--var <name=value>", "set a var of the gate's suites, repeatable", (v: string, prev?: ResolvedVars) => parseVarFlag(v, prev))
      .option("--vars-file <file>", "YAML map of vars (NAME: VALUE); --var wins over it")
      .option("--dry-run", "execute nothing: print the nodes in order and every step each would run")
      .option("--detach", "start it and return; follow later with coord rollout watch ID")
      .option("--json", "print the final report as JSON"),
  ).action(async (flags: RolloutFlags) => {
    const missing = (["plan", "change"] as const).filter((f) => !flags[f]).map((f) => `--${f} FILE`);
    if (missing.length) throw new FleetgateError("bad_input", `coord rollout needs ${missing.join(" and ")}; or a subcommand: show, watch, resume, abort (coord rollout --help)`);
    const [plan, changePath] = [flags.plan as string, flags.change as string];
    const files = loadPlanFiles(plan);
    const changeYaml = read(changePath, "change file");
    parseChange(changeYaml, changePath); // file:line:col here, before anything is sent
    const req = {
      planPath: plan,
      planYaml: files.planYaml,
      suites: files.suites,
      suiteFiles: suiteFilesMessage(files),
      changePath,
      changeYaml,
      selector: flags.nodes ?? {},
      nodeNames: flags.node,
      batch: flags.batch ?? 1,
      quick: flags.quick ?? false,
      dryRun: flags.dryRun ?? false,
      vars: cliRunVars(flags),
    };
    setExit(
      await withClient(flags, async (c) => {
        const res = await c.call(ControlService.method.startRollout, req);
        const r = rolloutOf(res);
        if (flags.dryRun) {
          print(flags.json ? JSON.stringify(toJson(RolloutSchema, r), null, 2) : [formatRollout(r).split("\n")[0] ?? "", ...r.notes.map((n) => `note: ${n}`), ...r.sequence, "dry run: nothing was executed"].join("\n"));
          return 0;
        }
        process.stderr.write(`rollout ${res.rolloutId} started: ${r.nodes.length} node(s), ${r.nodes.map((n) => n.name).join(" → ")}; see where it stands with: coord rollout show ${res.rolloutId}\n`);
        if (flags.detach) {
          print(res.rolloutId);
          return 0;
        }
        return follow(c, res.rolloutId, flags.json ?? false);
      }),
    );
  });

  connected(rollout.command("show").description("the rollout's report: per node facts before/after, gate, rollback and its proof, known-good; phase runs and events").argument("<id>", "rollout id"))
    .option("--json", "print JSON")
    .action(async (id: string, _: unknown, cmd: Command) => {
      const flags = flagsOf<ConnectionFlags & { json?: boolean }>(cmd);
      const r = rolloutOf(await withClient(flags, (c) => c.call(ControlService.method.getRollout, { rolloutId: id })));
      print(flags.json ? JSON.stringify(toJson(RolloutSchema, r), null, 2) : formatRollout(r));
    });

  connected(rollout.command("watch").description("follow a rollout until it ends or holds (exit codes as coord rollout)").argument("<id>", "rollout id"))
    .option("--json", "print the final report as JSON")
    .action(async (id: string, _: unknown, cmd: Command) => {
      const flags = flagsOf<ConnectionFlags & { json?: boolean }>(cmd);
      setExit(await withClient(flags, (c) => follow(c, id, flags.json ?? false)));
    });

  connected(rollout.command("resume").description("let the nodes a rollout holds go on (admin); the approval and its reason are recorded, and cover the same rules on later nodes").argument("<id>", "rollout id"))
    .requiredOption("--approve", "approve what holds the nodes (a major bump, a manual migration)")
    .requiredOption("--reason <text>", "why; recorded with the rollout")
    .action(async (id: string, _: unknown, cmd: Command) => {
      const flags = flagsOf<ConnectionFlags & { reason: string }>(cmd);
      const r = rolloutOf(await withClient(flags, (c) => c.call(ControlService.method.approveRollout, { rolloutId: id, reason: flags.reason })));
      print(`rollout ${id}: approved; ${r.nodes.filter((n) => n.approval).map((n) => n.name).join(", ")} go on. Follow it with: coord rollout watch ${id}`);
    });

  connected(rollout.command("abort").description("stop a rollout: nodes not reached stay untouched; a node past its snapshot finishes its sequence (rolled back if red)").argument("<id>", "rollout id"))
    .requiredOption("--reason <text>", "why; recorded with the rollout")
    .action(async (id: string, _: unknown, cmd: Command) => {
      const flags = flagsOf<ConnectionFlags & { reason: string }>(cmd);
      await withClient(flags, (c) => c.call(ControlService.method.abortRollout, { rolloutId: id, reason: flags.reason }));
      print(`rollout ${id}: aborting; see how it ended with: coord rollout watch ${id}`);
    });

  connected(program.command("rollouts").description("list rollouts, newest first: id, change, status, nodes by outcome"))
    .option("--json", "print JSON")
    .option("--limit <n>", "how many", positiveInt, 50)
    .action(async (flags: ConnectionFlags & { json?: boolean; limit: number }) => {
      const { rollouts } = await withClient(flags, (c) => c.call(ControlService.method.listRollouts, { limit: flags.limit }));
      if (flags.json) return print(JSON.stringify(rollouts.map((r) => toJson(RolloutSchema, r)), null, 2));
      if (!rollouts.length) return print("no rollouts; start one with: coord rollout --plan PLAN --change CHANGE");
      const rows = [["ID", "CHANGE", "STATUS", "STARTED", "BY", "NODES"]];
      for (const r of rollouts) {
        const outcomes = r.nodes.map((n) => `${n.name}:${(n.outcome || n.phase).replace(/_/g, " ")}`).join(" ");
        rows.push([r.id, r.change, r.status, new Date(Number(r.createdAtMs)).toISOString().replace(/\.\d{3}Z$/, "Z"), r.startedBy, outcomes]);
      }
      print(table(rows));
    });
}
