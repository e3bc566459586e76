// Pure: the tasks of a single or fleet stage — one per node and iteration — and what cross and
// matrix stages share with them: the build context, and the one-check suites generated from the
// plan for a cross step or an inline matrix leg (parsed here, so a bad one refuses the run).
import { stringify } from "yaml";
import type { SuiteStageDef } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { describeNode, type RosterNode } from "./node-choice.js";
import type { ResolvedRun, RunRequest, SuiteStageLayout } from "./run-types.js";
import { plannedStage, stageIterations, stageTargets } from "./stage-shape.js";
import { findSuite } from "./stage-suites.js";

export interface StageBuild {
  runId: string;
  /** The plan's file, to name generated suites in messages: "gate.yaml#federation/fetch". */
  planFile: string;
  req: RunRequest;
  roster: RosterNode[];
  suites: Record<string, Suite>;
  onlyTags: string[];
  onlyChecks: string[];
  out: ResolvedRun;
}

/** A suite generated from the plan: its text as sent to the agent, and parsed, as the agent will. */
export interface GeneratedSuite {
  yaml: string;
  suite: Suite;
}

/** A one-check suite for cross step or inline matrix leg `checkId`: the def less the fields in `drop`. */
export function oneCheckSuite(b: StageBuild, stageId: string, checkId: string, def: Record<string, unknown>, drop: string[]): GeneratedSuite {
  const check = Object.fromEntries(Object.entries(def).filter(([k]) => !drop.includes(k)));
  return generatedSuite(b, stageId, checkId, [{ id: checkId, ...check }]);
}

/** Suite "STAGE.PART" (a step, a leg, or probes); messages about it name "PLAN#STAGE/PART". */
export function generatedSuite(b: StageBuild, stageId: string, part: string, checks: Record<string, unknown>[]): GeneratedSuite {
  const yaml = stringify({ suite: `${stageId}.${part}`, checks });
  return { yaml, suite: parseSuite(yaml, `${b.planFile}#${stageId}/${part}`) };
}

export function buildSuiteStage(stage: SuiteStageDef, b: StageBuild): SuiteStageLayout {
  const nodes = stageTargets(stage, b.roster, b.req.nodeNames);
  const iterations = stageIterations(stage, b.req);
  const suite = findSuite(b.suites, stage.suite);
  b.out.stages.push(plannedStage(stage, nodes.chosen.length));
  b.out.notes.push(`stage ${stage.id} (${stage.kind}, ${iterations}×): ${nodes.chosen.map(describeNode).join(", ")}`);
  for (const n of nodes.chosen) {
    for (let i = 1; i <= iterations; i++) {
      b.out.tasks.push({
        id: `${b.runId}/${stage.id}/${n.name}/${i}`,
        stageId: stage.id,
        stageKind: stage.kind,
        node: n.name,
        iteration: i,
        group: 0,
        label: taskLabel({ stageId: stage.id, stepId: "", role: "", nodeName: n.name, iteration: i }),
        suitePath: stage.suite,
        allowDestructive: stage.allow_destructive ?? false,
        stepId: "",
        role: "",
        specYaml: "",
        probesYaml: "",
        onlyTags: b.onlyTags,
        onlyChecks: b.onlyChecks,
        suite,
      });
    }
  }
  return { kind: "suite", stage, nodes, iterations };
}
