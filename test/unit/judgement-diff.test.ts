import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { diffRuns } from "../../coordinator/judgement/diff.js";
import { formatDiff } from "../../coordinator/cli/judgement-commands.js";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";
import { check, run, task } from "./judgement-runs.js";

const { PASSED, FAILED } = Status;

function node(name: string, over: { kernel?: string; release?: string; packages?: unknown; agent?: string; machineId?: string; hostname?: string } = {}) {
  const facts = { os: { distro: "Debian GNU/Linux", release: over.release ?? "12", codename: "bookworm", kernel: over.kernel ?? "6.1.0-18-amd64" }, ...(over.packages ? { packages: over.packages } : {}) };
  return create(NodeIdentitySchema, {
    name,
    machineId: over.machineId ?? `mid-${name}`,
    hostname: over.hostname ?? `${name}.lan`,
    agentVersion: over.agent ?? "0.1.0",
    factsJson: JSON.stringify(facts),
  });
}

const before = () =>
  run({
    runId: "a",
    tasks: [
      task("fleet", "n1", 1, PASSED, [check("http", PASSED), check("tcp", FAILED), check("old", PASSED)]),
      task("fleet", "n1", 2, FAILED, [check("http", PASSED), check("tcp", FAILED), check("disk", PASSED)]),
    ],
    nodes: [node("n1"), node("n2")],
  });

describe("diffRuns", () => {
  it("sorts checks into newly failing, newly passing, appeared, disappeared and otherwise changed", () => {
    const after = run({
      runId: "b",
      tasks: [
        task("fleet", "n1", 1, FAILED, [check("http", PASSED), check("tcp", PASSED), check("new", PASSED), check("disk", Status.SKIPPED)]),
        task("fleet", "n1", 2, FAILED, [check("http", FAILED), check("tcp", PASSED)]),
      ],
      nodes: [node("n1"), node("n2")],
    });
    const d = diffRuns(before(), after);
    const rows = (l: typeof d.newlyFailing) => l.map((c) => `${c.stage} ${c.node} ${c.check} ${c.before}>${c.after}`);
    expect(rows(d.newlyFailing)).toEqual(["fleet n1 http passed>failed"]);
    expect(rows(d.newlyPassing)).toEqual(["fleet n1 tcp failed>passed"]);
    expect(rows(d.appeared)).toEqual(["fleet n1 new >passed"]);
    expect(rows(d.disappeared)).toEqual(["fleet n1 old passed>"]);
    expect(rows(d.changed)).toEqual(["fleet n1 disk passed>skipped"]);
    expect(d.facts).toEqual([]);
  });

  it("counts a check as failing when any iteration failed", () => {
    const a = run({ runId: "a", tasks: [task("fleet", "n1", 1, PASSED, [check("http", PASSED)])] });
    const b = run({ runId: "b", tasks: [task("fleet", "n1", 1, PASSED, [check("http", PASSED)]), task("fleet", "n1", 2, FAILED, [check("http", FAILED)])] });
    expect(diffRuns(a, b).newlyFailing.map((c) => c.check)).toEqual(["http"]);
  });

  it("reports node facts that changed: kernel, OS release, packages, agent version, machine-id and hostname", () => {
    const a = run({ runId: "a", nodes: [node("n1", { packages: { podman: "4.3.1", nginx: "1.22.1" } })] });
    const b = run({
      runId: "b",
      nodes: [node("n1", { kernel: "6.1.0-20-amd64", release: "12.5", agent: "0.2.0", machineId: "mid-other", hostname: "n1b.lan", packages: [{ name: "podman", version: "4.9.3" }, { name: "bats", version: "1.10.0" }] })],
    });
    expect(diffRuns(a, b).facts).toEqual([
      { node: "n1", fact: "machine-id", before: "mid-n1", after: "mid-other" },
      { node: "n1", fact: "hostname", before: "n1.lan", after: "n1b.lan" },
      { node: "n1", fact: "agent version", before: "0.1.0", after: "0.2.0" },
      { node: "n1", fact: "kernel", before: "6.1.0-18-amd64", after: "6.1.0-20-amd64" },
      { node: "n1", fact: "os", before: "Debian GNU/Linux 12 (bookworm)", after: "Debian GNU/Linux 12.5 (bookworm)" },
      { node: "n1", fact: "package bats", before: "", after: "1.10.0" },
      { node: "n1", fact: "package podman", before: "4.3.1", after: "4.9.3" },
      { node: "n1", fact: "package nginx", before: "1.22.1", after: "" },
    ]);
  });

  it("lists nodes that joined or left instead of diffing their facts", () => {
    const d = diffRuns(run({ runId: "a", nodes: [node("n1"), node("n2")] }), run({ runId: "b", nodes: [node("n1"), node("n3")] }));
    expect([d.nodesAdded, d.nodesRemoved, d.facts]).toEqual([["n3"], ["n2"], []]);
  });

  it("tolerates facts that are not JSON", () => {
    const broken = create(NodeIdentitySchema, { name: "n1", machineId: "m", hostname: "h", agentVersion: "0.1.0", factsJson: "{not json" });
    const d = diffRuns(run({ runId: "a", nodes: [broken] }), run({ runId: "b", nodes: [node("n1", { machineId: "m", hostname: "h" })] }));
    expect(d.facts.map((f) => f.fact)).toEqual(["kernel", "os"]);
  });
});

describe("formatDiff", () => {
  it("says plainly when two runs do not differ", () => {
    const text = formatDiff(diffRuns(run({ runId: "a" }), run({ runId: "b" })));
    expect(text).toBe("diff a -> b (plan release)\n\nno difference in check outcomes or node facts");
  });

  it("shows a changed revision and each section with its count", () => {
    const a = run({ runId: "a", tasks: [task("fleet", "n1", 1, PASSED, [check("http", PASSED)])], nodes: [node("n1")] });
    const b = run({ runId: "b", planRevision: "rev2", tasks: [task("fleet", "n1", 1, FAILED, [check("http", FAILED)])], nodes: [node("n1", { kernel: "6.9" })] });
    expect(formatDiff(diffRuns(a, b))).toBe(
      [
        "diff a -> b (plan release)",
        "  plan revision changed: rev1 -> rev2 (plan or suites edited)",
        "",
        "newly failing (1)",
        "  fleet  n1  http  passed -> failed",
        "",
        "node facts changed (1)",
        "  n1  kernel  6.1.0-18-amd64 -> 6.9",
      ].join("\n"),
    );
  });
});
