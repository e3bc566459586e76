import { posix } from "node:path";
import { z } from "zod";
import { checkCaptureRefs, refuseVarRefs } from "./capture-refs.js";
import { COMMON_FIELDS, commonCheckFields, DurationSchema, IdSchema as Id, kindsOf, requireOneKind, unknownKeyMessage } from "./check-schema.js";
import { userAppliesRule } from "./run-as.js";
import { YamlSource } from "./yaml-source.js";

/** Label selector: every key must equal the node's label (`{ role: fleet }`). */
export const SelectorSchema = z.record(z.string(), z.string());
export type Selector = z.infer<typeof SelectorSchema>;

const Iterations = z.number().int().min(1, "iterations must be at least 1").max(1000);

const SingleStage = z.strictObject({
  id: Id,
  kind: z.literal("single"),
  description: z.string().optional(),
  suite: z.string().min(1),
  node: SelectorSchema.optional(),
  iterations: Iterations.optional(),
  allow_destructive: z.boolean().optional(),
});

const FleetStage = z.strictObject({
  id: Id,
  kind: z.literal("fleet"),
  description: z.string().optional(),
  suite: z.string().min(1),
  nodes: SelectorSchema.optional(),
  iterations: Iterations.optional(),
  allow_destructive: z.boolean().optional(),
  parallel: z.number().int().min(1).optional(),
  not_ready: z.enum(["report", "fail"]).optional(),
});

const STEP_FIELDS = ["id", "on", "parallel", "fault", ...COMMON_FIELDS] as const;

/**
 * A fault step (plans with `faults: true` only): cut the link between two roles' nodes for a
 * while, or kill a role's agent — how resilience scenarios are written.
 */
const FaultSchema = z
  .strictObject({
    partition: z.array(z.string()).length(2, "partition: names exactly two roles, e.g. [origin, peer]").optional(),
    for: DurationSchema.optional(),
    kill_agent: z.string().optional(),
  })
  .superRefine((f, ctx) => {
    if (!!f.partition === !!f.kill_agent) ctx.addIssue({ code: "custom", message: "a fault is either partition: [ROLE, ROLE] with for: DURATION, or kill_agent: ROLE" });
    else if (f.partition && !f.for) ctx.addIssue({ code: "custom", path: ["for"], message: "a partition needs for: DURATION (how long until it heals)" });
    else if (f.kill_agent && f.for) ctx.addIssue({ code: "custom", path: ["for"], message: "kill_agent takes no for:; the agent stays dead until restarted" });
  });
export type FaultDef = z.infer<typeof FaultSchema>;

/**
 * A cross-node step: a check run on the node bound to role `on`; or a `parallel:` group of such
 * steps, which all start together and must all finish before the next step (a barrier).
 */
const CrossStep = z
  .strictObject(
    {
      id: Id.optional(),
      on: z.string().optional(),
      parallel: z.array(z.lazy((): z.ZodType => CrossStep)).min(2, "a parallel group needs at least two steps").optional(),
      fault: FaultSchema.optional(),
      ...commonCheckFields(),
    },
    { error: unknownKeyMessage(STEP_FIELDS) },
  )
  .superRefine((step, ctx) => {
    if (step.fault) {
      if (step.on || step.parallel || kindsOf(step).length) ctx.addIssue({ code: "custom", message: "a fault step has no `on`, `parallel` or check; its roles are in fault:" });
      return;
    }
    if (step.parallel) {
      if (step.on || kindsOf(step).length) ctx.addIssue({ code: "custom", message: "a parallel group holds steps; it has no `on` or check of its own" });
      return;
    }
    if (!step.on) ctx.addIssue({ code: "custom", message: "a step needs `on: ROLE`, the role whose node runs it" });
    requireOneKind(step, ctx);
    userAppliesRule(step, ctx);
  });

type StepRoles = { on?: string; parallel?: unknown[]; fault?: FaultDef };

/** Every role a step, a parallel group's member or a fault names must be one of the stage's roles. */
function checkStepRoles(steps: StepRoles[], roles: string[], path: (string | number)[], ctx: z.RefinementCtx): void {
  const unknown = (role: string, at: (string | number)[]) => {
    if (!roles.includes(role)) ctx.addIssue({ code: "custom", path: at, message: `no role "${role}" under roles: (declared: ${roles.join(", ")})` });
  };
  steps.forEach((step, i) => {
    if (step.parallel) checkStepRoles(step.parallel as StepRoles[], roles, [...path, i, "parallel"], ctx);
    else if (step.on !== undefined) unknown(step.on, [...path, i, "on"]);
    step.fault?.partition?.forEach((role, j) => unknown(role, [...path, i, "fault", "partition", j]));
    if (step.fault?.kill_agent) unknown(step.fault.kill_agent, [...path, i, "fault", "kill_agent"]);
    if (step.fault?.partition && step.fault.partition[0] === step.fault.partition[1]) {
      ctx.addIssue({ code: "custom", path: [...path, i, "fault", "partition"], message: "partition: needs two different roles" });
    }
  });
}

/** Paths of every fault step, to refuse them in plans that do not say `faults: true`. */
function faultPaths(steps: StepRoles[], path: (string | number)[]): (string | number)[][] {
  return steps.flatMap((step, i) => [
    ...(step.fault ? [[...path, i, "fault"]] : []),
    ...(step.parallel ? faultPaths(step.parallel as StepRoles[], [...path, i, "parallel"]) : []),
  ]);
}

const CrossStage = z
  .strictObject({
    id: Id,
    kind: z.literal("cross"),
    description: z.string().optional(),
    /** Role → label selector; each role is bound to a different node. */
    roles: z.record(z.string(), SelectorSchema),
    steps: z.array(CrossStep).min(1, "a cross stage needs at least one step"),
    allow_destructive: z.boolean().optional(),
  })
  .superRefine((stage, ctx) => {
    checkStepRoles(stage.steps as StepRoles[], Object.keys(stage.roles), ["steps"], ctx);
    checkCaptureRefs(stage.steps as Parameters<typeof checkCaptureRefs>[0], Object.keys(stage.roles), ctx);
  });

/** A check run on a leg's node before the leg; a failed probe skips the leg with its hint. */
const Probe = z
  .strictObject({ ...commonCheckFields() }, { error: unknownKeyMessage(COMMON_FIELDS) })
  .superRefine((p, ctx) => {
    requireOneKind(p, ctx);
    userAppliesRule(p, ctx);
  });

const LEG_FIELDS = ["id", "on", "suite", "requires", "opt_in", ...COMMON_FIELDS] as const;

const MatrixLeg = z
  .strictObject(
    {
      id: Id,
      on: SelectorSchema,
      suite: z.string().optional(),
      requires: z.array(z.string()).optional(),
      /** Runs only when asked for by name (`--with LEG`). */
      opt_in: z.boolean().optional(),
      ...commonCheckFields(),
    },
    { error: unknownKeyMessage(LEG_FIELDS) },
  )
  .superRefine((leg, ctx) => {
    const kinds = kindsOf(leg);
    if (leg.suite && kinds.length) ctx.addIssue({ code: "custom", message: "a leg runs either a suite or one check, not both" });
    else if (!leg.suite) requireOneKind(leg, ctx);
    if (leg.suite && leg.user !== undefined) {
      ctx.addIssue({ code: "custom", path: ["user"], message: `a leg that runs a suite takes its user from the suite: write user: at the top of ${leg.suite}, or on its checks` });
    } else userAppliesRule(leg, ctx);
  });

const MatrixStage = z
  .strictObject({
    id: Id,
    kind: z.literal("matrix"),
    description: z.string().optional(),
    probes: z.record(Id, Probe).optional(),
    legs: z.array(MatrixLeg).min(1, "a matrix stage needs at least one leg"),
  })
  .superRefine((stage, ctx) => {
    stage.legs.forEach((leg, i) => refuseVarRefs(leg, ["legs", i], ctx));
    for (const [name, probe] of Object.entries(stage.probes ?? {})) refuseVarRefs(probe, ["probes", name], ctx);
    stage.legs.forEach((leg, i) =>
      (leg.requires ?? []).forEach((probe, j) => {
        if (!stage.probes?.[probe]) ctx.addIssue({ code: "custom", path: ["legs", i, "requires", j], message: `no probe "${probe}" under probes:` });
      }),
    );
  });

export const StageSchema = z.discriminatedUnion("kind", [SingleStage, FleetStage, CrossStage, MatrixStage]);
export type StageDef = z.infer<typeof StageSchema>;
export type SuiteStageDef = z.infer<typeof SingleStage> | z.infer<typeof FleetStage>;

export const PlanSchema = z
  .strictObject({
    plan: Id,
    description: z.string().optional(),
    evidence: z.strictObject({ dir: z.string().optional(), keep: z.number().int().min(1).optional() }).optional(),
    /** What `--quick` runs: these stages (default: the ones asked for), checks with these tags (default: quick). */
    quick: z.strictObject({ stages: z.array(Id).optional(), tags: z.array(z.string().min(1)).min(1).optional() }).optional(),
    /** Allows fault steps (partitions, killed agents): for test networks only. */
    faults: z.boolean().optional(),
    stages: z.array(StageSchema).min(1, "a plan needs at least one stage"),
  })
  .superRefine((plan, ctx) => {
    const seen = new Set<string>();
    plan.stages.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: "custom", path: ["stages", i, "id"], message: `duplicate stage id "${s.id}"` });
      seen.add(s.id);
    });
    if (!plan.faults) {
      plan.stages.forEach((stage, i) => {
        if (stage.kind !== "cross") return;
        for (const path of faultPaths(stage.steps as StepRoles[], ["stages", i, "steps"])) {
          ctx.addIssue({ code: "custom", path, message: "fault steps cut links and kill agents: allowed only with faults: true at the top of the plan, on a test network" });
        }
      });
    }
    plan.quick?.stages?.forEach((id, i) => {
      if (!seen.has(id)) ctx.addIssue({ code: "custom", path: ["quick", "stages", i], message: `no stage "${id}" (stages: ${[...seen].join(", ")})` });
    });
  });
export type PlanDef = z.infer<typeof PlanSchema>;

export const DEFAULT_QUICK_TAGS = ["quick"];

export interface Plan {
  name: string;
  file: string;
  description?: string;
  stages: StageDef[];
  quick?: { stages?: string[]; tags?: string[] };
  faults?: boolean;
  evidence?: { dir?: string; keep?: number };
}

export function parsePlan(text: string, file: string): Plan {
  const def = YamlSource.parse(text, file).validate(PlanSchema);
  return { name: def.plan, file, description: def.description, stages: def.stages, quick: def.quick, evidence: def.evidence, faults: def.faults };
}

export function isSuiteStage(stage: StageDef): stage is SuiteStageDef {
  return stage.kind === "single" || stage.kind === "fleet";
}

/** Suite paths the plan refers to, as written (relative to the plan's directory). */
export function suitePaths(plan: Plan): string[] {
  const paths = new Set<string>();
  for (const s of plan.stages) {
    if (isSuiteStage(s)) paths.add(posix.normalize(s.suite));
    if (s.kind === "matrix") for (const leg of s.legs) if (leg.suite) paths.add(posix.normalize(leg.suite));
  }
  return [...paths];
}
