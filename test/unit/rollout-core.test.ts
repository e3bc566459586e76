import { describe, expect, it } from "vitest";
import { initialRollout, rolloutStep, type Command, type Input, type Phase, type RolloutState } from "../../coordinator/rollouts/core.js";
import { mulberry32 } from "../../scripts/seeded-random.js";
import { Status } from "../../shared/model/status.js";

/** Drives a rollout as the shell would: each started phase gets a run id; `finish` ends one. */
class Driver {
  state: RolloutState;
  commands: Command[] = [];
  /** node → the phase started and not yet finished, with its run id. */
  running = new Map<string, { phase: Phase; runId: string }>();
  private runs = 0;

  constructor(nodes: string[], batch = 1, quick = false) {
    this.state = initialRollout(nodes, batch, quick);
    this.feed({ type: "start" });
  }

  feed(input: Input): Command[] {
    const { state, commands } = rolloutStep(this.state, input, 1_000);
    this.state = state;
    this.commands.push(...commands);
    for (const c of commands) {
      if (c.type !== "start_phase") continue;
      // The rule this whole machine exists for: one phase at a time per node.
      expect(this.running.has(c.node), `${c.node} started ${c.phase} while ${this.running.get(c.node)?.phase} runs`).toBe(false);
      const runId = `run-${++this.runs}`;
      this.running.set(c.node, { phase: c.phase, runId });
      this.feed({ type: "phase_started", node: c.node, phase: c.phase, runId });
    }
    return commands;
  }

  finish(node: string, status: Status, opts: { lost?: boolean; captured?: Record<string, string>; holds?: { rule: string; reason: string }[] } = {}): Command[] {
    const r = this.running.get(node);
    if (!r) throw new Error(`${node} runs nothing`);
    this.running.delete(node);
    return this.feed({ type: "phase_done", node, phase: r.phase, runId: r.runId, status, summary: status === Status.PASSED ? "" : "it broke", lost: opts.lost ?? false, captured: opts.captured ?? {}, holds: opts.holds });
  }

  /** Passes every phase of `node` until it is done. */
  pass(node: string, facts: Record<string, string> = {}): void {
    while (this.running.has(node)) this.finish(node, Status.PASSED, { captured: facts });
  }

  phaseOf = (node: string) => this.running.get(node)?.phase;
  node = (name: string) => this.state.nodes.find((n) => n.name === name)!;
  started = (node: string) => this.commands.filter((c): c is Extract<Command, { type: "start_phase" }> => c.type === "start_phase" && c.node === node).map((c) => c.phase);
  of = <T extends Command["type"]>(type: T) => this.commands.filter((c): c is Extract<Command, { type: T }> => c.type === type);
}

describe("rollout state machine", () => {
  it("changes nodes one batch at a time, primary order kept, each through facts, snapshot, apply, gate and facts after", () => {
    const d = new Driver(["alpha", "beta", "gamma"]);
    expect([...d.running.keys()]).toEqual(["alpha"]);
    d.pass("alpha", { version: "1.1.0" });
    expect(d.started("alpha")).toEqual(["facts", "preconditions", "snapshot", "apply", "gate", "facts_after"]);
    expect([...d.running.keys()]).toEqual(["beta"]);
    d.pass("beta");
    d.pass("gamma");
    expect(d.state.status).toBe("completed");
    expect(d.state.nodes.map((n) => n.outcome)).toEqual(["changed", "changed", "changed"]);
    expect(d.of("record_known_good").map((c) => c.node)).toEqual(["alpha", "beta", "gamma"]);
    expect(d.node("alpha").knownGoodAdvanced).toBe(true);
    expect(d.of("finished")).toHaveLength(1);
  });

  it("a quick gate keeps the change but never advances known-good", () => {
    const d = new Driver(["alpha"], 1, true);
    d.pass("alpha");
    expect(d.node("alpha").outcome).toBe("changed");
    expect(d.node("alpha").knownGoodAdvanced).toBe(false);
    expect(d.of("record_known_good")).toEqual([]);
  });

  it("rolls a red gate back, proves the rollback with the gate, alerts, and leaves later nodes untouched", () => {
    const d = new Driver(["alpha", "beta", "gamma"]);
    for (const phase of ["facts", "preconditions", "snapshot", "apply"]) {
      expect(d.phaseOf("alpha")).toBe(phase);
      d.finish("alpha", Status.PASSED);
    }
    d.finish("alpha", Status.FAILED);
    expect(d.phaseOf("alpha")).toBe("rollback");
    d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("proof");
    d.finish("alpha", Status.PASSED);
    d.finish("alpha", Status.PASSED, { captured: { version: "1.0.0" } });
    const alpha = d.node("alpha");
    expect(alpha.outcome).toBe("rolled_back");
    expect(alpha.gateStatus).toBe(Status.FAILED);
    expect(alpha.proofStatus).toBe(Status.PASSED);
    expect(alpha.factsAfter).toEqual({ version: "1.0.0" });
    expect(alpha.knownGoodAdvanced).toBe(false);
    expect(d.state.status).toBe("stopped");
    expect(d.started("beta")).toEqual([]);
    expect(d.state.nodes.slice(1).map((n) => [n.phase, n.outcome])).toEqual([
      ["pending", "untouched"],
      ["pending", "untouched"],
    ]);
    expect(d.of("alert").map((a) => a.kind)).toEqual(["rollout_rolled_back"]);
    expect(d.of("record_known_good")).toEqual([]);
  });

  it("a proof that stays red is a failed rollback, not a rollback", () => {
    const d = new Driver(["alpha"]);
    for (const s of [Status.PASSED, Status.PASSED, Status.PASSED, Status.FAILED, Status.PASSED, Status.FAILED, Status.PASSED]) d.finish("alpha", s);
    expect(d.node("alpha").outcome).toBe("rollback_failed");
    expect(d.state.status).toBe("stopped");
  });

  it("a red rollback stops there: no proof is claimed", () => {
    const d = new Driver(["alpha"]);
    for (const s of [Status.PASSED, Status.PASSED, Status.PASSED, Status.FAILED, Status.FAILED]) d.finish("alpha", s);
    expect(d.started("alpha")).toEqual(["facts", "preconditions", "snapshot", "apply", "rollback"]);
    expect(d.node("alpha").outcome).toBe("rollback_failed");
  });

  it("a node lost during apply is in unknown state: never rolled back, never assumed rolled back, and the rollout stops", () => {
    const d = new Driver(["alpha", "beta"]);
    for (let i = 0; i < 3; i++) d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("apply");
    d.finish("alpha", Status.LOST, { lost: true });
    expect(d.node("alpha").outcome).toBe("unknown_state");
    expect(d.node("alpha").note).toMatch(/check it by hand/);
    expect(d.started("alpha")).not.toContain("rollback");
    expect(d.of("alert").map((a) => a.kind)).toEqual(["rollout_unknown_state"]);
    expect(d.state.status).toBe("stopped");
    expect(d.node("beta").outcome).toBe("untouched");
  });

  it("a gate whose run failed but had a lost task is unknown state too: lost wins over failed", () => {
    const d = new Driver(["alpha"]);
    for (let i = 0; i < 4; i++) d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("gate");
    d.finish("alpha", Status.FAILED, { lost: true });
    expect(d.node("alpha").outcome).toBe("unknown_state");
    expect(d.node("alpha").gateStatus).toBe(Status.LOST);
  });

  it("an apply its agent was stopped in the middle of (interrupted) is unknown state too, never rolled back on a guess", () => {
    const d = new Driver(["alpha"]);
    for (let i = 0; i < 3; i++) d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("apply");
    d.finish("alpha", Status.INTERRUPTED);
    expect(d.node("alpha").outcome).toBe("unknown_state");
    expect(d.started("alpha")).not.toContain("rollback");
    expect(d.of("alert")[0]?.summary).toMatch(/apply did not finish \(its agent was stopped mid-step\)/);
  });

  it("a node whose gate preconditions do not hold is not changed: not ready is the node's state, not the change's fault", () => {
    const d = new Driver(["alpha", "beta"]);
    d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("preconditions");
    d.finish("alpha", Status.NOT_READY);
    expect(d.node("alpha").outcome).toBe("not_changed");
    expect(d.node("alpha").note).toBe("the gate's preconditions do not hold (it broke); nothing was applied");
    expect(d.started("alpha")).toEqual(["facts", "preconditions"]);
    expect(d.node("beta").outcome).toBe("untouched");
  });

  it("a node lost before apply is not changed: nothing was applied", () => {
    const d = new Driver(["alpha"]);
    d.finish("alpha", Status.PASSED);
    d.finish("alpha", Status.PASSED);
    d.finish("alpha", Status.LOST, { lost: true });
    expect(d.node("alpha").outcome).toBe("not_changed");
    expect(d.started("alpha")).toEqual(["facts", "preconditions", "snapshot"]);
    expect(d.of("alert").map((a) => a.kind)).toEqual(["rollout_stopped"]);
  });

  it("holds a node before anything touches it until a person approves; the approval covers the same rule on later nodes", () => {
    const hold = [{ rule: "major_bump:version", reason: "major bump: version 1.4.0 → 2.0.0" }];
    const d = new Driver(["alpha", "beta"]);
    d.finish("alpha", Status.PASSED, { captured: { version: "1.4.0" }, holds: hold });
    expect(d.state.status).toBe("held");
    expect(d.node("alpha").phase).toBe("held");
    expect(d.running.size).toBe(0);
    expect(d.of("alert").map((a) => a.kind)).toEqual(["rollout_held"]);
    d.feed({ type: "approve", who: "ops", reason: "tested in staging" });
    expect(d.of("resolve_alert").map((a) => [a.node, a.summary])).toEqual([["alpha", "alpha approved by ops: tested in staging"]]);
    expect(d.phaseOf("alpha")).toBe("preconditions");
    expect(d.node("alpha").approval).toBe("approved by ops: tested in staging");
    d.pass("alpha");
    d.finish("beta", Status.PASSED, { captured: { version: "1.4.0" }, holds: hold });
    expect(d.phaseOf("beta")).toBe("preconditions");
    expect(d.node("beta").approval).toBe("approved by ops: tested in staging");
    d.pass("beta");
    expect(d.state.status).toBe("completed");
    expect(d.state.events.find((e) => e.kind === "approved")?.who).toBe("ops");
  });

  it("a rule not approved yet holds a later node even after another rule was approved", () => {
    const d = new Driver(["alpha", "beta"]);
    d.finish("alpha", Status.PASSED, { holds: [{ rule: "flag:manual_migration", reason: "release says manual_migration: true" }] });
    d.feed({ type: "approve", who: "ops", reason: "done by hand" });
    d.pass("alpha");
    d.finish("beta", Status.PASSED, { holds: [{ rule: "major_bump:version", reason: "major bump" }] });
    expect(d.node("beta").phase).toBe("held");
  });

  it("aborting a held rollout leaves the held node untouched and ends aborted", () => {
    const d = new Driver(["alpha", "beta"]);
    d.finish("alpha", Status.PASSED, { holds: [{ rule: "flag:x", reason: "x" }] });
    d.feed({ type: "abort", who: "ops", reason: "not this week" });
    expect(d.state.status).toBe("aborted");
    expect(d.state.nodes.map((n) => n.outcome)).toEqual(["untouched", "untouched"]);
    expect(d.of("resolve_alert").map((a) => a.summary)).toEqual(["alpha not approved: the rollout was aborted by ops: not this week"]);
  });

  it("an abort lets a node past its snapshot finish its sequence, cancels only reading facts, and starts nothing new", () => {
    const d = new Driver(["alpha", "beta", "gamma"], 2);
    for (let i = 0; i < 3; i++) d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("apply");
    expect(d.phaseOf("beta")).toBe("facts");
    const cmds = d.feed({ type: "abort", who: "ops", reason: "stop" });
    expect(cmds.filter((c) => c.type === "cancel_run")).toEqual([{ type: "cancel_run", runId: d.running.get("beta")!.runId, reason: "rollout aborted by ops: stop" }]);
    d.finish("beta", Status.CANCELLED);
    expect(d.node("beta").outcome).toBe("not_changed");
    expect(d.state.status).not.toBe("aborted");
    d.pass("alpha");
    expect(d.node("alpha").outcome).toBe("changed");
    expect(d.node("gamma").outcome).toBe("untouched");
    expect(d.started("gamma")).toEqual([]);
    expect(d.state.status).toBe("aborted");
  });

  it("within a batch, one node's failure lets the others finish, and no later batch starts", () => {
    const d = new Driver(["a", "b", "c"], 2);
    expect([...d.running.keys()]).toEqual(["a", "b"]);
    d.finish("a", Status.FAILED);
    expect(d.node("a").outcome).toBe("not_changed");
    d.pass("b");
    expect(d.node("b").outcome).toBe("changed");
    expect(d.node("c").outcome).toBe("untouched");
    expect(d.state.status).toBe("stopped");
  });

  it("a repeated or stray phase result decides nothing", () => {
    const d = new Driver(["alpha"]);
    const facts = d.running.get("alpha")!;
    d.finish("alpha", Status.PASSED);
    const before = d.state;
    const { state, commands } = rolloutStep(before, { type: "phase_done", node: "alpha", phase: facts.phase, runId: facts.runId, status: Status.PASSED, summary: "", lost: false, captured: {} }, 2_000);
    expect(commands).toEqual([]);
    expect(state.nodes).toEqual(before.nodes);
  });

  it("green facts after a red read are kept as changed but do not advance known-good", () => {
    const d = new Driver(["alpha"]);
    for (let i = 0; i < 5; i++) d.finish("alpha", Status.PASSED);
    expect(d.phaseOf("alpha")).toBe("facts_after");
    d.finish("alpha", Status.FAILED);
    expect(d.node("alpha").outcome).toBe("changed");
    expect(d.node("alpha").knownGoodAdvanced).toBe(false);
    expect(d.of("record_known_good")).toEqual([]);
  });

  it("whatever the results, a node runs one phase at a time, a lost node is never reported changed, and the rollout ends once", () => {
    const statuses = [Status.PASSED, Status.PASSED, Status.PASSED, Status.FAILED, Status.LOST, Status.ERROR, Status.NOT_READY];
    for (let seed = 1; seed <= 200; seed++) {
      const rand = mulberry32(seed);
      const d = new Driver(["a", "b", "c", "d", "e"], 1 + Math.floor(rand() * 3));
      const lostIn = new Map<string, string>();
      for (let guard = 0; guard < 200 && d.running.size; guard++) {
        const nodes = [...d.running.keys()];
        const node = nodes[Math.floor(rand() * nodes.length)]!;
        const status = statuses[Math.floor(rand() * statuses.length)]!;
        if (status === Status.LOST) lostIn.set(node, d.phaseOf(node)!);
        d.finish(node, status, { lost: status === Status.LOST, holds: rand() < 0.1 ? [{ rule: "flag:x", reason: "x" }] : undefined });
        if (d.state.status === "held") d.feed({ type: "approve", who: "t", reason: "r" });
      }
      expect(["completed", "stopped"], `seed ${seed}`).toContain(d.state.status);
      expect(d.of("finished"), `seed ${seed}`).toHaveLength(1);
      for (const [node, phase] of lostIn) {
        const outcome = d.node(node).outcome;
        if (["apply", "gate", "rollback", "proof"].includes(phase)) expect(outcome, `seed ${seed} ${node} lost in ${phase}`).toBe("unknown_state");
        if (phase !== "facts_after" && phase !== "facts_rolled_back") expect(outcome, `seed ${seed}`).not.toBe("changed");
      }
      for (const n of d.state.nodes) expect(n.outcome, `seed ${seed} ${n.name}`).not.toBe("");
    }
  });
});
