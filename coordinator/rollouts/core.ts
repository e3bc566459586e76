// The rollout as a pure state machine: (state, event) → { state, commands }, like the sequencer.
// Each node goes facts → hold rules → preconditions (the gate suites') → snapshot → apply → gate →
// facts_after, or on red rollback →
// proof (the gate again) → facts_rolled_back; every phase is an ordinary run the shell starts. No
// clock, no store, no runs here: the shell feeds what each phase run ended with and carries out
// the commands. The rules that make it a guard (issue 18):
// - one phase at a time per node, nodes in batches, the next batch only after this one is changed;
// - a node held by a rule is not touched until a person approves (or aborts);
// - a red apply or gate is rolled back and the rollback proven by the gate; the rollout stops;
// - a node lost after apply began (or its run cancelled) is `unknown_state`, never assumed rolled back;
// - only a full-mode gate advances known-good.
import { isGreen, Status, statusName } from "../../shared/model/status.js";
import type { Hold } from "./holds.js";

export const PHASES = ["facts", "preconditions", "snapshot", "apply", "gate", "facts_after", "rollback", "proof", "facts_rolled_back"] as const;
export type Phase = (typeof PHASES)[number];
export type NodePhase = Phase | "pending" | "held" | "done";
export type Outcome = "" | "changed" | "rolled_back" | "rollback_failed" | "unknown_state" | "not_changed" | "untouched";
export type RolloutStatus = "running" | "held" | "completed" | "stopped" | "aborted";

/** A rollout in one of these has ended: nothing steps it any more. */
export const FINAL_STATUSES: readonly string[] = ["completed", "stopped", "aborted"];
export const isFinished = (status: string) => FINAL_STATUSES.includes(status);

export interface PhaseRun {
  phase: Phase;
  runId: string;
  status: Status;
  summary: string;
}

export interface NodeState {
  name: string;
  batch: number;
  phase: NodePhase;
  outcome: Outcome;
  factsBefore: Record<string, string>;
  factsAfter: Record<string, string>;
  /** The node's known-good facts when the rollout began (store/rollouts.ts). */
  knownGoodBefore: Record<string, string>;
  snapshot: Record<string, string>;
  holds: Hold[];
  approval: string;
  runs: PhaseRun[];
  gateStatus: Status;
  proofStatus: Status;
  knownGoodAdvanced: boolean;
  note: string;
}

export interface RolloutEvent {
  atMs: number;
  kind: string;
  text: string;
  who: string;
}

export interface RolloutState {
  status: RolloutStatus;
  /** In the order they are changed: batch by batch, primary first. */
  nodes: NodeState[];
  quick: boolean;
  /** Hold rules a person approved: later nodes they hold go on, with the approval recorded. */
  approved: { rule: string; text: string }[];
  /** A node ended other than changed, or an abort: no node starts now; the rollout ends when none is in flight. */
  stopping: string;
  /** Who aborted, and why: the rollout ends aborted rather than stopped. */
  aborted: string;
  events: RolloutEvent[];
  summary: string;
}

export type Input =
  | { type: "start" }
  /** A phase run ended; `lost`: one of its tasks was lost with its node. */
  | { type: "phase_done"; node: string; phase: Phase; runId: string; status: Status; summary: string; lost: boolean; captured: Record<string, string>; holds?: Hold[] }
  /** The shell started the node's phase as this run. */
  | { type: "phase_started"; node: string; phase: Phase; runId: string }
  | { type: "approve"; who: string; reason: string }
  | { type: "abort"; who: string; reason: string };

export type Command =
  | { type: "start_phase"; node: string; phase: Phase }
  | { type: "cancel_run"; runId: string; reason: string }
  | { type: "record_known_good"; node: string; facts: Record<string, string> }
  | { type: "alert"; kind: "rollout_held" | "rollout_rolled_back" | "rollout_unknown_state" | "rollout_stopped"; node: string; summary: string }
  | { type: "resolve_alert"; kind: "rollout_held"; node: string; summary: string }
  | { type: "finished"; status: RolloutStatus; summary: string };

export interface Step {
  state: RolloutState;
  commands: Command[];
}

/** Nodes already in rollout order; `batch` nodes are changed at once. */
export function initialRollout(nodes: string[], batch: number, quick: boolean): RolloutState {
  return {
    status: "running",
    nodes: nodes.map((name, i) => ({
      name,
      batch: Math.floor(i / Math.max(1, batch)) + 1,
      phase: "pending",
      outcome: "",
      factsBefore: {},
      factsAfter: {},
      knownGoodBefore: {},
      snapshot: {},
      holds: [],
      approval: "",
      runs: [],
      gateStatus: Status.UNSPECIFIED,
      proofStatus: Status.UNSPECIFIED,
      knownGoodAdvanced: false,
      note: "",
    })),
    quick,
    approved: [],
    stopping: "",
    aborted: "",
    events: [],
    summary: "",
  };
}

const IN_FLIGHT: readonly NodePhase[] = PHASES;
export const inFlight = (n: NodeState) => (IN_FLIGHT as readonly string[]).includes(n.phase);
/** Phases after which the node may carry the change: losing it there leaves its state unknown. */
const TOUCHED: readonly Phase[] = ["apply", "gate", "rollback", "proof"];

/** A pure step; `at` stamps the events it records. */
export function rolloutStep(prev: RolloutState, input: Input, at: number): Step {
  const state: RolloutState = structuredClone(prev);
  const commands: Command[] = [];
  const log = (kind: string, text: string, who = "") => state.events.push({ atMs: at, kind, text, who });
  if (isFinished(state.status)) return { state: prev, commands };

  const stop = (why: string) => {
    if (!state.stopping) state.stopping = why;
  };
  /** The node ends here with `outcome`; anything but changed stops the rollout. */
  const end = (n: NodeState, outcome: Outcome, note: string) => {
    n.phase = "done";
    n.outcome = outcome;
    n.note = note;
    log("node_done", `${n.name}: ${outcome.replace(/_/g, " ")}${note ? ` (${note})` : ""}`);
    if (outcome !== "changed") stop(`${n.name} ${outcome.replace(/_/g, " ")}`);
  };

  switch (input.type) {
    case "start":
      if (state.events.length) log("resumed", "followed again by a restarted coordinator");
      else log("started", `${state.nodes.length} node(s) in batches: ${batchesText(state)}`);
      break;
    case "phase_started": {
      const n = state.nodes.find((x) => x.name === input.node);
      if (n?.phase === input.phase) n.runs.push({ phase: input.phase, runId: input.runId, status: Status.RUNNING, summary: "" });
      break;
    }
    case "phase_done": {
      const n = state.nodes.find((x) => x.name === input.node);
      // A run the node is not waiting for (a repeat after a restart) decides nothing.
      if (!n || n.phase !== input.phase) break;
      const run = n.runs.find((r) => r.runId && r.runId === input.runId);
      if (run) Object.assign(run, { status: input.status, summary: input.summary });
      // A phase with nothing to run (no facts: steps, no preconditions) leaves no run behind; one
      // that could not start is kept, with why.
      else if (input.runId || !isGreen(input.status)) n.runs.push({ phase: input.phase, runId: input.runId, status: input.status, summary: input.summary });
      phaseDone(state, n, input, { end, log, commands });
      break;
    }
    case "approve": {
      const held = state.nodes.filter((n) => n.phase === "held");
      const text = `approved by ${input.who}: ${input.reason}`;
      for (const n of held) {
        for (const h of n.holds) if (!state.approved.some((a) => a.rule === h.rule)) state.approved.push({ rule: h.rule, text });
        n.approval = text;
        n.phase = "preconditions";
        commands.push({ type: "resolve_alert", kind: "rollout_held", node: n.name, summary: `${n.name} ${text}` });
        commands.push({ type: "start_phase", node: n.name, phase: "preconditions" });
      }
      log("approved", `${held.map((n) => n.name).join(", ")}: ${input.reason}`, input.who);
      state.status = "running";
      break;
    }
    case "abort": {
      log("aborted", input.reason, input.who);
      state.aborted = `aborted by ${input.who}: ${input.reason}`;
      stop(state.aborted);
      // Reading facts or taking a snapshot changes nothing: cut short. A node past that finishes
      // its sequence (rolled back if red): an apply killed half way is the worst state to leave.
      for (const n of state.nodes) {
        const current = n.runs.at(-1);
        if ((n.phase === "facts" || n.phase === "preconditions" || n.phase === "snapshot") && current?.phase === n.phase && current.status === Status.RUNNING) {
          commands.push({ type: "cancel_run", runId: current.runId, reason: `rollout aborted by ${input.who}: ${input.reason}` });
        }
        if (n.phase === "held") {
          commands.push({ type: "resolve_alert", kind: "rollout_held", node: n.name, summary: `${n.name} not approved: the rollout was ${state.aborted}` });
          untouched(n, "held, and the rollout was aborted before approval");
        }
      }
      break;
    }
  }
  schedule(state, commands, log);
  return { state, commands };
}

interface Effects {
  end(n: NodeState, outcome: Outcome, note: string): void;
  log(kind: string, text: string, who?: string): void;
  commands: Command[];
}

function phaseDone(state: RolloutState, n: NodeState, input: Extract<Input, { type: "phase_done" }>, { end, log, commands }: Effects): void {
  const green = !input.lost && isGreen(input.status);
  const what = `${input.phase} ${input.lost ? "lost" : statusName(input.status)}${input.summary ? `: ${input.summary}` : ""}`;
  const next = (phase: Phase) => {
    n.phase = phase;
    commands.push({ type: "start_phase", node: n.name, phase });
  };
  // Lost, its agent killed mid-step (interrupted: the restarted agent never runs it again), or its
  // run cancelled, once the change may be on the node: nobody knows what it runs. Rolling back
  // from there would act on a guess, so a person looks first.
  const cut = input.lost ? "node lost" : input.status === Status.INTERRUPTED ? "its agent was stopped mid-step" : input.status === Status.CANCELLED ? "its run was cancelled" : "";
  if (!green && cut && TOUCHED.includes(input.phase)) {
    if (input.phase === "gate") n.gateStatus = input.lost ? Status.LOST : input.status;
    if (input.phase === "proof") n.proofStatus = input.lost ? Status.LOST : input.status;
    end(n, "unknown_state", `${what}; the node may carry the change half applied: check it by hand (its version, data, services) before resuming work on it`);
    commands.push({ type: "alert", kind: "rollout_unknown_state", node: n.name, summary: `${n.name} is in an unknown state: ${input.phase} did not finish (${cut}); check the node by hand before anything else runs on it` });
    return;
  }
  switch (input.phase) {
    case "facts":
    case "preconditions":
    case "snapshot":
      if (!green) {
        // Not ready is the node's state, not the change's fault: it is left as it is.
        end(n, "not_changed", `${input.status === Status.NOT_READY ? `the gate's preconditions do not hold (${input.summary || "not ready"})` : what}; nothing was applied`);
        if (!state.aborted) commands.push({ type: "alert", kind: "rollout_stopped", node: n.name, summary: `rollout stopped at ${n.name}: ${what}; nothing was applied` });
        return;
      }
      if (input.phase === "snapshot") {
        n.snapshot = input.captured;
        next("apply");
        return;
      }
      if (input.phase === "preconditions") {
        next("snapshot");
        return;
      }
      n.factsBefore = input.captured;
      n.holds = input.holds ?? [];
      {
        const unapproved = n.holds.filter((h) => !state.approved.some((a) => a.rule === h.rule));
        if (unapproved.length) {
          n.phase = "held";
          log("held", `${n.name}: ${unapproved.map((h) => h.reason).join("; ")}`);
          commands.push({ type: "alert", kind: "rollout_held", node: n.name, summary: `${n.name} held: ${unapproved.map((h) => h.reason).join("; ")}; approve with coord rollout resume ID --approve --reason TEXT, or abort` });
          return;
        }
        if (n.holds.length) n.approval = state.approved.find((a) => n.holds.some((h) => h.rule === a.rule))?.text ?? "";
      }
      next("preconditions");
      return;
    case "apply":
    case "gate":
      if (input.phase === "gate") n.gateStatus = input.status;
      if (green) next(input.phase === "apply" ? "gate" : "facts_after");
      else next("rollback");
      return;
    case "facts_after":
      n.factsAfter = input.captured;
      if (green && !state.quick) {
        n.knownGoodAdvanced = true;
        commands.push({ type: "record_known_good", node: n.name, facts: input.captured });
      }
      end(n, "changed", green ? (state.quick ? "quick gate: known-good not advanced" : "") : `gate green, but the facts after it could not be read (${what}); known-good not advanced`);
      return;
    case "rollback":
      if (!green) {
        end(n, "rollback_failed", `${what}; the node runs neither the change nor a proven old version`);
        commands.push({ type: "alert", kind: "rollout_rolled_back", node: n.name, summary: `${n.name}: the change failed and so did its rollback (${what}); the node needs a person` });
        return;
      }
      next("proof");
      return;
    case "proof":
      n.proofStatus = input.status;
      next("facts_rolled_back");
      return;
    case "facts_rolled_back": {
      n.factsAfter = input.captured;
      const proven = isGreen(n.proofStatus);
      const failed = n.runs.find((r) => (r.phase === "apply" || r.phase === "gate") && !isGreen(r.status));
      const cause = failed ? `${failed.phase} ${statusName(failed.status)}${failed.summary ? `: ${failed.summary}` : ""}` : "the change failed";
      if (proven) end(n, "rolled_back", `${cause}; rolled back, gate green again`);
      else end(n, "rollback_failed", `${cause}; rolled back, but the gate is still ${statusName(n.proofStatus)}`);
      commands.push({ type: "alert", kind: "rollout_rolled_back", node: n.name, summary: `${n.name} rolled back: ${cause}; ${proven ? "the gate is green again on the old version" : `the gate is still ${statusName(n.proofStatus)} after the rollback`}` });
      return;
    }
  }
}

/** Starts what may start: the next nodes of the current batch, or ends the rollout. */
function schedule(state: RolloutState, commands: Command[], log: Effects["log"]): void {
  if (state.stopping) {
    if (state.nodes.some(inFlight)) return;
    for (const n of state.nodes) {
      if (n.outcome) continue;
      if (n.phase === "pending") untouched(n, "not reached: the rollout stopped before this node");
      if (n.phase === "held") untouched(n, "held; not approved before the rollout stopped");
    }
    const status: RolloutStatus = state.aborted ? "aborted" : "stopped";
    return finish(state, status, `${state.stopping}; ${outcomeCounts(state)}`, commands, log);
  }
  const open = state.nodes.find((n) => n.phase !== "done");
  if (!open) return finish(state, "completed", outcomeCounts(state), commands, log);
  const batch = open.batch;
  // Earlier batches are all changed (anything else stops the rollout): start this batch's pending nodes.
  for (const n of state.nodes) {
    if (n.batch !== batch || n.phase !== "pending") continue;
    n.phase = "facts";
    commands.push({ type: "start_phase", node: n.name, phase: "facts" });
  }
  state.status = state.nodes.some((n) => n.phase === "held") ? "held" : "running";
}

/** A node the rollout never changed: it keeps the phase it was in (pending, or held). */
function untouched(n: NodeState, note: string): void {
  n.outcome = "untouched";
  n.note = note;
}

function finish(state: RolloutState, status: RolloutStatus, summary: string, commands: Command[], log: Effects["log"]): void {
  state.status = status;
  state.summary = summary;
  log(status, summary);
  commands.push({ type: "finished", status, summary });
}

function outcomeCounts(state: RolloutState): string {
  const counts = new Map<string, number>();
  for (const n of state.nodes) counts.set(n.outcome || n.phase, (counts.get(n.outcome || n.phase) ?? 0) + 1);
  return [...counts].map(([o, c]) => `${c} ${o.replace(/_/g, " ")}`).join(", ");
}

function batchesText(state: RolloutState): string {
  const batches = new Map<number, string[]>();
  for (const n of state.nodes) batches.set(n.batch, [...(batches.get(n.batch) ?? []), n.name]);
  return [...batches.values()].map((b) => b.join("+")).join(" → ");
}
