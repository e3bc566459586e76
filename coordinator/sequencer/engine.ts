// The I/O shell around the pure sequencer: feeds it events (results; nodes online, offline and
// lost, as coordinator/fleet/ decides), applies
// its commands (send a task, persist a status) and publishes progress to watchers. It is the one
// writer of task and run status: each step's statuses are written in one transaction — together
// with the agent event that caused it, for results — before anything is sent or published.
import { EventEmitter } from "node:events";
import { create, toBinary } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { FaultSchema, TaskSchema, type Fault } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { WatchRunResponseSchema, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { parsePlan } from "../../shared/model/plan.js";
import { MAX_GRPC_MESSAGE_BYTES } from "../../shared/model/limits.js";
import { formatSize } from "../../shared/model/sizes.js";
import { runFiles, type RunFiles } from "../store/run-files.js";
import { Status, statusName } from "../../shared/model/status.js";
import { taskLabel } from "../../shared/model/task-names.js";
import type { Db } from "../store/db.js";
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { waiversFor } from "../../shared/model/waivers.js";
import { recordAgentEvents, storedWaiversOn, type CommitOutcome, type NodeEvent } from "../store/agent-events.js";
import { addRunFlag, finishRun, getRun, listRuns, runWaivers, type StoredRun } from "../store/runs.js";
import type { Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { capturesOf, getTask, listTasks, setTaskStatus, type TaskRow } from "../store/tasks.js";
import type { AgentSessions } from "../fleet/sessions.js";
import { missingCaptureMessage, stepCaptures } from "./captures.js";
import { initialState, resumedState, step, taskById, type Liveness, type PlannedStage, type PlannedTask, type SequencerCommand, type SequencerEvent, type SequencerState } from "./core.js";
import { plannedStage } from "./stage-shape.js";
import { judgeStoredWithoutOutput, summaryOfJudged, type JudgedRun } from "../judgement/stored.js";
import { FleetgateError } from "../../shared/errors.js";

/** An agent's event as its stream delivered it, with the node and machine-id the stream registered. */
export type IncomingEvent = NodeEvent;

/** `events` cut after each taskDone, in order. */
function* untilTaskDone(events: readonly IncomingEvent[]): Generator<IncomingEvent[]> {
  let stretch: IncomingEvent[] = [];
  for (const e of events) {
    stretch.push(e);
    if (e.event.body.case === "taskDone") {
      yield stretch;
      stretch = [];
    }
  }
  if (stretch.length) yield stretch;
}

export interface EngineOptions {
  /** Called once a run has finished and its status is stored (the evidence bundle). */
  onFinished?: (runId: string, judged?: JudgedRun) => void;
}

/** A sequencer step whose statuses are written but whose sends and updates are still to do. */
interface Decided {
  runId: string;
  run: ActiveRun;
  state: SequencerState;
  commands: SequencerCommand[];
}

interface ActiveRun {
  state: SequencerState;
  /** Node → the run's waivers in force on it (not expired, selector matching), sent with each task. */
  waivers: (node: string) => Waiver[];
  suites: Record<string, string>;
  /** coord run --var: values over the suites' vars, sent with every task. */
  vars: Record<string, string>;
  /** The files each suite ships (`files:`), sent with each of its tasks. */
  files: RunFiles;
  planPath: string;
  log: Logger;
}

function plannedTask(t: TaskRow): PlannedTask {
  return { id: t.id, stageId: t.stageId, node: t.nodeName, iteration: t.iteration, group: t.group, label: taskLabel(t) };
}

export class RunEngine {
  private readonly active = new Map<string, ActiveRun>();
  /** Progress of every run, for WatchRun; `stopped` when this engine stops following runs (its watches end). */
  readonly updates = new EventEmitter<{ update: [runId: string, update: WatchRunResponse]; stopped: [] }>();

  constructor(
    private readonly db: Db,
    private readonly sessions: AgentSessions,
    private readonly log: Logger,
    private readonly opts: EngineOptions,
  ) {
    this.updates.setMaxListeners(0);
  }

  /**
   * Started and not stopped. A run this engine does not track is finished only while this holds;
   * before start() (a standby) or after stop() (the lead lost) it knows nothing of runs in progress.
   */
  private followingRuns = false;

  /**
   * This engine, when it follows runs; else unreachable, which the CLI retries. A call that passed
   * the standby gate just before this coordinator became a standby reaches the fresh, unstarted
   * parts: their engine tracks no run, so every run would look finished to it (a watch would end
   * at once with a running run's summary) and a run begun there would be resumed again at start().
   */
  requireFollowing(): this {
    if (!this.followingRuns) throw new FleetgateError("unreachable", "this coordinator is not following runs now (starting, or no longer the active one); try again");
    return this;
  }

  /** Resumes runs left running by a previous coordinator process, then follows the roster. */
  start(): void {
    this.sessions.on("online", (node) => this.broadcast({ type: "node_online", node }));
    this.sessions.on("offline", (node) => this.broadcast({ type: "node_offline", node }));
    this.sessions.on("lost", (node, why) => this.broadcast({ type: "node_lost", node, why }));
    // Results from two machines under one name prove nothing: every run touching the node is unsignable.
    this.sessions.on("cloned", (node, why) => this.flagRunsOn(node, `node ${node} is cloned: ${why}`));
    for (const run of listRuns(this.db, 1000, { status: Status.RUNNING })) this.resume(run);
    this.followingRuns = true;
  }

  stop(): void {
    this.followingRuns = false;
    this.active.clear();
    // No more updates will come from here: a watch open on it would wait forever (issue 19: a
    // coordinator that lost the lead goes on serving as a standby; its successor has new engines).
    this.updates.emit("stopped");
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  /** Begins a run whose rows were just inserted. */
  begin(runId: string, stages: PlannedStage[]): void {
    const tasks = listTasks(this.db, runId);
    const state = initialState(stages, tasks.map(plannedTask), this.liveness(tasks));
    this.track(runId, state, getRun(this.db, runId));
    this.apply(runId, { type: "start" });
  }

  /** One event, alone in its transaction: `ingestBatch` of one. */
  ingest(node: string, machineId: string, event: AgentEvent): CommitOutcome {
    return this.ingestBatch([{ node, machineId, event }])[0] as CommitOutcome;
  }

  /**
   * Commits agent events and what they decide in one transaction: each event's row, its check
   * result, and for a finished task the statuses the sequencer sets. A coordinator that dies
   * right after the ack so never comes back to a task still "running" that nobody will finish.
   * Within the batch a run's sequencer state goes from one event's step to the next, and becomes
   * the run's only once the commit returned: a transaction that throws changes no state, sends
   * nothing and publishes nothing. The caller acks only after this returns. One outcome per event,
   * in order.
   */
  ingestBatch(events: readonly IncomingEvent[]): CommitOutcome[] {
    const decided: (Decided | undefined)[] = [];
    const outcomes = this.db.transaction((): CommitOutcome[] => {
      const stepped = new Map<string, SequencerState>();
      // The run's waivers from memory: no run read for each waived result.
      const waiversOn = (runId: string, on: string) => this.active.get(runId)?.waivers(on) ?? storedWaiversOn(this.db)(runId, on);
      const all: CommitOutcome[] = [];
      // Recorded a stretch at a time, each ending at a taskDone: its run steps (and writes the
      // task's status) before the events after it are judged, so they see that status.
      for (const stretch of untilTaskDone(events)) {
        for (const o of recordAgentEvents(this.db, stretch, Date.now(), waiversOn)) {
          if (o.kind === "task_done") decided[all.length] = this.decide(o.task.runId, { type: "task_done", taskId: o.task.id, status: o.status, summary: o.summary }, stepped);
          all.push(o);
        }
      }
      return all;
    })();
    // Every run takes its last state first: a command carried out below (a task that cannot be
    // sent fails at once) steps the run again, from where the whole batch left it.
    for (const d of decided) if (d) d.run.state = d.state;
    outcomes.forEach((outcome, i) => {
      const d = decided[i];
      if (d) this.carryOutCommitted(d);
      if (outcome.kind === "check") {
        const { task, result } = outcome;
        // Watchers follow progress: a check's output tails (hundreds of kB each at most) are the
        // stored run's (GetRun), as a watch's replay leaves them out, not copied into every
        // watcher's backlog with each result.
        const shown = { ...result, stdoutTail: "", stderrTail: "" };
        this.publish(task.runId, { event: { case: "check", value: { taskId: task.id, nodeName: task.nodeName, stageId: task.stageId, iteration: task.iteration, result: shown } } });
      }
    });
    return outcomes;
  }

  cancel(runId: string, reason: string): void {
    this.apply(runId, { type: "cancel", reason });
  }

  private resume(run: StoredRun): void {
    const runId = run.id;
    const plan = parsePlan(run.planYaml, run.planPath);
    const tasks = listTasks(this.db, runId);
    const stages: PlannedStage[] = run.stages.map((id) => {
      const def = plan.stages.find((s) => s.id === id);
      const nodes = new Set(tasks.filter((t) => t.stageId === id).map((t) => t.nodeName)).size;
      return def ? plannedStage(def, nodes) : { id, parallel: 1, stopOnFailure: true };
    });
    const state = resumedState(
      stages,
      tasks.map((t) => ({ ...plannedTask(t), status: t.status, summary: t.summary })),
      this.liveness(tasks),
    );
    this.track(runId, state, run);
    this.log.info({ run: runId }, "resuming run left running by the previous coordinator");
    this.apply(runId, { type: "start" });
  }

  private track(runId: string, state: SequencerState, run: StoredRun | undefined): void {
    // Parsed once a run, matched per node as tasks go out and waived results come in.
    const all = run ? runWaivers(run) : [];
    const roleOf = (node: string) => run?.nodes.find((n) => n.name === node)?.labels.role ?? "";
    this.active.set(runId, { state, waivers: (node) => waiversFor(all, { node, role: roleOf(node) }), suites: run?.suites ?? {}, vars: run?.options.vars ?? {}, files: runFiles(this.db, runId), planPath: run?.planPath ?? "", log: this.log.child({ run: runId }) });
  }

  /** Who of the run's nodes is away or lost now; the fleet starts the clock of any not seen yet. */
  private liveness(tasks: TaskRow[]): Liveness {
    const now = Date.now();
    const out: Liveness = { offline: [], lost: {} };
    for (const node of new Set(tasks.map((t) => t.nodeName))) {
      const state = this.sessions.awaitNode(node, now);
      if (state === "online") continue;
      out.offline.push(node);
      if (state === "lost") out.lost[node] = this.sessions.lostReason(node, now) ?? `node ${node} lost`;
    }
    return out;
  }

  private flagRunsOn(node: string, flag: string): void {
    for (const [runId, run] of this.active) {
      if (!run.state.tasks.some((t) => t.node === node)) continue;
      try {
        addRunFlag(this.db, runId, flag);
      } catch (err) {
        run.log.error({ node, err }, "could not mark the run not valid for sign-off");
      }
      run.log.warn({ node }, flag);
    }
  }

  private broadcast(event: SequencerEvent): void {
    for (const runId of [...this.active.keys()]) this.applyOrResync(runId, event);
  }

  /**
   * A fleet event whose outcome could not be written (a full disk) leaves the run's state as it
   * was; rather than replay events out of order, the run is brought up to date with the fleet's
   * view of its nodes once writing works again.
   */
  private applyOrResync(runId: string, event: SequencerEvent): void {
    try {
      this.apply(runId, event);
    } catch (err) {
      this.log.error({ run: runId, event: event.type, err }, "could not store what a fleet event decided; catching up with the fleet in 1 s");
      setTimeout(() => this.resync(runId), 1_000).unref();
    }
  }

  private resync(runId: string): void {
    const run = this.active.get(runId);
    if (!run) return;
    for (const node of new Set(run.state.tasks.map((t) => t.node))) {
      const live = this.sessions.awaitNode(node);
      this.applyOrResync(runId, live === "online" ? { type: "node_online", node } : { type: "node_offline", node });
      const why = live === "lost" ? this.sessions.lostReason(node) : undefined;
      if (why) this.applyOrResync(runId, { type: "node_lost", node, why });
    }
  }

  private apply(runId: string, event: SequencerEvent): void {
    const decided = this.db.transaction(() => this.decide(runId, event))();
    if (decided) this.carryOut(decided);
  }

  /**
   * Steps the sequencer and writes the statuses it sets; the caller's transaction holds both.
   * `stepped`: the states this transaction already stepped runs to (a batch), stepped on from there.
   */
  private decide(runId: string, event: SequencerEvent, stepped?: Map<string, SequencerState>): Decided | undefined {
    const run = this.active.get(runId);
    if (!run) return undefined;
    const { state, commands } = step(stepped?.get(runId) ?? run.state, event);
    for (const cmd of commands) {
      if (cmd.type === "task_status") setTaskStatus(this.db, cmd.taskId, cmd.status, cmd.summary);
      else if (cmd.type === "run_finished") finishRun(this.db, runId, cmd.status);
    }
    stepped?.set(runId, state);
    return { runId, run, state, commands };
  }

  /**
   * The commands of a committed batch's step. The events are in the store and are acked whatever
   * happens here (sent again, they would be repeats and decide nothing); a command that fails (a
   * task failed at once whose status cannot be written) leaves the run to catch up with the
   * fleet, which sends its running tasks again, as after a failed fleet event.
   */
  private carryOutCommitted({ runId, run, commands }: Decided): void {
    try {
      for (const cmd of commands) this.execute(runId, run, cmd);
    } catch (err) {
      run.log.error({ err }, "could not carry out what a committed result decided; catching up with the fleet in 1 s");
      setTimeout(() => this.resync(runId), 1_000).unref();
    }
  }

  /** After the commit: the new state becomes the run's, then tasks are sent and watchers told. */
  private carryOut({ runId, run, state, commands }: Decided): void {
    run.state = state;
    for (const cmd of commands) this.execute(runId, run, cmd);
  }

  private execute(runId: string, run: ActiveRun, cmd: SequencerCommand): void {
    switch (cmd.type) {
      case "dispatch": {
        // Decided by an earlier event of a batch, and no longer running after a later step of it
        // (a task failed at once may have stopped the stage): not sent.
        if (taskById(run.state, cmd.taskId)?.status !== Status.RUNNING) return;
        const task = getTask(this.db, cmd.taskId);
        if (!task) return;
        const fault = task.fault ? this.faultFor(task) : undefined;
        if (typeof fault === "string") {
          this.apply(runId, { type: "task_done", taskId: task.id, status: Status.ERROR, summary: fault });
          return;
        }
        const { captures, missing } = this.capturesFor(task);
        if (missing.length) {
          // The step cannot mean what it says without the value: fail it here, with the reason.
          this.apply(runId, { type: "task_done", taskId: task.id, status: Status.FAILED, summary: missingCaptureMessage(missing) });
          return;
        }
        const message = create(TaskSchema, {
          taskId: task.id,
          runId,
          stageId: task.stageId,
          iteration: task.iteration,
          suiteYaml: task.specYaml || (run.suites[task.suitePath] ?? ""),
          // A generated step names where it came from, so errors point at the plan.
          suitePath: task.specYaml ? `${run.planPath}#${task.stageId}/${task.stepId}` : task.suitePath,
          allowDestructive: task.allowDestructive,
          captures,
          onlyTags: task.onlyTags,
          onlyChecks: task.onlyChecks,
          waivers: run.waivers(task.nodeName),
          vars: run.vars,
          probesYaml: task.probesYaml,
          fault,
          // A generated step or leg is the plan's, not a suite's: it ships nothing.
          files: task.specYaml ? [] : (run.files[task.suitePath] ?? []),
        });
        // Suites and their files are bounded so a task fits (shared/model/limits.ts); captures are
        // not, so the size is checked here: an error with the reason beats a stream the agent drops.
        // (plus the few bytes of the ConnectResponse around it)
        const bytes = toBinary(TaskSchema, message).length + 16;
        if (bytes > MAX_GRPC_MESSAGE_BYTES) {
          this.apply(runId, { type: "task_done", taskId: task.id, status: Status.ERROR, summary: `task not sent: ${formatSize(bytes)}, more than the ${formatSize(MAX_GRPC_MESSAGE_BYTES)} one gRPC message may carry (suite ${task.suitePath || task.stepId}, its files and captured values)` });
          return;
        }
        const sent = this.sessions.send(task.nodeName, message);
        run.log.info({ node: task.nodeName, stage: task.stageId, iteration: task.iteration, sent }, sent ? "task sent" : "node offline; task waits for it");
        if (!sent) {
          this.sessions.awaitNode(task.nodeName);
          this.apply(runId, { type: "node_offline", node: task.nodeName });
        }
        return;
      }
      case "stop":
        // An agent not connected now cannot be told: it finishes the task, and its results find
        // the task cancelled and change nothing.
        this.sessions.sendCancel(cmd.node, cmd.taskId);
        return;
      case "task_status": {
        const task = getTask(this.db, cmd.taskId);
        if (!task) return;
        this.publish(runId, {
          event: {
            case: "task",
            value: {
              taskId: task.id,
              stageId: task.stageId,
              nodeName: task.nodeName,
              iteration: task.iteration,
              status: cmd.status,
              summary: cmd.summary,
              stageKind: task.stageKind,
              stepId: task.stepId,
              role: task.role,
            },
          },
        });
        return;
      }
      case "run_finished": {
        this.active.delete(runId);
        run.log.info({ status: statusName(cmd.status) }, `run finished: ${cmd.summary}`);
        // The summary, not the record: a run's record can exceed any message size limit.
        const judged = judgeStoredWithoutOutput(this.db, runId);
        if (judged) this.publish(runId, { event: { case: "finished", value: summaryOfJudged(this.db, judged) } });
        // After the watchers heard: writing the evidence bundle must not delay the verdict.
        this.opts.onFinished?.(runId, judged);
        return;
      }
    }
  }

  /**
   * A fault step as the agent takes it. A partition needs the peer's address, which is where its
   * stream comes from: a peer not connected now cannot be cut off, and that is an error, not a pass.
   */
  private faultFor(task: TaskRow): Fault | string {
    const spec = task.fault;
    if (!spec || "killAgent" in spec) return create(FaultSchema, { kind: { case: "killAgent", value: true } });
    const { peerRole, peerNode, forMs } = spec.partition;
    const address = this.sessions.addressOf(peerNode);
    if (!address) return `cannot partition from ${peerRole} (${peerNode}): it is not connected, so its address is unknown`;
    return create(FaultSchema, { kind: { case: "partition", value: { addresses: [address], forMs: BigInt(forMs), peer: `${peerRole} (${peerNode})` } } });
  }

  /** Cross steps: values earlier steps of the stage captured, and any the step needs but lacks. */
  private capturesFor(task: TaskRow): { captures: Record<string, string>; missing: string[] } {
    if (task.stageKind !== "cross") return { captures: {}, missing: [] };
    const stage = listTasks(this.db, task.runId).filter((t) => t.stageId === task.stageId);
    const done = capturesOf(this.db, stage.filter((t) => t.group < task.group).map((t) => t.id));
    const earlier = stage.filter((t) => done.has(t.id)).map((t) => ({ role: t.role, group: t.group, captured: done.get(t.id) ?? {} }));
    return stepCaptures(task.specYaml, task.group, [...new Set(stage.map((t) => t.role))], earlier);
  }

  private publish(runId: string, init: Parameters<typeof create<typeof WatchRunResponseSchema>>[1]): void {
    this.updates.emit("update", runId, create(WatchRunResponseSchema, init));
  }
}
