// What a bundle holds, as a pure function of a stored run: path → text. No clock and no disk
// here, so the same run always lays out to the same bytes (manifest.ts adds the time).
//
//   plan.yaml                         the plan as sent
//   suites/<path>                     every suite sent with the run
//   suite-files.json                  the files those suites shipped (files:): path, sha256, size; when any
//   run.json                          RunRecord (protobuf JSON) minus nodes and check results
//   signoff.json                      who signed the run off and which skips they accepted
//   nodes/<node>.json                 identity and facts when the run started
//   nodes/<node>/timeline.json        liveness from a little before the start to the finish
//   tasks/<stage>/<node>/<iteration or step>/
//     result.json                     TaskRecord with every check: timings, attempts, tails, captures
//     spec.yaml, probes.yaml          generated suite of a cross step or inline leg, and its probes
//     <check>.stdout.txt/.stderr.txt  the bounded output tails, when non-empty
//     <check>.junit.xml               inner test cases (bats, JUnit), when the check has any
import { clone, toJson } from "@bufbuild/protobuf";
import { NodeIdentitySchema, type CheckResult, type NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, SignOffSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { buildJunitXml, type JunitCase } from "../../shared/junit-xml.js";
import { Status } from "../../shared/model/status.js";
import { FleetgateError } from "../../shared/errors.js";
import type { ShippedFileHash } from "../../shared/model/suite-files.js";
import { safeSegment, suiteFilePath } from "./paths.js";
import { timelineJson, type NodeTimeline } from "./timeline.js";

export interface BundleSource {
  /** The run as loadRunRecord gives it: tasks in plan order, each with its check results. */
  record: RunRecord;
  planYaml: string;
  suites: Record<string, string>;
  /** Suite path → the files it shipped with its tasks (`files:`), hashed; none for most runs. */
  suiteFiles?: Record<string, ShippedFileHash[]>;
  /** Generated suite text of cross steps and inline legs, by task id. */
  taskSpecs?: Map<string, { specYaml: string; probesYaml: string }>;
  /** Liveness of each of bundleNodeNames(record), by node name. */
  timelines: Map<string, NodeTimeline>;
}

/** One file of the bundle: its bundle-relative path (always `/`) and its text. */
export type BundleFile = readonly [path: string, text: string];

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
// Defaults written out: a reader of evidence should see `"passed": false`, not infer it.
const EXPLICIT = { alwaysEmitImplicit: true } as const;

/** The task's directory: cross steps and matrix legs by step id, single and fleet by iteration. */
export function taskDir(t: Pick<TaskRecord, "stageId" | "nodeName" | "stepId" | "iteration">): string {
  return ["tasks", safeSegment(t.stageId), safeSegment(t.nodeName), safeSegment(t.stepId || String(t.iteration))].join("/");
}

/** The run's nodes: those registered at its start and any its tasks name, sorted. */
export function bundleNodeNames(record: RunRecord): string[] {
  return [...new Set([...record.nodes.map((n) => n.name), ...record.tasks.map((t) => t.nodeName)])].sort();
}

function runJson(record: RunRecord): string {
  // Nodes and check results have files of their own; repeating them here would double the
  // largest parts of the bundle (facts, output tails).
  const slim = clone(RunRecordSchema, record);
  slim.nodes = [];
  for (const t of slim.tasks) t.checks = [];
  return json(toJson(RunRecordSchema, slim, EXPLICIT));
}

function nodeJson(node: NodeIdentity): string {
  const { factsJson, ...identity } = toJson(NodeIdentitySchema, node, EXPLICIT) as Record<string, unknown> & { factsJson?: string };
  let facts: unknown = {};
  try {
    facts = factsJson ? JSON.parse(factsJson) : {};
  } catch {
    facts = { unparsed: factsJson };
  }
  return json({ identity, facts });
}

function junitOutcome(s: Status): JunitCase["outcome"] {
  if (s === Status.PASSED) return "passed";
  if (s === Status.FAILED) return "failed";
  if (s === Status.SKIPPED) return "skipped";
  return "error";
}

function casesXml(check: CheckResult, hostname: string): string {
  return buildJunitXml([
    {
      name: check.checkId,
      hostname,
      startedAtMs: Number(check.startedAtMs),
      cases: check.cases.map((c) => ({ classname: check.checkId, name: c.name, seconds: Number(c.durationMs) / 1000, outcome: junitOutcome(c.status), message: c.message })),
    },
  ]);
}

function* taskFiles(task: TaskRecord, hostname: string, spec?: { specYaml: string; probesYaml: string }): Generator<BundleFile> {
  const dir = taskDir(task);
  yield [`${dir}/result.json`, json(toJson(TaskRecordSchema, task, EXPLICIT))];
  if (spec?.specYaml) yield [`${dir}/spec.yaml`, spec.specYaml];
  if (spec?.probesYaml) yield [`${dir}/probes.yaml`, spec.probesYaml];
  const used = new Map<string, number>();
  for (const check of task.checks) {
    // A probe and a check of a leg may share an id; the second gets `~2` (never in an id), in report order.
    const base = safeSegment(check.checkId);
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    const name = n === 1 ? base : `${base}~${n}`;
    if (check.stdoutTail) yield [`${dir}/${name}.stdout.txt`, check.stdoutTail];
    if (check.stderrTail) yield [`${dir}/${name}.stderr.txt`, check.stderrTail];
    if (check.cases.length) yield [`${dir}/${name}.junit.xml`, casesXml(check, hostname)];
  }
}

/**
 * Every file of the bundle except manifest.json and manifest.sig, one at a time: the writer writes
 * and hashes each before the next is laid out, so a fleet run's bundle (thousands of files, every
 * output tail) is never held in memory whole.
 */
export function* bundleFiles(src: BundleSource): Generator<BundleFile> {
  const seen = new Set<string>();
  for (const file of allFiles(src)) {
    // Two sources mapping to one path would silently drop evidence; refuse instead.
    if (seen.has(file[0])) throw new FleetgateError("internal", `evidence bundle: two files map to ${file[0]}`);
    seen.add(file[0]);
    yield file;
  }
}

function* allFiles(src: BundleSource): Generator<BundleFile> {
  const { record } = src;
  yield ["plan.yaml", src.planYaml];
  for (const [path, text] of Object.entries(src.suites).sort(([a], [b]) => a.localeCompare(b))) yield [suiteFilePath(path), text];
  // Hashes, not contents: what each task unpacked on its node, provable against the suite's repo.
  const shipped = Object.entries(src.suiteFiles ?? {}).filter(([, list]) => list.length);
  if (shipped.length) yield ["suite-files.json", json(Object.fromEntries(shipped.sort(([a], [b]) => a.localeCompare(b))))];
  yield ["run.json", runJson(record)];
  if (record.signoff) yield ["signoff.json", json(toJson(SignOffSchema, record.signoff, EXPLICIT))];
  for (const node of record.nodes) yield [`nodes/${safeSegment(node.name)}.json`, nodeJson(node)];
  for (const name of bundleNodeNames(record)) {
    const timeline = src.timelines.get(name);
    // Every node of the run has one, empty or not: a missing file would read as "not recorded".
    if (!timeline) throw new FleetgateError("internal", `evidence bundle: no liveness timeline for node ${name}`);
    yield [`nodes/${safeSegment(name)}/timeline.json`, timelineJson(timeline)];
  }
  const hostnames = new Map(record.nodes.map((n) => [n.name, n.hostname]));
  for (const task of record.tasks) yield* taskFiles(task, hostnames.get(task.nodeName) ?? task.nodeName, src.taskSpecs?.get(task.taskId));
}
