// The shapes of a resolved run, apart from the code that makes them: the request from the user,
// the tasks and stage layouts the resolver lays out, and what the store keeps of them. The store
// imports these; nothing here imports the store.
import type { StageDef, SuiteStageDef } from "../../shared/model/plan.js";
import type { Suite } from "../../shared/model/suite.js";
import type { PlannedStage, PlannedTask } from "./core.js";
import type { NodeChoice } from "./node-choice.js";
import type { RoleBinding } from "./role-binding.js";

export type CrossStageDef = Extract<StageDef, { kind: "cross" }>;
export type MatrixStageDef = Extract<StageDef, { kind: "matrix" }>;

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

/** A fault step as stored: which role's node it runs on is the task's node. */
export type FaultSpec = { partition: { peerRole: string; peerNode: string; forMs: number } } | { killAgent: true };

/** A stage, leg or step that does not run, and why. */
export interface SkipRecord {
  target: string;
  reason: string;
  /** Who decided: "--skip", "opt-in", "--quick", "sign-off". */
  source: string;
}

export interface Override {
  /** What `coord signoff --accept-override` takes: iterations, nodes, only, tags, quick, skip:T, with:LEG. */
  name: string;
  /** In words: "iterations 1 of 2 on fleet". */
  detail: string;
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
  /** The suite the agent runs, parsed: the plan's, or the one in specYaml; none for a fault step. */
  suite?: Suite;
  /** probesYaml, parsed. */
  probes?: Suite;
}

/** A stage asked for that does not run: --skip, or not one of the plan's quick stages. */
export interface SkippedStageLayout {
  kind: "skipped";
  stage: StageDef;
  skip: SkipRecord;
}

export interface SuiteStageLayout {
  kind: "suite";
  stage: SuiteStageDef;
  nodes: NodeChoice;
  iterations: number;
}

export interface CrossStageLayout {
  kind: "cross";
  stage: CrossStageDef;
  /** The nodes bound to roles, and why each other node is not. */
  nodes: NodeChoice;
  roles: RoleBinding[];
  /** Task group → the step, or the parallel group of steps, that makes it. */
  groups: { id: string; parallel: boolean }[];
  iterations: number;
}

export type LegLayout = { id: string; nodes: NodeChoice; skip?: undefined } | { id: string; skip: SkipRecord };

export interface MatrixStageLayout {
  kind: "matrix";
  stage: MatrixStageDef;
  /** Every leg in plan order: its node choice, or why it does not run. */
  legs: LegLayout[];
  iterations: number;
}

/** A stage asked for, as resolved beyond its tasks: what a dry run shows of it. */
export type StageLayout = SkippedStageLayout | SuiteStageLayout | CrossStageLayout | MatrixStageLayout;

export interface ResolvedRun {
  stages: PlannedStage[];
  tasks: TaskSpec[];
  /** Every stage asked for, in plan order, including the ones that do not run. */
  layout: StageLayout[];
  /** Human notes: which nodes were chosen per stage and why others were not. */
  notes: string[];
  mode: "full" | "quick";
  /** Skips the run records: --skip targets and opt-in legs not asked for. */
  skips: SkipRecord[];
  bindings: { stageId: string; role: string; node: string }[];
  /** Why the run can never be signed off, whatever its outcome. */
  unsignable: string[];
  /** How the run is narrower than the plan; empty for a full-scope run. */
  overrides: Override[];
}
