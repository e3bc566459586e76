// Runs the tasks the coordinator sends, one at a time: one task per node is the rule that keeps
// a loaded node's CPU and sshd usable (seed 002), and makes a node's iterations strictly ordered.
import type { Logger } from "pino";
import type { Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { CheckResult, Origin } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { parseSuite } from "../../shared/model/suite.js";
import { Status, statusName } from "../../shared/model/status.js";
import { runSuite } from "../engine/run-suite.js";
import { killRunningChecks } from "../process.js";
import type { Spool } from "./spool.js";
import { partition } from "./faults.js";
import { captureScope, tagSelector } from "./task-options.js";

export interface TaskRunnerOptions {
  /** Take fault steps (partitions, kill_agent): test networks only. */
  allowFaults: boolean;
  /** Resolves once every spooled event is acknowledged, or after a bounded wait. */
  drained: () => Promise<void>;
}

export class TaskRunner {
  private readonly queue: Task[] = [];
  private readonly seen = new Set<string>();
  private busy = false;
  /** The task running now; one at a time. */
  private running: { taskId: string; cancelled: boolean } | undefined;

  constructor(
    private readonly spool: Spool,
    private readonly origin: Origin,
    private readonly onEvent: () => void,
    private readonly log: Logger,
    private readonly opts: TaskRunnerOptions = { allowFaults: false, drained: async () => {} },
  ) {}

  /** Tasks re-sent after a reconnect are recognised by id and not run twice. */
  submit(task: Task): void {
    if (this.seen.has(task.taskId)) {
      this.log.debug({ task: task.taskId }, "task already accepted; ignoring repeat");
      return;
    }
    this.seen.add(task.taskId);
    this.queue.push(task);
    void this.drain();
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
    this.running.cancelled = true;
    const killed = killRunningChecks();
    this.log.info({ task: taskId, killed }, "task cancelled; its running checks killed");
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let task = this.queue.shift(); task; task = this.queue.shift()) await this.execute(task);
    } finally {
      this.busy = false;
    }
  }

  private async execute(task: Task): Promise<void> {
    const running = { taskId: task.taskId, cancelled: false };
    this.running = running;
    try {
      await this.executeRunning(task, running);
    } finally {
      this.running = undefined;
    }
  }

  private async executeRunning(task: Task, running: { cancelled: boolean }): Promise<void> {
    const log = this.log.child({ run: task.runId, stage: task.stageId, task: task.taskId });
    log.info({ iteration: task.iteration, suite: task.suitePath }, "task started");
    let status: Status;
    let summary: string;
    const report = (result: CheckResult) => {
      this.spool.append({ origin: this.origin, body: { case: "check", value: { taskId: task.taskId, result } } });
      log.info({ check: result.checkId, status: statusName(result.status) }, result.summary);
      this.onEvent();
    };
    if (task.fault) {
      await this.applyFault(task, log);
      return;
    }
    try {
      const suite = parseSuite(task.suiteYaml, task.suitePath);
      const unmet = task.probesYaml ? await this.runProbes(task, report, () => running.cancelled) : undefined;
      if (unmet) {
        status = Status.SKIPPED;
        summary = unmet;
      } else {
        const outcome = await runSuite(suite, {
          allowDestructive: task.allowDestructive,
          env: process.env,
          scope: captureScope(task.captures),
          select: tagSelector(task.onlyTags),
          stopped: () => running.cancelled,
          onResult: report,
        });
        status = outcome.status;
        summary = outcome.summary;
      }
      // Whatever the checks came to, a killed check is no verdict on the node.
      if (running.cancelled) {
        status = Status.CANCELLED;
        summary = "cancelled by the coordinator";
      }
    } catch (err) {
      // A suite that does not parse or expand is the gate's input breaking, not the node failing.
      status = Status.ERROR;
      summary = err instanceof Error ? err.message : String(err);
    }
    this.finish(task, status, summary, log);
  }

  private finish(task: Task, status: Status, summary: string, log: Logger): void {
    this.spool.append({ origin: this.origin, body: { case: "taskDone", value: { taskId: task.taskId, status, summary } } });
    log.info({ status: statusName(status) }, summary);
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
  private async runProbes(task: Task, report: (r: CheckResult) => void, stopped: () => boolean): Promise<string | undefined> {
    const probes = parseSuite(task.probesYaml, `${task.suitePath || task.stageId} (probes)`);
    const outcome = await runSuite(probes, {
      allowDestructive: false,
      env: process.env,
      stopped,
      onResult: (r) => report(Object.assign(r, { precondition: true })),
    });
    const failed = outcome.results.find((r) => r.status !== Status.PASSED);
    if (!failed) return undefined;
    return `requires ${failed.checkId}: ${failed.summary}${failed.hint ? `; hint: ${failed.hint}` : ""}`;
  }
}
