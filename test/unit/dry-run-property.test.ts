// One resolver, proved over random plans and flags: whatever a plan and a set of `coord run`
// flags are, the dry run (ResolvePlan) lists exactly the tasks the real run (StartRun) would hand
// the sequencer, shows as left out exactly the checks the agent would leave out, and both refuse
// the same requests with the same error.
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { checkSelector } from "../../agent/daemon/task-options.js";
import { initialState, step } from "../../coordinator/sequencer/core.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import type { ResolvedRun } from "../../coordinator/sequencer/run-types.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { dryRunPlan, resolveStartRun } from "../../coordinator/runs/run-request.js";
import { StartRunRequestSchema, type PlannedStep, type ResolvedPlan, type StartRunRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { Status } from "../../shared/model/status.js";

const ROLES = ["fleet", "primary", "dev"];
const CHECK_IDS = ["api", "db", "disk", "restart", "tls"];
const TAGS = ["quick", "slow", "net"];
const SUITE_FILES = ["a.suite.yaml", "b.suite.yaml"];
const KINDS = ["single", "fleet", "cross", "matrix"] as const;

/** Mostly one of `valid`, sometimes one of `invalid`. */
const mostly = <T>(valid: T[], invalid: T[]) => fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });

/** A label selector: mostly one a typical fleet matches (`want`), sometimes any label, one no node has, or a zone. */
const selector = (want: string) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant({ role: want }) },
    { weight: 1, arbitrary: fc.constant({}) },
    { weight: 1, arbitrary: fc.record({ role: fc.constantFrom(...ROLES), zone: fc.constantFrom("a", "b") }) },
    { weight: 1, arbitrary: fc.constantFrom(...ROLES).map((role) => ({ role })) },
  );
const tags = fc.subarray(TAGS);
const command = fc.constantFrom(["true"], ["make", "test"]).map((argv) => ({ argv }));

/** Mostly a primary and a few fleet nodes, now and then a dev node or a second primary; some offline. */
const roster = fc
  .array(fc.record({ role: mostly(["fleet"], ["dev", "primary"]), zone: fc.constantFrom("a", "b"), online: fc.integer({ min: 0, max: 5 }).map((n) => n > 0) }), { minLength: 1, maxLength: 5 })
  .map((nodes): RosterNode[] =>
    [{ role: "primary", zone: "a", online: true }, ...nodes].map((n, i) => ({ name: `n${i}`, labels: { role: n.role, zone: n.zone }, online: n.online })),
  );

const suite = (name: string) =>
  fc
    .record({
      checks: fc.uniqueArray(fc.record({ id: fc.constantFrom(...CHECK_IDS), tags, destructive: fc.boolean() }), { selector: (c) => c.id, minLength: 1, maxLength: 4 }),
      precondition: fc.boolean(),
    })
    .map(({ checks, precondition }) =>
      stringify({
        suite: name,
        ...(precondition ? { preconditions: [{ id: "ready", command: { argv: ["true"] } }] } : {}),
        checks: checks.map((c) => ({ id: c.id, tags: c.tags, destructive: c.destructive, command: { argv: ["check", c.id] } })),
      }),
    );

type StageYaml = Record<string, unknown>;

function suiteStage(kind: "single" | "fleet", id: string) {
  return fc
    .record({ suite: fc.constantFrom(...SUITE_FILES), sel: selector(kind === "single" ? "primary" : "fleet"), iterations: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }), destructive: fc.boolean() })
    .map(({ suite: file, sel, iterations, destructive }): StageYaml => ({
      id,
      kind,
      suite: file,
      [kind === "single" ? "node" : "nodes"]: sel,
      ...(iterations ? { iterations } : {}),
      allow_destructive: destructive,
    }));
}

function crossStage(id: string) {
  return fc.integer({ min: 1, max: 3 }).chain((roleCount) => {
    const roles = ["r0", "r1", "r2"].slice(0, roleCount);
    const leaf = fc.record({ on: fc.constantFrom(...roles), named: fc.boolean(), command });
    const stepArb = fc.oneof(leaf.map((s) => [s]), fc.array(leaf, { minLength: 2, maxLength: 2 }));
    return fc.record({ sels: fc.tuple(...roles.map(() => selector("fleet"))), steps: fc.array(stepArb, { minLength: 1, maxLength: 3 }) }).map(({ sels, steps }): StageYaml => ({
      id,
      kind: "cross",
      roles: Object.fromEntries(roles.map((r, i) => [r, sels[i]])),
      steps: steps.map((group, g) => {
        const leafYaml = (s: { on: string; named: boolean; command: unknown }, j: number) => ({ ...(s.named ? { id: `${id}-st${g}-${j}` } : {}), on: s.on, command: s.command });
        return group.length === 1 ? leafYaml(group[0] as never, 0) : { id: `${id}-grp${g}`, parallel: group.map(leafYaml) };
      }),
    }));
  });
}

function matrixStage(id: string) {
  const leg = fc.record({ sel: selector("primary"), suite: fc.option(fc.constantFrom(...SUITE_FILES), { nil: undefined }), tags, optIn: fc.boolean(), probe: fc.boolean() });
  return fc.array(leg, { minLength: 1, maxLength: 3 }).map((legs): StageYaml => ({
    id,
    kind: "matrix",
    probes: { p0: { command: { argv: ["probe"] }, hint: "fix it" } },
    legs: legs.map((l, i) => ({
      id: `${id}-l${i}`,
      on: l.sel,
      ...(l.suite ? { suite: l.suite } : { tags: l.tags, command: { argv: ["leg", String(i)] } }),
      ...(l.optIn ? { opt_in: true } : {}),
      ...(l.probe ? { requires: ["p0"] } : {}),
    })),
  }));
}

const stageOf = (kind: (typeof KINDS)[number], id: string) =>
  kind === "single" || kind === "fleet" ? suiteStage(kind, id) : kind === "cross" ? crossStage(id) : matrixStage(id);

const plan = fc.array(fc.constantFrom(...KINDS), { minLength: 1, maxLength: 4 }).chain((kinds) =>
  fc
    .record({
      stages: fc.tuple(...kinds.map((k, i) => stageOf(k, `s${i}`))),
      quickStages: fc.option(fc.subarray(kinds.map((_, i) => `s${i}`), { minLength: 1 }), { nil: undefined }),
      quickTags: fc.option(fc.subarray(TAGS, { minLength: 1 }), { nil: undefined }),
    })
    .map(({ stages, quickStages, quickTags }) => {
      const quick = quickStages || quickTags ? { quick: { ...(quickStages ? { stages: quickStages } : {}), ...(quickTags ? { tags: quickTags } : {}) } } : {};
      return { yaml: stringify({ plan: "prop", ...quick, stages }), stages: stages as StageYaml[] };
    }),
);

/** Ids `--skip` can name in the plan: stages and legs. */
const targetsOf = (stages: StageYaml[]) => [...stages.map((s) => s.id as string), ...legsOf(stages).map((l) => l.id)];
const legsOf = (stages: StageYaml[]) => stages.flatMap((s) => (s.legs as { id: string; opt_in?: boolean }[] | undefined) ?? []);

/** Mostly nothing, sometimes something: most runs are asked for with few flags, and each flag can refuse. */
const rarely = <T>(empty: T, some: fc.Arbitrary<T>) => fc.oneof({ weight: 3, arbitrary: fc.constant(empty) }, { weight: 1, arbitrary: some });
const request = fc
  .record({ plan, suiteA: suite("a"), suiteB: suite("b"), roster })
  .chain(({ plan: p, suiteA, suiteB, roster: nodes }) => {
    const targets = targetsOf(p.stages);
    const optIn = legsOf(p.stages).filter((l) => l.opt_in).map((l) => l.id);
    const hasCross = p.stages.some((st) => st.kind === "cross");
    const names = nodes.map((n) => n.name);
    const flags = fc.record({
      stages: rarely([] as string[], fc.subarray([...p.stages.map((s) => s.id as string), ...KINDS, "all"], { minLength: 1, maxLength: 2 })),
      nodeNames: rarely([] as string[], fc.uniqueArray(mostly(names, ["ghost"]), { minLength: 1, maxLength: 3 })),
      iterations: fc.integer({ min: 0, max: 3 }),
      skips: rarely([] as { target: string; reason: string }[], fc.uniqueArray(fc.record({ target: mostly(targets, ["ghost"]), reason: mostly(["broken runner", "maintenance"], ["", " "]) }), { selector: (k) => k.target, maxLength: 2 })),
      withLegs: optIn.length ? rarely([] as string[], fc.uniqueArray(mostly(optIn, [...targets, "ghost"]), { maxLength: 2 })) : fc.oneof({ weight: 12, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.constant(["ghost"] as string[]) }),
      quick: fc.boolean(),
      bindings: hasCross ? rarely({} as Record<string, string>, fc.dictionary(mostly(["r0"], ["r1", "r5"]), mostly(names, ["ghost"]), { maxKeys: 2 })) : fc.oneof({ weight: 12, arbitrary: fc.constant({} as Record<string, string>) }, { weight: 1, arbitrary: fc.constant({ r0: "n0" }) }),
      onlyChecks: rarely([] as string[], fc.uniqueArray(mostly(CHECK_IDS, ["nope"]), { minLength: 1, maxLength: 2 })),
      tags: rarely([] as string[], fc.uniqueArray(mostly(TAGS, ["nope"]), { minLength: 1, maxLength: 2 })),
    });
    return flags.map((f) => ({
      roster: nodes,
      req: create(StartRunRequestSchema, {
        planPath: "prop.plan.yaml",
        planYaml: p.yaml,
        suites: { "a.suite.yaml": suiteA, "b.suite.yaml": suiteB },
        ...f,
        skips: f.skips.map((s) => ({ ...s, source: "--skip" })),
      }),
    }));
  });

interface Listed {
  stageId: string;
  node: string;
  iteration: number;
  label: string;
}

/** The tasks a person reads off the dry run: per stage that runs, its nodes × iterations, steps or legs. */
function dryRunTasks(view: ResolvedPlan): Listed[] {
  const out: Listed[] = [];
  for (const s of view.stages) {
    if (s.skipReason) continue;
    const add = (node: string, iteration: number, stepId = "", role = "") => out.push({ stageId: s.id, node, iteration, label: taskLabel({ stageId: s.id, stepId, role, nodeName: node, iteration }) });
    if (s.kind === "single" || s.kind === "fleet") {
      for (const n of s.nodes?.chosen ?? []) for (let i = 1; i <= s.iterations; i++) add(n.name, i);
    }
    const leaves = (st: PlannedStep): PlannedStep[] => (st.parallel.length ? st.parallel.flatMap(leaves) : [st]);
    for (const st of s.steps.flatMap(leaves)) add(st.node, s.iterations, st.id, st.role);
    for (const leg of s.legs) if (!leg.skipReason) add(leg.nodes?.chosen[0]?.name ?? "", s.iterations, leg.id);
  }
  return out;
}

/** The tasks the sequencer holds once the real run starts: all pending, the first ones dispatched. */
function sequencerTasks(resolved: ResolvedRun, roster: RosterNode[]) {
  const offline = roster.filter((n) => !n.online).map((n) => n.name);
  const { state, commands } = step(initialState(resolved.stages, resolved.tasks, { offline, lost: {} }), { type: "start" });
  const dispatched = commands.flatMap((c) => (c.type === "dispatch" ? [state.tasks.find((t) => t.id === c.taskId)] : []));
  return { held: state.tasks, dispatched };
}

function outcome<T>(fn: () => T): { ok: T } | { err: FleetgateError } {
  try {
    return { ok: fn() };
  } catch (err) {
    if (err instanceof FleetgateError) return { err };
    throw err;
  }
}

const gateChecksShown = (view: ResolvedPlan, stageId: string, legId?: string) => {
  const stage = view.stages.find((s) => s.id === stageId);
  const checks = legId ? stage?.legs.find((l) => l.id === legId)?.checks : stage?.checks;
  return (checks ?? []).filter((c) => !c.precondition && !c.skipReason.startsWith("left out")).map((c) => c.id);
};

describe("the dry run is the real run's resolution, shown", () => {
  it("lists exactly the tasks the sequencer would hold, leaves out exactly the checks the agent would, and refuses exactly what the run refuses", () => {
    let resolvedRuns = 0;
    let refused = 0;
    fc.assert(
      fc.property(request, ({ req, roster: nodes }: { req: StartRunRequest; roster: RosterNode[] }) => {
        const real = outcome(() => resolveStartRun(req, nodes, "r1").resolved);
        const dry = outcome(() => dryRunPlan(req, nodes));
        if ("err" in real || "err" in dry) {
          refused++;
          expect("err" in real && "err" in dry, `one side refused: ${"err" in real ? real.err.message : ""}${"err" in dry ? dry.err.message : ""}`).toBe(true);
          if ("err" in real && "err" in dry) expect([dry.err.code, dry.err.message]).toEqual([real.err.code, real.err.message]);
          return;
        }
        resolvedRuns++;
        const { held, dispatched } = sequencerTasks(real.ok, nodes);
        expect(dryRunTasks(dry.ok)).toEqual(held.map((t) => ({ stageId: t.stageId, node: t.node, iteration: t.iteration, label: t.label })));
        expect(held.every((t) => t.status === Status.PENDING || t.status === Status.RUNNING)).toBe(true);
        const first = dry.ok.stages.find((s) => !s.skipReason && held.some((t) => t.stageId === s.id))?.id;
        expect(dispatched.every((t) => t?.stageId === first)).toBe(true);
        // Every task's gate checks: those the agent's selector keeps are exactly those the dry run does not mark left out.
        for (const t of real.ok.tasks) {
          if (t.stageKind === "cross" || !t.suite) continue;
          const select = checkSelector(t.onlyTags, t.onlyChecks);
          const kept = t.suite.checks.filter((c) => select?.(c) ?? true).map((c) => c.id);
          expect(gateChecksShown(dry.ok, t.stageId, t.stageKind === "matrix" ? t.stepId : undefined), t.label).toEqual(kept);
        }
        // What the run records about itself, the dry run shows as is.
        expect([dry.ok.mode, dry.ok.overrides.map((o) => ({ ...o })), dry.ok.skips.map((s) => ({ ...s })), dry.ok.unsignable]).toEqual([
          real.ok.mode,
          real.ok.overrides.map((o) => ({ $typeName: "fleetgate.v1.Override", ...o })),
          real.ok.skips.map((s) => ({ $typeName: "fleetgate.v1.Skip", ...s })),
          real.ok.unsignable,
        ]);
      }),
      { numRuns: 1000 },
    );
    // Both branches must be exercised, or the property proves little.
    expect(resolvedRuns).toBeGreaterThan(150);
    expect(refused).toBeGreaterThan(150);
  });
});
