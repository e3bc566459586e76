// Pure: turns a plan, the user's choices (stages, nodes, skips, opt-ins, quick, role pins) and the
// roster into stages and tasks. A real run and a dry run choose nodes with the same functions.
import { createHash } from "node:crypto";
import { FleetgateError } from "../../shared/errors.js";
import { DEFAULT_QUICK_TAGS, isSuiteStage, type Plan, type StageDef } from "../../shared/model/plan.js";
import type { FaultSpec, SkipRecord } from "../store/runs.js";
import type { PlannedStage, PlannedTask } from "./core.js";
import { checkNamedNodes, type RosterNode } from "./node-choice.js";
import { checkOptIns, checkPins, checkSkips, quickStages } from "./run-choices.js";
import { runOverrides, type Override } from "./scope.js";
import { buildCrossStage, buildMatrixStage, buildSuiteStage, type StageBuild } from "./stage-tasks.js";

export type { RosterNode };

export interface RunRequest {
  /** Stage ids or kinds; empty or ["all"] for every stage. */
  stages: string[];
  nodeNames: string[];
  /** Overrides each stage's iterations when > 0. */
  iterations: number;
  /** --skip TARGET --reason TEXT: stage ids or matrix leg ids. */
  skips?: { target: string; reason: string }[];
  /** --with LEG: opt-in matrix legs to run. */
  withLegs?: string[];
  quick?: boolean;
  /** --bind ROLE=NODE, for every cross stage with that role. */
  bindings?: Record<string, string>;
  /** --only CHECK: only these check ids of suite stages and matrix legs. */
  onlyChecks?: string[];
  /** --tags T: only checks carrying one of these tags (instead of the quick tags with --quick). */
  tags?: string[];
}

export interface TaskSpec extends PlannedTask {
  suitePath: string;
  allowDestructive: boolean;
  stageKind: StageDef["kind"];
  stepId: string;
  role: string;
  /** The suite text of a cross step or an inline matrix leg, generated from the plan. */
  specYaml: string;
  probesYaml: string;
  onlyTags: string[];
  onlyChecks: string[];
  fault?: FaultSpec;
}

export interface ResolvedRun {
  stages: PlannedStage[];
  tasks: TaskSpec[];
  /** Human notes: which nodes were chosen per stage and why others were not. */
  notes: string[];
  mode: "full" | "quick";
  skips: SkipRecord[];
  bindings: { stageId: string; role: string; node: string }[];
  /** Why the run can never be signed off, whatever its outcome. */
  unsignable: string[];
  /** How the run is narrower than the plan; empty for a full-scope run. */
  overrides: Override[];
}

const STAGE_KINDS = ["single", "fleet", "cross", "matrix"];

/** Stage ids or kinds `coord run` takes, in plan order. */
export function selectStages(plan: Plan, wanted: string[]): StageDef[] {
  if (wanted.length === 0 || wanted.includes("all")) return plan.stages;
  const ids = plan.stages.map((s) => s.id);
  for (const w of wanted) {
    if (!ids.includes(w) && !STAGE_KINDS.includes(w)) {
      throw new FleetgateError("bad_input", `plan ${plan.file} has no stage "${w}"; stages: ${ids.join(", ")} (or a kind: ${STAGE_KINDS.join(", ")}, or all)`);
    }
  }
  const chosen = plan.stages.filter((s) => wanted.includes(s.id) || wanted.includes(s.kind));
  if (!chosen.length) throw new FleetgateError("bad_input", `plan ${plan.file} has no ${wanted.join("/")} stage; stages: ${ids.join(", ")}`);
  return chosen;
}

/**
 * The plan's revision: sha256 over the plan text and every suite it sends, in path order. Runs of
 * one revision ran the same checks, so only they gate each other and count towards flakes.
 */
export function planRevision(planYaml: string, suites: Record<string, string>): string {
  const h = createHash("sha256").update(planYaml);
  for (const path of Object.keys(suites).sort()) h.update(`\0${path}\0${suites[path]}`);
  return h.digest("hex").slice(0, 16);
}

export function resolveRun(plan: Plan, req: RunRequest, roster: RosterNode[], runId: string): ResolvedRun {
  checkNamedNodes(req.nodeNames, roster);
  const skips = req.skips ?? [];
  checkSkips(plan, skips);
  let selected = selectStages(plan, req.stages);
  checkOptIns(selected, req.withLegs ?? []);
  checkPins(selected, req.bindings ?? {}, roster);
  if (req.quick) selected = quickStages(plan, selected);
  const skipped = new Set(skips.map((s) => s.target));
  const out: ResolvedRun = {
    stages: [],
    tasks: [],
    notes: [],
    mode: req.quick ? "quick" : "full",
    skips: skips.map((s) => ({ ...s, source: "--skip" })),
    bindings: [],
    unsignable: [],
    overrides: [],
  };
  const quickTags = plan.quick?.tags ?? DEFAULT_QUICK_TAGS;
  const onlyTags = req.tags?.length ? req.tags : req.quick ? quickTags : [];
  const build: StageBuild = { runId, req, roster, onlyTags, onlyChecks: req.onlyChecks ?? [], out };
  for (const stage of selected) {
    if (skipped.has(stage.id)) continue;
    if (isSuiteStage(stage)) buildSuiteStage(stage, build);
    else if (stage.kind === "cross") buildCrossStage(stage, build);
    else buildMatrixStage(stage, build, skipped);
  }
  if (!out.tasks.length) throw new FleetgateError("bad_input", "nothing left to run: every stage or leg asked for is skipped or opt-in");
  const ran = selected.flatMap((stage) => {
    const nodes = [...new Set(out.tasks.filter((t) => t.stageId === stage.id).map((t) => t.node))];
    return nodes.length ? [{ stage, nodes }] : [];
  });
  out.overrides = runOverrides(plan, req, ran, roster, quickTags);
  // A dev node (a laptop, a scratch VM) is a target only when named; its results prove nothing for a release.
  for (const name of new Set(out.tasks.map((t) => t.node))) {
    if (roster.find((n) => n.name === name)?.labels.role === "dev") out.unsignable.push(`node ${name} is role=dev (named with --node)`);
  }
  return out;
}
