import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { walkBundle } from "../../coordinator/evidence/bundle-files.js";
import { sha256 } from "../../coordinator/evidence/manifest.js";
import { bundleDir, safeSegment, suiteFilePath, unsafePathReason } from "../../coordinator/evidence/paths.js";
import { signatureMatches } from "../../coordinator/evidence/signing.js";
import { sortedJson } from "../../coordinator/evidence/sorted-json.js";
import { verifyBundle } from "../../coordinator/evidence/verify.js";
import { writeBundle } from "../../coordinator/evidence/write.js";
import { guardedSink } from "../../coordinator/fleet/liveness-events.js";
import { AgentSessions, type AgentSession } from "../../coordinator/fleet/sessions.js";
import { recordNodeEvent } from "../../coordinator/store/node-events.js";
import { FleetgateError } from "../../shared/errors.js";
import { FLEET_SUITE, planYaml, SMOKE_SUITE, StateDir } from "./evidence-fixture.js";

let s: StateDir;
const NOW = Date.parse("2024-11-25T07:00:00Z");

beforeEach(() => {
  s = new StateDir();
});
afterEach(() => s.close());

const read = (dir: string, path: string) => readFileSync(join(dir, path), "utf8");
const readJson = (dir: string, path: string) => JSON.parse(read(dir, path)) as Record<string, unknown>;
const paths = async (dir: string) => (await walkBundle(dir)).map((e) => e.path);

describe("writeBundle layout", () => {
  it("writes the plan, suites, run, nodes and every task's result, output tails and inner cases", async () => {
    s.addRun("r1", { failFleet: true });
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });

    expect(dir).toBe(join(s.root, "r1"));
    expect(await paths(dir)).toEqual([
      "manifest.json",
      "nodes/n1/timeline.json",
      "nodes/n1.json",
      "nodes/prim/timeline.json",
      "nodes/prim.json",
      "plan.yaml",
      "run.json",
      "suites/_up_/common/fleet.yaml",
      "suites/suites/smoke.yaml",
      "tasks/fleet/n1/1/bats.junit.xml",
      "tasks/fleet/n1/1/bats.stdout.txt",
      "tasks/fleet/n1/1/result.json",
      "tasks/smoke/prim/1/echo.stdout.txt",
      "tasks/smoke/prim/1/result.json",
      "tasks/smoke/prim/2/echo.stderr.txt",
      "tasks/smoke/prim/2/echo.stdout.txt",
      "tasks/smoke/prim/2/result.json",
    ]);
    expect(read(dir, "plan.yaml")).toBe(planYaml());
    expect(read(dir, "suites/suites/smoke.yaml")).toBe(SMOKE_SUITE);
    expect(read(dir, "suites/_up_/common/fleet.yaml")).toBe(FLEET_SUITE);
  });

  it("keeps every attempt, the timings, the captured values and the tails of each check in result.json", async () => {
    s.addRun("r1");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    const retried = readJson(dir, "tasks/smoke/prim/2/result.json") as { status: string; checks: Record<string, unknown>[] };
    expect(retried.status).toBe("STATUS_PASSED");
    expect(retried.checks[0]).toMatchObject({
      checkId: "echo",
      attempts: 2,
      durationMs: "2005",
      stdoutTail: "hi\n",
      stderrTail: "slow start\n",
      attemptLog: [
        { passed: false, summary: "exit 1", durationMs: "5" },
        { passed: true, summary: "exit 0", durationMs: "5" },
      ],
    });
    expect((readJson(dir, "tasks/smoke/prim/1/result.json") as { checks: { captured: unknown }[] }).checks[0]?.captured).toEqual({ greeting: "hi" });
    expect(read(dir, "tasks/smoke/prim/2/echo.stderr.txt")).toBe("slow start\n");
  });

  it("writes inner test cases as JUnit XML, escaped, with the failure message", async () => {
    s.addRun("r1", { failFleet: true });
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => n === "testcase" }).parse(read(dir, "tasks/fleet/n1/1/bats.junit.xml")) as {
      testsuites: { testsuite: { name: string; hostname: string; tests: string; failures: string; testcase: { name: string; failure?: { message: string } }[] } };
    };
    const suite = doc.testsuites.testsuite;
    expect(suite).toMatchObject({ name: "bats", hostname: "n1.lan", tests: "2", failures: "1" });
    expect(suite.testcase.map((c) => c.name)).toEqual(["up", "serves <html>"]);
    expect(suite.testcase[1]?.failure?.message).toBe("expected 200, saw 503");
  });

  it("keeps run.json to the run itself (stages, skips, bindings, mode, revision) and the nodes' facts in nodes/", async () => {
    s.addRun("r1");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    const run = readJson(dir, "run.json") as { tasks: Record<string, unknown>[] } & Record<string, unknown>;
    expect(run).toMatchObject({
      runId: "r1",
      mode: "full",
      planRevision: "rev-1",
      stages: ["smoke", "fleet"],
      skips: [{ target: "matrix", reason: "no nested KVM", source: "--skip" }],
      bindings: [{ stageId: "x", role: "writer", node: "prim" }],
    });
    expect(run.nodes).toEqual([]);
    expect(run.tasks).toHaveLength(3);
    expect(run.tasks.map((t) => t.checks)).toEqual([[], [], []]);
    expect(readJson(dir, "nodes/prim.json")).toEqual({
      identity: { name: "prim", machineId: "11111111111111111111111111111111", bootId: "boot", hostname: "prim.lan", labels: { role: "primary" }, capabilities: [], agentVersion: "" },
      facts: { os: { distro: "Debian" }, memTotal: 8 },
    });
  });

  it("keeps an agent-chosen node name inside the bundle", async () => {
    s.addRun("r1", { nodeName: "../../escape" });
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    expect(await paths(dir)).toContain("nodes/_._.._escape.json");
    expect(await paths(dir)).toContain("nodes/_._.._escape/timeline.json");
    expect(await paths(dir)).toContain("tasks/fleet/_._.._escape/1/result.json");
    expect(readdirSync(s.stateDir).sort()).toEqual(["coord.db", "coord.db-shm", "coord.db-wal", "runs"]);
  });
});

describe("node timelines", () => {
  const START = 1_732_514_400_000; // addRun's createdAt: 2024-11-25T06:00:00Z; it finishes a minute later
  const agent = (address: string): AgentSession => ({ node: "n1", machineId: "m", bootId: "boot", address, send: () => {}, cancel: () => {}, close: () => {} });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("writes what the fleet recorded of each node, from a minute before the start to the finish, and the same bytes when written again", async () => {
    vi.useFakeTimers({ now: START - 3_600_000 });
    const fleet = new AgentSessions(25_000, guardedSink((e) => recordNodeEvent(s.db, e), pino({ level: "silent" })));
    const early = agent("10.0.0.7");
    fleet.add(early);
    vi.advanceTimersByTime(1_000);
    fleet.remove(early, "the agent ended its stream");
    vi.advanceTimersByTime(30_000); // lost an hour before the run: how it stood when the run began
    vi.setSystemTime(START - 30_000);
    const during = agent("10.0.0.8");
    fleet.add(during);
    vi.advanceTimersByTime(35_000);
    fleet.heard("n1");
    vi.advanceTimersByTime(5_000);
    fleet.remove(during, "the stream broke off without an end (agent killed or connection reset)");
    vi.advanceTimersByTime(25_000);
    vi.setSystemTime(START + 70_000);
    fleet.add(agent("10.0.0.8")); // after the finish: not the run's
    fleet.closeAll("test over");
    vi.useRealTimers();

    s.addRun("r1");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    expect(readJson(dir, "nodes/n1/timeline.json")).toEqual({
      node: "n1",
      from: "2024-11-25T05:59:00.000Z",
      to: "2024-11-25T06:01:00.000Z",
      previous: { at: "2024-11-25T05:00:25.000Z", kind: "lost", why: "node n1 lost: not heard from for 25 s", address: "10.0.0.7" },
      events: [
        { at: "2024-11-25T05:59:30.000Z", kind: "connected", why: "", address: "10.0.0.8" },
        { at: "2024-11-25T06:00:10.000Z", kind: "disconnected", why: "the stream broke off without an end (agent killed or connection reset)", address: "10.0.0.8" },
        { at: "2024-11-25T06:00:30.000Z", kind: "lost", why: "node n1 lost: not heard from for 25 s", address: "10.0.0.8" },
      ],
    });
    expect(readJson(dir, "nodes/prim/timeline.json")).toEqual({ node: "prim", from: "2024-11-25T05:59:00.000Z", to: "2024-11-25T06:01:00.000Z", previous: null, events: [] });
    const m = readJson(dir, "manifest.json") as { files: Record<string, string> };
    expect(m.files["nodes/n1/timeline.json"]).toBe(sha256(readFileSync(join(dir, "nodes/n1/timeline.json"))));

    const first = read(dir, "nodes/n1/timeline.json");
    recordNodeEvent(s.db, { node: "n1", at: START + 90_000, kind: "disconnected", why: "the agent ended its stream", address: "10.0.0.8" });
    s.signOff("r1");
    await writeBundle(s.db, "r1", { root: s.root, now: NOW + 1000 });
    expect(read(dir, "nodes/n1/timeline.json")).toBe(first);
    expect((await verifyBundle(dir)).ok).toBe(true);
  });
});

describe("manifest.json", () => {
  it("holds the sha256 of every other file, the run, plan, revision, verdict and time, with sorted keys", async () => {
    s.addRun("r1", { failFleet: true });
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    const text = read(dir, "manifest.json");
    const m = JSON.parse(text) as { files: Record<string, string> } & Record<string, unknown>;
    expect(text).toBe(sortedJson(m));
    expect(m).toMatchObject({ schema: "fleetgate.evidence/v1", run_id: "r1", plan: "release", plan_revision: "rev-1", created_at: "2024-11-25T07:00:00.000Z" });
    expect(m.verdict).toEqual({
      decision: "NO-GO",
      reasons: ["fleet on n1 #1: failed (1 of 1 checks failed)", "matrix skipped (--skip): no nested KVM"],
    });
    const onDisk = (await paths(dir)).filter((p) => p !== "manifest.json");
    // Same set; the manifest sorts by code unit ("n1.json" before "n1/"), the walk by name per directory.
    expect(Object.keys(m.files).sort()).toEqual([...onDisk].sort());
    for (const p of onDisk) expect(m.files[p]).toBe(sha256(readFileSync(join(dir, p))));
  });

  it("signs the manifest's exact bytes into manifest.sig when given a key", async () => {
    s.addRun("r1");
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW, signingKey: privateKey });
    expect(signatureMatches(readFileSync(join(dir, "manifest.json")), read(dir, "manifest.sig"), publicKey)).toBe(true);
    expect((await verifyBundle(dir, publicKey)).signature).toBe("good");
  });
});

describe("evidence.dir", () => {
  const loc = { root: "/var/lib/fleetgate/runs", stateDir: "/var/lib/fleetgate" };

  it("defaults to <root>/<run-id>, resolves a relative dir against the state dir, and expands ${run.id}", () => {
    expect(bundleDir(loc, "r1")).toBe("/var/lib/fleetgate/runs/r1");
    expect(bundleDir(loc, "r1", "evidence")).toBe("/var/lib/fleetgate/evidence/r1");
    expect(bundleDir(loc, "r1", "/srv/gate/integration-matrix-${run.id}")).toBe("/srv/gate/integration-matrix-r1");
  });

  it("refuses a dir with '..', since retention deletes what it points at", () => {
    expect(() => bundleDir(loc, "r1", "../../etc")).toThrow(FleetgateError);
    expect(() => bundleDir(loc, "r1", "ev/../..")).toThrow(/contains '\.\.'/);
  });

  it("writes the bundle where the plan's evidence.dir says", async () => {
    s.addRun("r1", { evidence: '{ dir: "evidence/gate-${run.id}" }' });
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    expect(dir).toBe(join(s.stateDir, "evidence", "gate-r1"));
    expect((await verifyBundle(dir)).ok).toBe(true);
  });

  it("maps names to safe segments and suite paths below suites/", () => {
    expect(safeSegment("..")).toBe("_.");
    expect(safeSegment("a b/c")).toBe("a_b_c");
    expect(suiteFilePath("/etc/../../x.yaml")).toBe("suites/x.yaml");
    expect(suiteFilePath("../../x.yaml")).toBe("suites/_up_/_up_/x.yaml");
    for (const p of ["../x", "/etc/passwd", "a/../../b", "a//b", "", "a\\b"]) expect(unsafePathReason(p), p).toBeDefined();
    expect(unsafePathReason("tasks/smoke/prim/1/result.json")).toBeUndefined();
  });
});

describe("atomic writes", () => {
  it("leaves the previous bundle in place and intact when a re-write fails midway", async () => {
    s.addRun("r1");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    const before = read(dir, "manifest.json");
    s.signOff("r1");
    // A public key cannot sign: the failure comes after every file but the manifest was written.
    const { publicKey } = generateKeyPairSync("ed25519");
    await expect(writeBundle(s.db, "r1", { root: s.root, now: NOW + 1, signingKey: publicKey })).rejects.toThrow();

    expect(read(dir, "manifest.json")).toBe(before);
    expect(existsSync(join(dir, "signoff.json"))).toBe(false);
    expect((await verifyBundle(dir)).ok).toBe(true);
    const partial = join(s.root, ".partial-r1");
    expect(existsSync(join(partial, "signoff.json"))).toBe(true);
    expect(existsSync(join(partial, "manifest.json"))).toBe(false);
    expect((await verifyBundle(partial)).problems.map((p) => p.message)).toEqual(["missing: manifest.json (not an evidence bundle, or its write never finished)"]);
  });

  it("repairs what a crash between the renames leaves (old bundle aside, none in place)", async () => {
    s.addRun("r1");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    mkdirSync(join(s.root, ".partial-r1", "tasks"), { recursive: true });
    writeFileSync(join(s.root, ".partial-r1", "tasks", "stale.json"), "{}");
    const { renameSync } = await import("node:fs");
    renameSync(dir, join(s.root, ".previous-r1"));

    await writeBundle(s.db, "r1", { root: s.root, now: NOW });
    expect(readdirSync(s.root)).toEqual(["r1"]);
    expect((await verifyBundle(dir)).ok).toBe(true);
    expect(existsSync(join(dir, "tasks", "stale.json"))).toBe(false);
  });

  it("re-writes after sign-off: signoff.json is added and the manifest and signature replaced", async () => {
    s.addRun("r1");
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const { dir } = await writeBundle(s.db, "r1", { root: s.root, now: NOW, signingKey: privateKey });
    const firstSig = read(dir, "manifest.sig");
    s.signOff("r1");
    await writeBundle(s.db, "r1", { root: s.root, now: NOW + 1000, signingKey: privateKey });

    expect(readJson(dir, "signoff.json")).toEqual({ by: "alice", atMs: "1732600000000", accepted: [{ target: "matrix", reason: "KVM host ordered", source: "sign-off" }], acceptedOverrides: [], waivers: [] });
    const m = readJson(dir, "manifest.json") as { files: Record<string, string>; verdict: { decision: string } };
    expect(Object.keys(m.files)).toContain("signoff.json");
    expect(m.verdict.decision).toBe("GO");
    expect(read(dir, "manifest.sig")).not.toBe(firstSig);
    expect(await verifyBundle(dir, publicKey)).toMatchObject({ ok: true, signature: "good" });
  });
});
