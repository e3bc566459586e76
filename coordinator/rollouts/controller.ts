// The I/O shell around the rollout state machine (core.ts): starts each phase as a run through
// StartRun's one path, hears when phase runs finish (the engine's onFinished), stores the state
// after every step before carrying out its commands, and raises the rollout's alerts. Inputs are
// queued and stepped one at a time: a command (starting or cancelling a run) can finish a run at
// once, and that must not step a rollout from inside its own step.
import type { StartRolloutRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logging.js";
import { parseChange, type Change } from "../../shared/model/change.js";
import { parsePlan, type Plan } from "../../shared/model/plan.js";
import { isTerminal, Status } from "../../shared/model/status.js";
import type { AlertSink } from "../alerts/alerts.js";
import { matchesSelector } from "../../shared/labels.js";
import { nodeLabels, listNodes } from "../store/nodes.js";
import { getRun, runsOfOrigin } from "../store/runs.js";
import { capturesOf, listTasks } from "../store/tasks.js";
import { getRollout, insertRollout, knownGoodFacts, listRollouts, recordKnownGoodFacts, saveRolloutState, type StoredRollout } from "../store/rollouts.js";
import { newRunId, rosterOf, startRun, type StartRunDeps } from "../runs/start-run.js";
import { resolveStartRun, DRY_RUN_ID } from "../runs/run-request.js";
import { initialRollout, inFlight, isFinished, rolloutStep, PHASES, type Command, type Input, type Phase, type RolloutState } from "./core.js";
import { holdsFor } from "./holds.js";
import { emptyGateProblem, phaseRunRequest } from "./phase-runs.js";
import { dryRunSequence } from "./sequence.js";

export interface RolloutDeps {
  start: StartRunDeps;
  alerts: AlertSink;
  log: Logger;
  now?: () => number;
}

interface Active {
  stored: StoredRollout;
  change: Change;
  plan: Plan;
}

/** What a rollout is asked to do, parsed and checked: the nodes in order, and why others are not in it. */
export interface DecidedRollout {
  change: Change;
  plan: Plan;
  nodes: string[];
  notes: string[];
}

export class RolloutController {
  private readonly active = new Map<string, Active>();
  /** Phase run → the rollout and node it carries out. */
  private readonly byRun = new Map<string, { rolloutId: string; node: string; phase: Phase }>();
  private readonly queue: { rolloutId: string; input: Input }[] = [];
  /** Commands of a stored step (or of a resume), carried out in order before the next input. */
  private readonly pending: { rolloutId: string; a: Active; cmd: Command }[] = [];
  private draining = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly deps: RolloutDeps) {
    this.now = deps.now ?? Date.now;
  }

  private get db() {
    return this.deps.start.db;
  }

  /** Follows rollouts a previous coordinator process left unfinished. */
  start(): void {
    for (const stored of listRollouts(this.db, 1000, { unfinished: true })) {
      try {
        this.track(stored);
        this.resume(stored);
      } catch (err) {
        this.deps.log.error({ rollout: stored.id, err }, "could not resume the rollout");
      }
    }
  }

  /** Parses the change and the gate plan, picks the nodes; throws what a person must fix. */
  decide(req: StartRolloutRequest): DecidedRollout {
    if (!req.changeYaml) throw new FleetgateError("bad_input", "no change file: give --change FILE");
    const change = parseChange(req.changeYaml, req.changePath || "change.yaml");
    const plan = parsePlan(req.planYaml, req.planPath || "plan.yaml");
    const empty = emptyGateProblem(change, plan, req.suites, req.quick);
    if (empty) throw new FleetgateError("bad_input", empty);
    const roster = listNodes(this.db);
    const notes: string[] = [];
    const selector = Object.entries(req.selector);
    const unknown = req.nodeNames.filter((name) => !roster.some((n) => n.identity.name === name));
    if (unknown.length) throw new FleetgateError("not_found", `no registered node named ${unknown.join(", ")}; see: coord nodes`);
    const picked = roster.filter((n) => {
      const name = n.identity.name;
      if (req.nodeNames.length && !req.nodeNames.includes(name)) return false;
      const labels = nodeLabels(n);
      if (!matchesSelector(labels, req.selector)) return false;
      // As in runs: a dev node takes part only when asked for, by name or by its role.
      if (labels.role === "dev" && !req.nodeNames.includes(name) && req.selector.role !== "dev") {
        notes.push(`${name} left out: role=dev (name it with --node ${name}, or select --nodes role=dev)`);
        return false;
      }
      if (n.drain) {
        notes.push(`${name} left out: drained (${n.drain.reason})`);
        return false;
      }
      return true;
    });
    if (!picked.length) throw new FleetgateError("bad_input", `no node to roll out to: ${req.nodeNames.length ? `--node ${req.nodeNames.join(", ")}` : ""}${selector.length ? ` --nodes ${selector.map(([k, v]) => `${k}=${v}`).join(",")}` : ""} matches none of the ${roster.length} registered (and undrained) nodes`);
    const offline = picked.filter((n) => !this.deps.start.sessions.isOnline(n.identity.name)).map((n) => n.identity.name);
    if (offline.length) throw new FleetgateError("conflict", `node(s) ${offline.join(", ")} not connected: a rollout starts only on nodes it can reach; bring them back, or leave them out with --node`);
    for (const [id, a] of this.active) {
      const busy = a.stored.state.nodes.filter((n) => n.phase !== "done" && picked.some((p) => p.identity.name === n.name)).map((n) => n.name);
      if (busy.length) throw new FleetgateError("conflict", `rollout ${id} (change ${a.change.name}) is still going on ${busy.join(", ")}: one rollout at a time per node; wait for it, or coord rollout abort ${id}`);
    }
    // Primary first (the cc-ci seed upgrades the node everything else depends on first), then by name.
    const rank = (n: (typeof picked)[number]) => (nodeLabels(n).role === "primary" ? 0 : 1);
    const nodes = picked.sort((a, b) => rank(a) - rank(b) || a.identity.name.localeCompare(b.identity.name)).map((n) => n.identity.name);
    // Every phase's run, resolved as StartRun would resolve it (suites, bindings): a change that
    // cannot run is refused now, not halfway through the fleet.
    const probe = initialRollout(nodes.slice(0, 1), 1, req.quick).nodes[0]!;
    for (const phase of PHASES) {
      const run = phaseRunRequest(req, change, plan, phase, probe);
      if (run) resolveStartRun(run, rosterOf(roster, this.deps.start.sessions), DRY_RUN_ID);
    }
    return { change, plan, nodes, notes };
  }

  /** Stores the rollout and starts its first batch; returns it as it stands once started. */
  begin(req: StartRolloutRequest, who: string): { stored: StoredRollout; decided: DecidedRollout } {
    const decided = this.decide(req);
    const id = `ro-${newRunId(new Date(this.now()))}`;
    const state = initialRollout(decided.nodes, req.batch || 1, req.quick);
    for (const n of state.nodes) n.knownGoodBefore = knownGoodFacts(this.db, n.name);
    const stored: StoredRollout = { id, changeName: decided.change.name, planName: decided.plan.name, createdAt: this.now(), startedBy: who, request: req, state };
    insertRollout(this.db, stored);
    this.active.set(id, { stored, change: decided.change, plan: decided.plan });
    this.deps.log.info({ rollout: id, change: decided.change.name, nodes: decided.nodes }, "rollout started");
    this.enqueue(id, { type: "start" });
    return { stored, decided };
  }

  /** The dry run: the whole sequence, nothing stored, nothing started. */
  dryRun(req: StartRolloutRequest): { decided: DecidedRollout; sequence: string[]; state: RolloutState } {
    const decided = this.decide(req);
    const state = initialRollout(decided.nodes, req.batch || 1, req.quick);
    return { decided, state, sequence: dryRunSequence(decided.change, decided.plan, state, req.quick, req.suites) };
  }

  approve(id: string, who: string, reason: string): StoredRollout {
    const a = this.activeOrRefuse(id);
    if (!a.stored.state.nodes.some((n) => n.phase === "held")) throw new FleetgateError("conflict", `rollout ${id} holds no node (status ${a.stored.state.status}); nothing to approve`);
    this.enqueue(id, { type: "approve", who, reason });
    return a.stored;
  }

  abort(id: string, who: string, reason: string): StoredRollout {
    const a = this.activeOrRefuse(id);
    this.enqueue(id, { type: "abort", who, reason });
    return a.stored;
  }

  /**
   * Stops following: nothing is stepped or started after this (coord serve is closing the store).
   * The rollouts stay as stored, and the next start follows them again.
   */
  stop(): void {
    this.stopped = true;
    this.active.clear();
    this.byRun.clear();
    this.queue.length = 0;
    this.pending.length = 0;
  }

  /** The engine finished a run: a phase run's end steps its rollout. */
  runFinished(runId: string): void {
    const phase = this.byRun.get(runId);
    if (!phase || this.stopped) return;
    this.byRun.delete(runId);
    try {
      this.enqueue(phase.rolloutId, this.phaseDone(phase.rolloutId, phase.node, phase.phase, runId));
    } catch (err) {
      // Its state is as stored: a restarted coordinator finds the finished run and steps on from it.
      this.deps.log.error({ rollout: phase.rolloutId, run: runId, err }, "could not step the rollout after its phase run ended; a restart of the coordinator takes it up again");
    }
  }

  private activeOrRefuse(id: string): Active {
    const a = this.active.get(id);
    if (a) return a;
    const stored = getRollout(this.db, id);
    if (!stored) throw new FleetgateError("not_found", `no rollout ${id}; see: coord rollouts`);
    throw new FleetgateError("conflict", `rollout ${id} is ${stored.state.status}; it can no longer be changed`);
  }

  private track(stored: StoredRollout): void {
    const change = parseChange(stored.request.changeYaml, stored.request.changePath || "change.yaml");
    const plan = parsePlan(stored.request.planYaml, stored.request.planPath || "plan.yaml");
    this.active.set(stored.id, { stored, change, plan });
  }

  /**
   * After a restart: each node in a phase waits for that phase's run. A run that finished while
   * no coordinator listened is fed now; one started but never recorded (a stop between the two)
   * is found by its origin and adopted; only a phase with no run at all is started again.
   */
  private resume(stored: StoredRollout): void {
    this.deps.log.info({ rollout: stored.id }, "resuming rollout left unfinished by the previous coordinator");
    for (const n of stored.state.nodes) {
      if (!inFlight(n)) continue;
      const phase = n.phase as Phase;
      const runId = runsOfOrigin(this.db, { rollout: stored.id, node: n.name, phase }).at(-1);
      if (!runId) {
        this.enqueueCommand(stored.id, { type: "start_phase", node: n.name, phase });
        continue;
      }
      if (!n.runs.some((r) => r.runId === runId)) this.enqueue(stored.id, { type: "phase_started", node: n.name, phase, runId });
      this.byRun.set(runId, { rolloutId: stored.id, node: n.name, phase });
      const run = getRun(this.db, runId);
      if (run && isTerminal(run.status)) this.runFinished(runId);
    }
    this.enqueue(stored.id, { type: "start" });
  }

  /** A finished phase run as the state machine takes it: status, lost or not, what it captured. */
  private phaseDone(rolloutId: string, node: string, phase: Phase, runId: string): Input {
    const run = getRun(this.db, runId);
    const tasks = listTasks(this.db, runId);
    const captured: Record<string, string> = {};
    for (const values of capturesOf(this.db, tasks.map((t) => t.id)).values()) Object.assign(captured, values);
    // A task its agent was stopped in the middle of says more than the run's folded status.
    const status = tasks.some((t) => t.status === Status.INTERRUPTED) ? Status.INTERRUPTED : (run?.status ?? Status.ERROR);
    const failed = tasks.find((t) => t.status !== Status.PASSED && t.status !== Status.WAIVED && t.status !== Status.SKIPPED) ?? tasks.find((t) => t.status !== Status.PASSED);
    const summary = isTerminal(status) && status !== Status.PASSED && failed ? `${failed.stepId || failed.stageId}: ${failed.summary || "no summary"}` : "";
    const a = this.active.get(rolloutId);
    const holds = phase === "facts" && a ? holdsFor(a.change, captured) : undefined;
    return { type: "phase_done", node, phase, runId, status, summary, lost: tasks.some((t) => t.status === Status.LOST), captured, holds };
  }

  private enqueue(rolloutId: string, input: Input): void {
    this.queue.push({ rolloutId, input });
    this.drain();
  }

  /** A command with no step before it (resume): carried out through the queue, in order. */
  private enqueueCommand(rolloutId: string, cmd: Command): void {
    const a = this.active.get(rolloutId);
    if (a) this.pending.push({ rolloutId, a, cmd });
    this.drain();
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        const cmd = this.pending.shift();
        if (cmd) {
          this.carryOut(cmd.a, cmd.cmd);
          continue;
        }
        const next = this.queue.shift();
        if (!next) break;
        const a = this.active.get(next.rolloutId);
        if (!a) continue;
        const { state, commands } = rolloutStep(a.stored.state, next.input, this.now());
        if (state === a.stored.state) continue;
        // Stored before anything is carried out: a restart finds the phase it was about to start.
        const now = this.now();
        saveRolloutState(this.db, a.stored.id, state, now);
        a.stored.state = state;
        if (isFinished(state.status)) a.stored.finishedAt = now;
        for (const cmd of commands) this.pending.push({ rolloutId: next.rolloutId, a, cmd });
        if (isFinished(state.status)) this.active.delete(next.rolloutId);
      }
    } finally {
      this.draining = false;
    }
  }

  private carryOut(a: Active, cmd: Command): void {
    const id = a.stored.id;
    const subject = (node: string) => `${id}/${node}`;
    try {
      switch (cmd.type) {
        case "start_phase":
          return this.startPhase(a, cmd.node, cmd.phase);
        case "cancel_run":
          this.deps.start.engine.cancel(cmd.runId, cmd.reason);
          return;
        case "record_known_good":
          recordKnownGoodFacts(this.db, cmd.node, cmd.facts, { rolloutId: id, change: a.change.name, at: this.now() });
          return;
        case "alert":
          this.deps.alerts.raise({ kind: cmd.kind, subject: subject(cmd.node), summary: cmd.summary.replace("coord rollout resume ID", `coord rollout resume ${id}`), details: { rollout: id, node: cmd.node, change: a.change.name } });
          return;
        case "resolve_alert":
          this.deps.alerts.resolve(cmd.kind, subject(cmd.node), `rollout ${id}: ${cmd.summary}`);
          return;
        case "finished":
          this.deps.log.info({ rollout: id, status: cmd.status }, `rollout ${cmd.summary}`);
          return;
      }
    } catch (err) {
      this.deps.log.error({ rollout: id, command: cmd.type, err }, "could not carry out a rollout step");
      if (cmd.type === "start_phase") this.queue.push({ rolloutId: id, input: { type: "phase_done", node: cmd.node, phase: cmd.phase, runId: "", status: Status.ERROR, summary: `the phase could not start: ${err instanceof Error ? err.message : String(err)}`, lost: false, captured: {} } });
    }
  }

  private startPhase(a: Active, node: string, phase: Phase): void {
    const n = a.stored.state.nodes.find((x) => x.name === node);
    if (!n) return;
    const req = phaseRunRequest(a.stored.request, a.change, a.plan, phase, n);
    if (!req) {
      // Nothing to run (no facts: steps): the phase is green with nothing captured.
      const input: Input = { type: "phase_done", node, phase, runId: "", status: Status.PASSED, summary: "", lost: false, captured: {} };
      if (phase === "facts") input.holds = holdsFor(a.change, {});
      this.queue.push({ rolloutId: a.stored.id, input });
      return;
    }
    const { runId } = startRun(this.deps.start, req, { rollout: a.stored.id, node, phase });
    this.byRun.set(runId, { rolloutId: a.stored.id, node, phase });
    this.queue.push({ rolloutId: a.stored.id, input: { type: "phase_started", node, phase, runId } });
    // A run can end while it starts (every task refused at once): the engine has told nobody yet.
    const run = getRun(this.db, runId);
    if (run && isTerminal(run.status)) this.runFinished(runId);
  }
}
