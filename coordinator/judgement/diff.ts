// What changed between two runs: checks per stage, node and check id, and the facts of each node
// (kernel, OS, packages, agent, identity) — "it passed last week; what is different now?". Pure.
import type { NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { foldStatuses, Status, statusName } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";

export interface CheckChange {
  /** `stage`, or `stage/step` for a cross step or matrix leg. */
  stage: string;
  node: string;
  check: string;
  /** Status names folded over iterations ("failed" if any iteration failed); "" when absent. */
  before: string;
  after: string;
}

export interface FactChange {
  node: string;
  /** "machine-id", "hostname", "agent version", "kernel", "os", or "package NAME". */
  fact: string;
  /** "" when the fact is not known in that run. */
  before: string;
  after: string;
}

export interface RunRef {
  runId: string;
  planName: string;
  planRevision: string;
  mode: string;
}

export interface RunDiff {
  a: RunRef;
  b: RunRef;
  newlyFailing: CheckChange[];
  newlyPassing: CheckChange[];
  appeared: CheckChange[];
  disappeared: CheckChange[];
  /** Any other change of outcome, e.g. passed → not_ready or failed → skipped. */
  changed: CheckChange[];
  nodesAdded: string[];
  nodesRemoved: string[];
  facts: FactChange[];
}

interface CheckKey {
  stage: string;
  node: string;
  check: string;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Each check's outcome over the run's iterations, keyed by stage, node and check id. */
function outcomes(run: RunRecord): Map<string, CheckKey & { status: Status }> {
  const seen = new Map<string, CheckKey & { statuses: Status[] }>();
  for (const t of run.tasks) {
    for (const c of t.checks) {
      const k = { stage: taskTarget(t), node: t.nodeName, check: c.checkId };
      const id = `${k.stage}\0${k.node}\0${k.check}`;
      const entry = seen.get(id) ?? { ...k, statuses: [] };
      entry.statuses.push(c.status);
      seen.set(id, entry);
    }
  }
  return new Map([...seen].map(([id, e]) => [id, { stage: e.stage, node: e.node, check: e.check, status: foldStatuses(e.statuses) }]));
}

function parseFacts(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json || "{}");
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function str(v: unknown): string {
  return typeof v === "string" || typeof v === "number" ? String(v) : "";
}

/** Package versions, when the agent put them in its facts: `{name: version}` or `[{name, version}]`. */
function packages(facts: Record<string, unknown>): Record<string, string> {
  const p = facts.packages;
  const out: Record<string, string> = {};
  if (Array.isArray(p)) {
    for (const e of p as unknown[]) {
      const entry = (e ?? {}) as Record<string, unknown>;
      if (str(entry.name)) out[str(entry.name)] = str(entry.version);
    }
  } else if (p && typeof p === "object") {
    for (const [name, version] of Object.entries(p)) out[name] = str(version);
  }
  return out;
}

/** The facts compared between runs, in the order they are shown. */
export function nodeFacts(n: NodeIdentity): [string, string][] {
  const facts = parseFacts(n.factsJson);
  const os = (facts.os ?? {}) as Record<string, unknown>;
  const osName = [str(os.distro), str(os.release), str(os.codename) && `(${str(os.codename)})`].filter(Boolean).join(" ");
  const pkgs = packages(facts);
  return [
    ["machine-id", n.machineId],
    ["hostname", n.hostname],
    ["agent version", n.agentVersion],
    ["kernel", str(os.kernel)],
    ["os", osName],
    ...Object.keys(pkgs)
      .sort(compare)
      .map((name): [string, string] => [`package ${name}`, pkgs[name] ?? ""]),
  ];
}

function factChanges(a: RunRecord, b: RunRecord): { added: string[]; removed: string[]; facts: FactChange[] } {
  const before = new Map(a.nodes.map((n) => [n.name, n]));
  const after = new Map(b.nodes.map((n) => [n.name, n]));
  const facts: FactChange[] = [];
  for (const name of [...after.keys()].filter((n) => before.has(n)).sort(compare)) {
    const was = new Map(nodeFacts(before.get(name) as NodeIdentity));
    const now = new Map(nodeFacts(after.get(name) as NodeIdentity));
    const order = [...now.keys(), ...[...was.keys()].filter((k) => !now.has(k))];
    for (const fact of order) {
      const [x, y] = [was.get(fact) ?? "", now.get(fact) ?? ""];
      if (x !== y) facts.push({ node: name, fact, before: x, after: y });
    }
  }
  return {
    added: [...after.keys()].filter((n) => !before.has(n)).sort(compare),
    removed: [...before.keys()].filter((n) => !after.has(n)).sort(compare),
    facts,
  };
}

function ref(r: RunRecord): RunRef {
  return { runId: r.runId, planName: r.planName, planRevision: r.planRevision, mode: r.mode };
}

/** What changed from run `a` (before) to run `b` (after). Lists are sorted by stage, node, check. */
export function diffRuns(a: RunRecord, b: RunRecord): RunDiff {
  const [was, now] = [outcomes(a), outcomes(b)];
  const d: RunDiff = { a: ref(a), b: ref(b), newlyFailing: [], newlyPassing: [], appeared: [], disappeared: [], changed: [], nodesAdded: [], nodesRemoved: [], facts: [] };
  for (const id of [...new Set([...was.keys(), ...now.keys()])]) {
    const x = was.get(id);
    const y = now.get(id);
    const k = (x ?? y) as CheckKey;
    const change = { stage: k.stage, node: k.node, check: k.check, before: x ? statusName(x.status) : "", after: y ? statusName(y.status) : "" };
    if (!x) d.appeared.push(change);
    else if (!y) d.disappeared.push(change);
    else if (x.status === y.status) continue;
    else if (y.status === Status.FAILED) d.newlyFailing.push(change);
    else if (y.status === Status.PASSED) d.newlyPassing.push(change);
    else d.changed.push(change);
  }
  const byKey = (p: CheckChange, q: CheckChange) => compare(p.stage, q.stage) || compare(p.node, q.node) || compare(p.check, q.check);
  for (const list of [d.newlyFailing, d.newlyPassing, d.appeared, d.disappeared, d.changed]) list.sort(byKey);
  const nodes = factChanges(a, b);
  return { ...d, nodesAdded: nodes.added, nodesRemoved: nodes.removed, facts: nodes.facts };
}
