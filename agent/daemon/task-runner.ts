// Runs the tasks the coordinator sends, one at a time: one task per node is the rule that keeps
// a loaded node's CPU and sshd usable (seed 002), and makes a node's iterations strictly ordered.
import type { Logger } from "pino";
import type { Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { CheckResult, Origin } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import { parseSuite } from "../../shared/model/suite.js";
import { withVars } from "../../shared/model/suite-vars.js";
import { Status, statusName } from "../../shared/model/status.js";
import { runSuite } from "../engine/run-suite.js";
import { createWorkDir, removeWorkDir } from "../engine/work-dir.js";
import { otherUsers, suiteUsers } from "../run-as/resolve.js";
import { killRunningChecks } from "../process.js";
import type { Spool } from "./spool.js";
import { fitForSpool } from "./event-size.js";
import { partition } from "./faults.js";
import { onTaskReceived, type TaskJournal } from "./task-journal.js";
import { captureScope, checkSelector } from "./task-options.js";

export interface TaskRunnerOptions {
  /** Take fault steps (partitions, kill_agent): test networks only. */
  allowFaults: boolean;
  /** Resolves once every spooled event is acknowledged, or after a bounded wait. */
  drained: () => Promise<void>;
  /** Where a task is recorded before its first check, so an agent restarted mid-task never runs it again. */
  journal: TaskJournal;
  /** CPU and memory limits of every check's processes, unless the check sets its own. */
  limits?: ProcessLimits;
  /** Where each task gets its work dir (agent/engine/work-dir.ts): the state dir's work/. */
  workRoot: string;
  /** This node's name, for messages about it ("user 'x' does not exist on node-a"). */
  nodeName?: string;
  /** At most this many checks of a task at once (--concurrency); results are still reported in the suite's order. */
  concurrency?: number;
  /** Told of each check result as it is spooled (the daemon's metrics, --metrics-listen). */
  onCheckResult?: (result: CheckResult) => void;
}

/** The task running now; `cancelled` is the summary it ends with once stopped. */
interface RunningTask {
  taskId: string;
  cancelled?: string;
}

export class TaskRunner {
  private readonly queue: Task[] = [];
  private readonly seen = new Set<string>();
  /** Settles when the queue has run out; undefined while no task runs. */
  private draining: Promise<void> | undefined;
  /** The agent is stopping: no task starts any more. */
  private stopping = false;
  /** One at a time. */
  private running: RunningTask | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly origin: Origin,
    private readonly onEvent: () => void,
    private readonly log: Logger,
    private readonly opts: TaskRunnerOptions,
  ) {}

  /**
   * Tasks re-sent after a reconnect are recognised by id and not run twice: in this process by
   * `seen`, across a restart by the journal (a task it shows started and not finished reports
   * interrupted, never runs again).
   */
  submit(task: Task): void {
    const log = this.log.child({ run: task.runId, stage: task.stageId, task: task.taskId });
    if (this.stopping) {
      log.info("agent stopping: task not started; the coordinator sends it again when the agent is back");
      return;
    }
    if (this.seen.has(task.taskId)) {
      log.debug("task already accepted; ignoring repeat");
      return;
    }
    this.seen.add(task.taskId);
    const received = onTaskReceived(this.opts.journal.entry(task.taskId), this.doneSpooled(task.taskId));
    if (received.action === "repeat") {
      log.info(received.why);
      return;
    }
    if (received.action === "interrupted") {
      this.finish(task, Status.INTERRUPTED, received.summary, log);
      return;
    }
    this.queue.push(task);
    this.drain();
  }

  /**
   * The agent is stopping: queued tasks are dropped (never started, never journalled, so the
   * restarted agent runs them when the coordinator re-sends them) and no new task is taken.
   * Returns the ids dropped.
   */
  stopTaking(): string[] {
    this.stopping = true;
    return this.queue.splice(0).map((t) => t.taskId);
  }

  runningTask(): string | undefined {
    return this.running?.taskId;
  }

  /** Resolves once no task runs: the one running now, if any, has reported its end. */
  idle(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  /**
   * Stops the running task: no further check starts, its check processes are killed, and it
   * reports cancelled with `summary`. Returns how many check process groups were killed.
   */
  stopRunning(summary: string): number | undefined {
    if (!this.running) return undefined;
    this.running.cancelled = summary;
    return killRunningChecks();
  }

  private doneSpooled(taskId: string): boolean {
    return this.spool.hasTaskDone(taskId);
  }

  /**
   * The coordinator cancelled the task's run: a queued task is dropped; a running one starts no
   * further check and its processes are killed, and it still reports done (cancelled), so the
   * spool and the coordinator agree it is over.
   */
  cancel(taskId: string): void {
    const queued = this.queue.findIndex((t) => t.taskId === taskId);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.log.info({ task: taskId }, "task cancelled before it started");
      return;
    }
    if (this.running?.taskId !== taskId) return;
    const killed = this.stopRunning("cancelled by the coordinator");
    this.log.info({ task: taskId, killed }, "task cancelled; its running checks killed");
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = this.runQueue().finally(() => (this.draining = undefined));
  }

  private async runQueue(): Promise<void> {
    for (let task = this.queue.shift(); task; task = this.queue.shift()) await this.execute(task);
  }

  private async execute(task: Task): Promise<void> {
    const log = this.log.child({ run: task.runId, stage: task.stageId, task: task.taskId });
    // A node that cannot record results (spool unwritable or full) says so at once, as the task's
    // end, instead of running checks whose results would be lost; the run goes on without waiting.
    const refusal = this.spool.refusal();
    if (refusal) {
      this.finish(task, Status.ERROR, refusal, log);
      return;
    }
    try {
      this.opts.journal.started(task.taskId);
    } catch (err) {
      // Unrecorded, a restart could run it twice: better not to run it at all.
      this.finish(task, Status.ERROR, `task not started: ${err instanceof Error ? err.message : String(err)}`, log);
      return;
    }
    const running: RunningTask = { taskId: task.taskId };
    this.running = running;
    try {
      await this.executeRunning(task, running, log);
    } finally {
      this.running = undefined;
    }
  }

  private async executeRunning(task: Task, running: RunningTask, log: Logger): Promise<void> {
    log.info({ iteration: task.iteration, suite: task.suitePath }, "task started");
    let status: Status;
    let summary: string;
    const report = (result: CheckResult) => {
      this.spool.append(fitForSpool({ origin: this.origin, body: { case: "check", value: { taskId: task.taskId, result } } }));
      log.info({ check: result.checkId, status: statusName(result.status) }, result.summary);
      this.opts.onCheckResult?.(result);
      this.onEvent();
    };
    if (task.fault) {
      await this.applyFault(task, log);
      return;
    }
    let workDir: string | undefined;
    try {
      // coord run --var: over the vars this suite declares; the others are for other suites of the plan.
      const suite = withVars(parseSuite(task.suiteYaml, task.suitePath), { vars: task.vars, secretVars: [] }, false);
      const stopped = () => running.cancelled !== undefined;
      const probes = task.probesYaml ? [parseSuite(task.probesYaml, `${task.suitePath || task.stageId} (probes)`)] : [];
      workDir = await this.workDir(task, suiteUsers([suite, ...probes]));
      const unmet = task.probesYaml ? await this.runProbes(task, report, stopped, workDir) : undefined;
      if (unmet) {
        status = Status.SKIPPED;
        summary = unmet;
      } else {
        const outcome = await runSuite(suite, {
          allowDestructive: task.allowDestructive,
          env: process.env,
          scope: captureScope(task.captures),
          select: checkSelector(task.onlyTags, task.onlyChecks),
          limits: this.opts.limits,
          concurrency: this.opts.concurrency,
          stopped,
          // The coordinator sends only the waivers in force on this node for this run.
          waivers: task.waivers,
          onResult: report,
          // Relative paths and cwd: resolve in the task's work dir, among the files its suite shipped.
          check: { baseDir: workDir, nodeName: this.opts.nodeName },
        });
        status = outcome.status;
        summary = outcome.summary;
      }
      // Whatever the checks came to, a killed check is no verdict on the node.
      if (running.cancelled !== undefined) {
        status = Status.CANCELLED;
        summary = running.cancelled;
      }
    } catch (err) {
      // A suite that does not parse or expand is the gate's input breaking, not the node failing.
      status = Status.ERROR;
      summary = err instanceof Error ? err.message : String(err);
    } finally {
      if (workDir) this.removeWorkDir(workDir, log);
    }
    this.finish(task, status, summary, log);
  }

  /** A fresh work dir for the task, with the files its suite shipped, reachable by the users its checks run as; one a task, never shared. */
  private async workDir(task: Task, users: string[]): Promise<string> {
    const others = users.length ? await otherUsers(users) : [];
    try {
      return createWorkDir(this.opts.workRoot, task.suitePath, task.files, others);
    } catch (err) {
      throw new Error(`could not unpack the files suite ${task.suitePath} ships into a work dir under ${this.opts.workRoot}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private removeWorkDir(dir: string, log: Logger): void {
    try {
      removeWorkDir(dir);
    } catch (err) {
      // Left behind, it is removed when the agent next starts.
      log.warn({ err, dir }, "could not remove the task's work dir");
    }
  }

  /** Spooled first, journalled second: a crash between the two still finds the done event (onTaskReceived). */
  private finish(task: Task, status: Status, summary: string, log: Logger): void {
    this.spool.append(fitForSpool({ origin: this.origin, body: { case: "taskDone", value: { taskId: task.taskId, status, summary } } }));
    log.info({ status: statusName(status) }, summary);
    this.spool.sync();
    try {
      this.opts.journal.finished(task.taskId);
    } catch (err) {
      log.error({ err }, "task finished but its end could not be journalled; its done event is spooled, so a re-send is still known as a repeat");
    }
    this.onEvent();
  }

  /** A fault step: applied here, reported as the step's result; kill_agent reports, then dies. */
  private async applyFault(task: Task, log: Logger): Promise<void> {
    const kind = task.fault?.kind;
    if (!this.opts.allowFaults) {
      this.finish(task, Status.ERROR, "this agent does not take fault steps; start it with --allow-faults (test networks only)", log);
      return;
    }
    if (kind?.case === "partition") {
      const { addresses, forMs, peer } = kind.value;
      try {
        const summary = await partition(addresses, Number(forMs), peer, (err) => {
          if (err) log.error({ err }, "partition: could not heal; remove the fleetgate_fault_* nft table by hand");
          else log.info({ peer }, "partition healed");
        });
        this.finish(task, Status.PASSED, summary, log);
      } catch (err) {
        this.finish(task, Status.ERROR, err instanceof Error ? err.message : String(err), log);
      }
      return;
    }
    if (kind?.case === "killAgent") {
      this.finish(task, Status.PASSED, "agent killed on purpose (kill_agent fault)", log);
      // Report first, so the step is a pass and what follows sees a dead node, not a failed step.
      await this.opts.drained();
      log.warn("kill_agent fault: exiting with SIGKILL");
      process.kill(process.pid, "SIGKILL");
      return;
    }
    this.finish(task, Status.ERROR, "fault step of a kind this agent does not know; upgrade the agent", log);
  }

  /**
   * A matrix leg's `requires:` probes, run before the leg (like SKIP_PLASMA when nested KVM is
   * off): the first one that does not pass skips the leg, with its hint. Undefined: all passed.
   */
  private async runProbes(task: Task, report: (r: CheckResult) => void, stopped: () => boolean, baseDir: string): Promise<string | undefined> {
    const probes = parseSuite(task.probesYaml, `${task.suitePath || task.stageId} (probes)`);
    const outcome = await runSuite(probes, {
      allowDestructive: false,
      env: process.env,
      limits: this.opts.limits,
      concurrency: this.opts.concurrency,
      stopped,
      check: { baseDir, nodeName: this.opts.nodeName },
      onResult: (r) => report(Object.assign(r, { precondition: true })),
    });
    const failed = outcome.results.find((r) => r.status !== Status.PASSED);
    if (!failed) return undefined;
    return `requires ${failed.checkId}: ${failed.summary}${failed.hint ? `; hint: ${failed.hint}` : ""}`;
  }
}
