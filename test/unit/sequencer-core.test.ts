import { describe, expect, it } from "vitest";
import {
  initialState,
  resumedState,
  step,
  type PlannedStage,
  type PlannedTask,
  type SequencerCommand,
  type SequencerEvent,
  type SequencerState,
  type TaskState,
} from "../../coordinator/sequencer/core.js";
import { countGroups } from "../../coordinator/sequencer/task-table.js";
import { isTerminal, Status, statusName } from "../../shared/model/status.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { mulberry32 } from "../../scripts/seeded-random.js";

interface StageSpec {
  id: string;
  nodes: string[];
  iterations: number;
  parallel?: number;
  /** A cross stage: steps in groups (a barrier between groups), a failed group stops the rest. */
  steps?: { node: string; group: number }[];
}

/** Stages and tasks the way plan-run lays them out: per stage, per node, iterations ascending. */
function layout(specs: StageSpec[]): { stages: PlannedStage[]; tasks: PlannedTask[] } {
  const stages = specs.map((s) => ({ id: s.id, parallel: s.parallel ?? s.nodes.length, stopOnFailure: !!s.steps }));
  const tasks: PlannedTask[] = [];
  for (const s of specs) {
    if (s.steps) {
      s.steps.forEach((st, i) => tasks.push({ id: `${s.id}/step${i + 1}`, stageId: s.id, node: st.node, iteration: 1, group: st.group, label: taskLabel({ stageId: s.id, stepId: String(i + 1), role: "", nodeName: st.node, iteration: 1 }) }));
      continue;
    }
    for (const node of s.nodes) for (let i = 1; i <= s.iterations; i++) tasks.push({ id: `${s.id}/${node}/${i}`, stageId: s.id, node, iteration: i, group: 0, label: taskLabel({ stageId: s.id, stepId: "", role: "", nodeName: node, iteration: i }) });
  }
  return { stages, tasks };
}

function begin(specs: StageSpec[], opts: { offline?: string[]; lost?: Record<string, string> } = {}): { state: SequencerState; commands: SequencerCommand[] } {
  const { stages, tasks } = layout(specs);
  return step(initialState(stages, tasks, { offline: opts.offline ?? [], lost: opts.lost ?? {} }), { type: "start" });
}

const offline = (node: string): SequencerEvent => ({ type: "node_offline", node });
const lost = (node: string, why = `node ${node} lost: not connected for 1 min`): SequencerEvent => ({ type: "node_lost", node, why });

/** Feeds events in order; returns the final state and every command emitted. */
function feed(state: SequencerState, events: SequencerEvent[]): { state: SequencerState; commands: SequencerCommand[] } {
  const commands: SequencerCommand[] = [];
  for (const e of events) {
    const r = step(state, e);
    state = r.state;
    commands.push(...r.commands);
  }
  return { state, commands };
}

const done = (taskId: string, status = Status.PASSED, summary = ""): SequencerEvent => ({ type: "task_done", taskId, status, summary });
const dispatched = (cmds: SequencerCommand[]) => cmds.flatMap((c) => (c.type === "dispatch" ? [c.taskId] : []));
const finished = (cmds: SequencerCommand[]) => cmds.filter((c) => c.type === "run_finished");
const task = (s: SequencerState, id: string): TaskState => {
  const t = s.tasks.find((x) => x.id === id);
  if (!t) throw new Error(`no task ${id}`);
  return t;
};
const running = (s: SequencerState) => s.tasks.filter((t) => t.status === Status.RUNNING).map((t) => t.id);

const SINGLE_THEN_FLEET: StageSpec[] = [
  { id: "single", nodes: ["n1"], iterations: 2 },
  { id: "fleet", nodes: ["n1", "n2"], iterations: 1 },
];

describe("sequencer core: stage order and gating", () => {
  it("runs the single stage first and starts the fleet stage only after every single task passed", () => {
    let r = begin(SINGLE_THEN_FLEET);
    expect(dispatched(r.commands)).toEqual(["single/n1/1"]);
    r = step(r.state, done("single/n1/1"));
    expect(dispatched(r.commands)).toEqual(["single/n1/2"]);
    expect(running(r.state)).toEqual(["single/n1/2"]);
    r = step(r.state, done("single/n1/2"));
    expect(dispatched(r.commands)).toEqual(["fleet/n1/1", "fleet/n2/1"]);
    r = feed(r.state, [done("fleet/n1/1"), done("fleet/n2/1")]);
    expect(finished(r.commands)).toEqual([{ type: "run_finished", status: Status.PASSED, summary: "4/4 tasks passed" }]);
  });

  it("skips every later-stage task, with a reason naming the stage, when an earlier stage fails", () => {
    let r = begin(SINGLE_THEN_FLEET);
    r = feed(r.state, [done("single/n1/1", Status.FAILED, "expected exit 0, saw 1"), done("single/n1/2")]);
    expect(dispatched(r.commands)).not.toContain("fleet/n1/1");
    expect(dispatched(r.commands)).not.toContain("fleet/n2/1");
    for (const id of ["fleet/n1/1", "fleet/n2/1"]) {
      expect(task(r.state, id)).toMatchObject({ status: Status.SKIPPED, summary: "stage single did not pass (failed)" });
    }
    expect(finished(r.commands)).toEqual([{ type: "run_finished", status: Status.FAILED, summary: "1/4 tasks passed, 1 failed, 2 skipped" }]);
  });

  it("names a not-ready stage in the skip reason of the stages after it", () => {
    let r = begin([
      { id: "precheck", nodes: ["n1"], iterations: 1 },
      { id: "gate", nodes: ["n1"], iterations: 1 },
    ]);
    r = step(r.state, done("precheck/n1/1", Status.NOT_READY, "bitcoind in IBD"));
    expect(task(r.state, "gate/n1/1")).toMatchObject({ status: Status.SKIPPED, summary: "stage precheck did not pass (not_ready)" });
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.NOT_READY });
  });
});

describe("sequencer core: one task per node, iterations in order, parallel", () => {
  it("never gives a node a second RUNNING task and runs its iterations in ascending order", () => {
    let r = begin([{ id: "fleet", nodes: ["n1", "n2"], iterations: 3 }]);
    expect(dispatched(r.commands)).toEqual(["fleet/n1/1", "fleet/n2/1"]);
    const order: string[] = [...dispatched(r.commands)];
    // n2 finishes fast, n1 slowly: n2's iterations must still go 1, 2, 3 and never overlap.
    for (const id of ["fleet/n2/1", "fleet/n2/2", "fleet/n1/1", "fleet/n2/3", "fleet/n1/2", "fleet/n1/3"]) {
      r = step(r.state, done(id));
      order.push(...dispatched(r.commands));
      for (const node of ["n1", "n2"]) expect(r.state.tasks.filter((t) => t.node === node && t.status === Status.RUNNING).length).toBeLessThanOrEqual(1);
    }
    expect(order.filter((id) => id.includes("/n1/"))).toEqual(["fleet/n1/1", "fleet/n1/2", "fleet/n1/3"]);
    expect(order.filter((id) => id.includes("/n2/"))).toEqual(["fleet/n2/1", "fleet/n2/2", "fleet/n2/3"]);
    expect(r.state.finished).toBe(true);
  });

  it("runs a node's iterations in ascending order even when its tasks are listed out of order", () => {
    const { stages, tasks } = layout([{ id: "fleet", nodes: ["n1"], iterations: 3 }]);
    let r = step(initialState(stages, [...tasks].reverse()), { type: "start" });
    const order = dispatched(r.commands);
    while (!r.state.finished) {
      const [next] = running(r.state);
      if (!next) throw new Error("run stalled");
      r = step(r.state, done(next));
      order.push(...dispatched(r.commands));
    }
    expect(order).toEqual(["fleet/n1/1", "fleet/n1/2", "fleet/n1/3"]);
  });

  it("lets at most `parallel` nodes work at once in a stage", () => {
    let r = begin([{ id: "fleet", nodes: ["a", "b", "c", "d"], iterations: 2, parallel: 2 }]);
    expect(dispatched(r.commands)).toEqual(["fleet/a/1", "fleet/b/1"]);
    const busyNodes = (s: SequencerState) => new Set(s.tasks.filter((t) => t.status === Status.RUNNING).map((t) => t.node)).size;
    // a finishing one iteration keeps a busy with its next one: c and d still wait.
    r = step(r.state, done("fleet/a/1"));
    expect(dispatched(r.commands)).toEqual(["fleet/a/2"]);
    expect(busyNodes(r.state)).toBe(2);
    r = step(r.state, done("fleet/a/2"));
    expect(dispatched(r.commands)).toEqual(["fleet/c/1"]);
    while (!r.state.finished) {
      const [next] = running(r.state);
      if (!next) throw new Error("run stalled");
      r = step(r.state, done(next));
      expect(busyNodes(r.state)).toBeLessThanOrEqual(2);
    }
    expect(r.state.tasks.every((t) => t.status === Status.PASSED)).toBe(true);
  });

  it("changes nothing when the same task_done arrives twice", () => {
    let r = begin([{ id: "fleet", nodes: ["n1", "n2"], iterations: 2 }]);
    r = step(r.state, done("fleet/n1/1", Status.PASSED, "ok"));
    const before = r.state;
    const again = step(before, done("fleet/n1/1", Status.PASSED, "ok"));
    expect(again.commands).toEqual([]);
    expect(again.state).toEqual(before);
    // A late repeat with another status does not rewrite history either.
    const contradicting = step(before, done("fleet/n1/1", Status.FAILED, "late"));
    expect(contradicting.commands).toEqual([]);
    expect(task(contradicting.state, "fleet/n1/1")).toMatchObject({ status: Status.PASSED, summary: "ok" });
  });

  it("ignores a task_done for a task that was never dispatched", () => {
    const r = begin([{ id: "fleet", nodes: ["n1"], iterations: 2 }]);
    const early = step(r.state, done("fleet/n1/2"));
    expect(early.commands).toEqual([]);
    expect(task(early.state, "fleet/n1/2").status).toBe(Status.PENDING);
  });

  it("records a task_done that carries no final status as an error instead of waiting forever", () => {
    let r = begin([{ id: "fleet", nodes: ["n1"], iterations: 1 }]);
    r = step(r.state, done("fleet/n1/1", Status.UNSPECIFIED, ""));
    expect(task(r.state, "fleet/n1/1")).toMatchObject({ status: Status.ERROR, summary: "agent reported task done with status unspecified" });
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.ERROR });
  });
});

describe("sequencer core: nodes that drop off", () => {
  const TWO_STAGES: StageSpec[] = [
    { id: "fleet", nodes: ["n1", "n2"], iterations: 2 },
    { id: "after", nodes: ["n1"], iterations: 1 },
  ];

  it("marks an offline node's unfinished tasks LOST when the fleet declares it lost, and finishes the run for the others", () => {
    let r = begin(TWO_STAGES);
    r = feed(r.state, [offline("n2")]);
    expect(task(r.state, "fleet/n2/1").status).toBe(Status.RUNNING);
    expect(r.commands).toEqual([]);

    r = step(r.state, lost("n2"));
    for (const id of ["fleet/n2/1", "fleet/n2/2"]) {
      expect(task(r.state, id)).toMatchObject({ status: Status.LOST, summary: "node n2 lost: not connected for 1 min" });
    }
    expect(r.state.finished).toBe(false);

    r = feed(r.state, [done("fleet/n1/1"), done("fleet/n1/2")]);
    expect(task(r.state, "after/n1/1")).toMatchObject({ status: Status.SKIPPED, summary: "stage fleet did not pass (lost)" });
    expect(finished(r.commands)).toEqual([{ type: "run_finished", status: Status.LOST, summary: "2/5 tasks passed, 2 lost, 1 skipped" }]);
  });

  it("dispatches a node's RUNNING task again when it comes back before it is lost", () => {
    let r = begin(TWO_STAGES);
    r = feed(r.state, [offline("n2")]);
    r = step(r.state, { type: "node_online", node: "n2" });
    expect(r.commands).toEqual([{ type: "dispatch", taskId: "fleet/n2/1" }]);
    expect(r.state.tasks.some((t) => t.status === Status.LOST)).toBe(false);
    r = feed(r.state, [done("fleet/n2/1"), done("fleet/n2/2"), done("fleet/n1/1"), done("fleet/n1/2"), done("after/n1/1")]);
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.PASSED });
  });

  it("holds a node that is offline at the start and sends its first task when it connects", () => {
    let r = begin([{ id: "fleet", nodes: ["n1", "n2"], iterations: 1 }], { offline: ["n2"] });
    expect(dispatched(r.commands)).toEqual(["fleet/n1/1"]);
    r = step(r.state, { type: "node_online", node: "n2" });
    expect(dispatched(r.commands)).toEqual(["fleet/n2/1"]);
  });

  it("marks a node already lost when the run begins lost at once, and its later iterations too", () => {
    const r = begin([{ id: "fleet", nodes: ["n1", "n2"], iterations: 2 }], { offline: ["n2"], lost: { n2: "node n2 lost: not connected for 5 min" } });
    expect(dispatched(r.commands)).toEqual(["fleet/n1/1"]);
    for (const id of ["fleet/n2/1", "fleet/n2/2"]) expect(task(r.state, id)).toMatchObject({ status: Status.LOST, summary: "node n2 lost: not connected for 5 min" });
  });

  it("loses a connected node's due work when the fleet says it keeps reconnecting without delivering, and lets later work run once it connects again", () => {
    let r = begin([{ id: "fleet", nodes: ["n1"], iterations: 2 }]);
    r = step(r.state, lost("n1", "node n1 lost: connected 10 times in 20 s without delivering a result"));
    expect(task(r.state, "fleet/n1/1")).toMatchObject({ status: Status.LOST, summary: "node n1 lost: connected 10 times in 20 s without delivering a result" });
    expect(task(r.state, "fleet/n1/2").status).toBe(Status.LOST);
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.LOST });
  });

  it("does not revive a LOST task when its node returns", () => {
    let r = begin([{ id: "fleet", nodes: ["n1", "n2"], iterations: 1 }]);
    r = feed(r.state, [offline("n2"), lost("n2")]);
    r = step(r.state, { type: "node_online", node: "n2" });
    expect(dispatched(r.commands)).toEqual([]);
    r = step(r.state, done("fleet/n2/1", Status.PASSED));
    expect(task(r.state, "fleet/n2/1").status).toBe(Status.LOST);
  });
});

describe("sequencer core: cancel and the final status", () => {
  it("turns every unfinished task CANCELLED, keeps finished ones, and then ignores further events", () => {
    let r = begin(SINGLE_THEN_FLEET);
    r = step(r.state, done("single/n1/1"));
    r = step(r.state, { type: "cancel", reason: "cancelled by alice" });
    expect(task(r.state, "single/n1/1").status).toBe(Status.PASSED);
    for (const id of ["single/n1/2", "fleet/n1/1", "fleet/n2/1"]) expect(task(r.state, id)).toMatchObject({ status: Status.CANCELLED, summary: "cancelled by alice" });
    expect(dispatched(r.commands)).toEqual([]);
    expect(finished(r.commands)).toEqual([{ type: "run_finished", status: Status.CANCELLED, summary: "1/4 tasks passed, 3 cancelled" }]);
    const after = step(r.state, done("single/n1/2"));
    expect(after.commands).toEqual([]);
    expect(after.state).toBe(r.state);
  });

  it.each([Status.FAILED, Status.NOT_READY, Status.SKIPPED, Status.ERROR, Status.LOST].map((s) => ({ bad: s, name: statusName(s) })))("never finishes PASSED when one task ends $name", ({ bad }) => {
    let r = begin([{ id: "fleet", nodes: ["n1", "n2"], iterations: 2 }]);
    r = feed(r.state, [done("fleet/n1/1"), done("fleet/n1/2"), done("fleet/n2/1", bad, statusName(bad)), done("fleet/n2/2")]);
    const [fin] = finished(r.commands);
    expect(fin).toBeDefined();
    expect(fin).toMatchObject({ status: bad });
  });
});

describe("sequencer core: resuming after a coordinator restart", () => {
  const { stages, tasks } = layout([
    { id: "single", nodes: ["n1"], iterations: 1 },
    { id: "fleet", nodes: ["n1", "n2"], iterations: 2 },
    { id: "last", nodes: ["n1"], iterations: 1 },
  ]);
  const withStatus = (statuses: Record<string, Status>): TaskState[] => tasks.map((t) => ({ ...t, status: statuses[t.id] ?? Status.PENDING, summary: "" }));

  it("picks the first stage that still has unfinished tasks and carries on from there", () => {
    const stored = withStatus({ "single/n1/1": Status.PASSED, "fleet/n1/1": Status.PASSED, "fleet/n2/1": Status.RUNNING });
    const state = resumedState(stages, stored, { offline: [], lost: {} });
    expect(state.current).toBe(1);
    const r = step(state, { type: "start" });
    // n2 still runs iteration 1; only n1 gets new work.
    expect(dispatched(r.commands)).toEqual(["fleet/n1/2"]);
  });

  it("finishes at once when every stored task is final", () => {
    const stored = withStatus(Object.fromEntries(tasks.map((t) => [t.id, Status.PASSED])));
    const state = resumedState(stages, stored, { offline: [], lost: {} });
    expect(state.current).toBe(3);
    expect(finished(step(state, { type: "start" }).commands)).toEqual([{ type: "run_finished", status: Status.PASSED, summary: "6/6 tasks passed" }]);
  });

  it("skips the later stages instead of starting them when a finished earlier stage did not pass", () => {
    // The coordinator stopped after storing the failure but before storing the skips.
    const stored = withStatus({ "single/n1/1": Status.FAILED });
    const r = step(resumedState(stages, stored, { offline: [], lost: {} }), { type: "start" });
    expect(dispatched(r.commands)).toEqual([]);
    expect(task(r.state, "fleet/n1/1")).toMatchObject({ status: Status.SKIPPED, summary: "stage single did not pass (failed)" });
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.FAILED });
  });
});

/** What a state says, as plain data: to tell whether a step changed it. */
const snapshot = (s: SequencerState) => ({ tasks: s.tasks.map((t) => [t.id, t.status, t.summary]), counts: [...s.counts], offline: s.offline, lost: s.lost, current: s.current, finished: s.finished });

describe("sequencer core: random event orders", () => {
  it("keeps its invariants over 400 random runs of a 4-stage, 3-node plan with a cross stage, through results, repeats, disconnects, restarts and cancels", () => {
    const NODES = ["n1", "n2", "n3"];
    const ALL_STATUSES = [Status.UNSPECIFIED, Status.PENDING, Status.RUNNING, Status.PASSED, Status.FAILED, Status.NOT_READY, Status.SKIPPED, Status.LOST, Status.ERROR, Status.CANCELLED];
    const outcomes = new Map<Status, number>();
    let restarts = 0;

    for (let seed = 1; seed <= 400; seed++) {
      const rand = mulberry32(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
      const specs: StageSpec[] = [
        { id: "s1", nodes: NODES.slice(0, 1 + Math.floor(rand() * 3)), iterations: 1 + Math.floor(rand() * 2), parallel: 1 },
        { id: "s2", nodes: NODES, iterations: 1 + Math.floor(rand() * 3), parallel: 1 + Math.floor(rand() * 3) },
        { id: "s3", nodes: NODES, iterations: 1 + Math.floor(rand() * 2), parallel: 1 + Math.floor(rand() * 3) },
        {
          id: "s4",
          nodes: NODES,
          iterations: 1,
          parallel: NODES.length,
          steps: Array.from({ length: 2 + Math.floor(rand() * 4) }, (_, i) => ({ node: pick(NODES), group: Math.floor(i / (1 + Math.floor(rand() * 2))) })),
        },
      ];
      const { stages, tasks } = layout(specs);
      const stageIndex = new Map(stages.map((s, i) => [s.id, i]));
      let state = initialState(stages, tasks, { offline: rand() < 0.3 ? [pick(NODES)] : [], lost: {} });
      let runFinished: SequencerCommand | undefined;
      const ctx = () => `seed ${seed}`;

      for (let n = 0; n < 3000 && !state.finished; n++) {
        let event: SequencerEvent;
        const roll = rand();
        const inFlight = state.tasks.filter((t) => t.status === Status.RUNNING);
        if (n === 0) event = { type: "start" };
        else if (roll < 0.55 && inFlight.length) {
          // Mostly good news, sometimes bad, now and then a malformed status from the wire.
          const r2 = rand();
          event = done(pick(inFlight).id, r2 < 0.85 ? Status.PASSED : r2 < 0.97 ? pick([Status.FAILED, Status.NOT_READY, Status.ERROR, Status.SKIPPED]) : pick(ALL_STATUSES), "random");
        } else if (roll < 0.7) event = done(pick(state.tasks).id, pick(ALL_STATUSES), "duplicate or stray");
        else if (roll < 0.78) event = offline(pick(NODES));
        else if (roll < 0.9) event = { type: "node_online", node: pick(NODES) };
        // Mostly a node coming back; now and then the fleet's lost verdict, sometimes for a node
        // that is back already (a late timer).
        else if (roll < 0.985) {
          const away = Object.keys(state.offline);
          // A lost verdict is mostly for a node that is away; rarely for one that keeps reconnecting.
          event = rand() < 0.12 ? lost(rand() < 0.98 && away.length ? pick(away) : pick(NODES)) : { type: "node_online", node: pick(NODES) };
        }
        else if (roll < 0.998) {
          // The coordinator restarts: state is rebuilt from what was stored, no agent is connected
          // yet, and tasks that were running stay running until their node is back.
          restarts++;
          state = resumedState(state.stages, state.tasks, { offline: [...NODES], lost: {} });
          event = { type: "start" };
        } else event = { type: "cancel", reason: "random cancel" };

        const prev = state;
        const before = JSON.stringify(snapshot(prev));
        const r = step(prev, event);
        state = r.state;
        // The engine keeps the state a batch started from when its commit fails: a step must
        // leave the state it was given as it was (its tasks are copied on write, not changed).
        if (JSON.stringify(snapshot(prev)) !== before) expect.fail(`${ctx()}: step ${n} (${event.type}) changed the state it was given`);
        // The per-group counts a step reads instead of walking the stage agree with the tasks.
        expect([...state.counts], `${ctx()}: step ${n} (${event.type})`).toEqual([...countGroups(state.tasks, state.index)]);

        for (const node of NODES) {
          const busy = state.tasks.filter((t) => t.node === node && t.status === Status.RUNNING);
          if (busy.length > 1) expect.fail(`${ctx()}: ${node} runs ${busy.map((t) => t.id).join(", ")} at once`);
        }
        for (const s of stages) {
          const workers = new Set(state.tasks.filter((t) => t.stageId === s.id && t.status === Status.RUNNING).map((t) => t.node));
          if (workers.size > s.parallel) expect.fail(`${ctx()}: stage ${s.id} has ${workers.size} nodes working, parallel ${s.parallel}`);
        }
        for (const cmd of r.commands) {
          if (cmd.type === "run_finished") {
            if (runFinished) expect.fail(`${ctx()}: run finished twice`);
            runFinished = cmd;
          }
          if (cmd.type !== "dispatch") continue;
          const t = task(prev, cmd.taskId);
          if (t.status !== Status.PENDING) continue; // a re-dispatch of a running task after reconnect
          // A first dispatch: every earlier stage passed, and the node's earlier iterations are over
          // (judged on the state this step produced: the step may have just finished them).
          const earlier = state.tasks.filter((o) => (stageIndex.get(o.stageId) ?? 0) < (stageIndex.get(t.stageId) ?? 0));
          if (!earlier.every((o) => o.status === Status.PASSED)) expect.fail(`${ctx()}: ${t.id} started after a stage that did not pass`);
          const before = state.tasks.filter((o) => o.stageId === t.stageId && o.node === t.node && o.iteration < t.iteration);
          if (!before.every((o) => isTerminal(o.status))) expect.fail(`${ctx()}: ${t.id} started before an earlier iteration ended`);
          // Barrier: a group starts only after every earlier group of its stage, and in a cross stage only after they passed.
          const earlierGroups = state.tasks.filter((o) => o.stageId === t.stageId && o.group < t.group);
          const stopOnFailure = stages[stageIndex.get(t.stageId) ?? 0]?.stopOnFailure;
          if (!earlierGroups.every((o) => (stopOnFailure ? o.status === Status.PASSED : isTerminal(o.status)))) expect.fail(`${ctx()}: ${t.id} started before its barrier`);
        }
      }

      // Liveness: with results and the fleet's verdicts flowing, every run ends.
      expect(state.finished, `${ctx()}: run never finished`).toBe(true);
      expect(runFinished, ctx()).toBeDefined();
      if (runFinished?.type !== "run_finished") throw new Error("unreachable");
      const allPassed = state.tasks.every((t) => t.status === Status.PASSED);
      expect(runFinished.status === Status.PASSED, `${ctx()}: finished ${statusName(runFinished.status)} with tasks ${state.tasks.map((t) => statusName(t.status)).join(",")}`).toBe(allPassed);
      outcomes.set(runFinished.status, (outcomes.get(runFinished.status) ?? 0) + 1);
    }

    // The generator must exercise both sides of the property, or the test proves little.
    expect(outcomes.get(Status.PASSED) ?? 0).toBeGreaterThan(10);
    expect(restarts).toBeGreaterThan(50);
    expect([...outcomes.keys()].filter((s) => s !== Status.PASSED).length).toBeGreaterThanOrEqual(3);
  });
});

describe("sequencer core: cross stages", () => {
  // publish on a, then fetch on b, then a parallel group on a and b, then a last step on c.
  const CROSS: StageSpec[] = [
    {
      id: "x",
      nodes: ["a", "b", "c"],
      iterations: 1,
      steps: [
        { node: "a", group: 0 },
        { node: "b", group: 1 },
        { node: "a", group: 2 },
        { node: "b", group: 2 },
        { node: "c", group: 3 },
      ],
    },
  ];

  it("runs steps in order and starts a parallel group's steps together, the next only after all of them", () => {
    let r = begin(CROSS);
    expect(dispatched(r.commands)).toEqual(["x/step1"]);
    r = feed(r.state, [done("x/step1")]);
    expect(dispatched(r.commands)).toEqual(["x/step2"]);
    r = feed(r.state, [done("x/step2")]);
    expect(dispatched(r.commands)).toEqual(["x/step3", "x/step4"]);
    r = feed(r.state, [done("x/step4")]);
    expect(dispatched(r.commands)).toEqual([]);
    r = feed(r.state, [done("x/step3")]);
    expect(dispatched(r.commands)).toEqual(["x/step5"]);
    r = feed(r.state, [done("x/step5")]);
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.PASSED });
  });

  it("marks a step on a node that stays away lost, and skips the later steps with that reason", () => {
    let r = begin(CROSS);
    r = feed(r.state, [done("x/step1"), offline("b"), lost("b", "node b lost: not connected for 6.0 s")]);
    expect(task(r.state, "x/step2").status).toBe(Status.LOST);
    for (const id of ["x/step3", "x/step4", "x/step5"]) {
      expect(task(r.state, id).status).toBe(Status.SKIPPED);
      expect(task(r.state, id).summary).toBe("not run: x/2 on b lost: node b lost: not connected for 6.0 s");
    }
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.LOST });
  });

  it("lets a parallel group finish when one of its steps fails, then skips what follows", () => {
    let r = begin(CROSS);
    r = feed(r.state, [done("x/step1"), done("x/step2"), done("x/step3", Status.FAILED, "expected 200, saw 404")]);
    expect(task(r.state, "x/step4").status).toBe(Status.RUNNING);
    r = feed(r.state, [done("x/step4")]);
    expect(task(r.state, "x/step5").summary).toBe("not run: x/3 on a failed: expected 200, saw 404");
    expect(finished(r.commands)[0]).toMatchObject({ status: Status.FAILED });
  });
});
