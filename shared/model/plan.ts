import { posix } from "node:path";
import { z } from "zod";
import { YamlSource } from "./yaml-source.js";

const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: "ids use letters, digits, '.', '_' and '-'" });

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

// Cross-node scenarios and the integration matrix are sequenced by later work; their stages
// are accepted here so a whole release plan loads, and refused when asked to run.
const CrossStage = z.looseObject({ id: Id, kind: z.literal("cross") });
const MatrixStage = z.looseObject({ id: Id, kind: z.literal("matrix") });

export const StageSchema = z.discriminatedUnion("kind", [SingleStage, FleetStage, CrossStage, MatrixStage]);
export type StageDef = z.infer<typeof StageSchema>;
export type SuiteStageDef = z.infer<typeof SingleStage> | z.infer<typeof FleetStage>;

export const PlanSchema = z
  .strictObject({
    plan: Id,
    description: z.string().optional(),
    evidence: z.strictObject({ dir: z.string().optional(), keep: z.number().int().min(1).optional() }).optional(),
    stages: z.array(StageSchema).min(1, "a plan needs at least one stage"),
  })
  .superRefine((plan, ctx) => {
    const seen = new Set<string>();
    plan.stages.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: "custom", path: ["stages", i, "id"], message: `duplicate stage id "${s.id}"` });
      seen.add(s.id);
    });
  });
export type PlanDef = z.infer<typeof PlanSchema>;

export interface Plan {
  name: string;
  file: string;
  description?: string;
  stages: StageDef[];
}

export function parsePlan(text: string, file: string): Plan {
  const def = YamlSource.parse(text, file).validate(PlanSchema);
  return { name: def.plan, file, description: def.description, stages: def.stages };
}

export function isSuiteStage(stage: StageDef): stage is SuiteStageDef {
  return stage.kind === "single" || stage.kind === "fleet";
}

/** Suite paths the plan refers to, as written (relative to the plan's directory). */
export function suitePaths(plan: Plan): string[] {
  const paths = new Set<string>();
  for (const s of plan.stages) if (isSuiteStage(s)) paths.add(posix.normalize(s.suite));
  return [...paths];
}
