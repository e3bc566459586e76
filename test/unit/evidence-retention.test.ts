import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkFreeSpace, freeSpaceError } from "../../coordinator/evidence/disk.js";
import { EvidenceRecorder } from "../../coordinator/evidence/recorder.js";
import { bundlesToPrune, pruneBundles, type BundleCandidate } from "../../coordinator/evidence/retention.js";
import { writeBundle } from "../../coordinator/evidence/write.js";
import { FleetgateError } from "../../shared/errors.js";
import { parsePlan } from "../../shared/model/plan.js";
import { coord } from "./evidence-cli.js";
import { planYaml, StateDir } from "./evidence-fixture.js";

const MiB = 1024 * 1024;
const T0 = 1_732_514_400_000;

describe("bundlesToPrune", () => {
  const b = (runId: string, extra: Partial<BundleCandidate> = {}): BundleCandidate => ({ runId, dir: `/runs/${runId}`, signedOff: false, running: false, ...extra });

  it("keeps the newest N and deletes the older ones", () => {
    expect(bundlesToPrune([b("r5"), b("r4"), b("r3"), b("r2"), b("r1")], 2).map((x) => x.runId)).toEqual(["r3", "r2", "r1"]);
  });

  it("never deletes a signed-off or running run's bundle, however old", () => {
    const newestFirst = [b("r5"), b("r4"), b("r3", { signedOff: true }), b("r2", { running: true }), b("r1")];
    expect(bundlesToPrune(newestFirst, 1).map((x) => x.runId)).toEqual(["r4", "r1"]);
  });

  it("deletes nothing when there are no more bundles than keep", () => {
    expect(bundlesToPrune([b("r2"), b("r1")], 2)).toEqual([]);
  });
});

describe("pruneBundles and coord prune", () => {
  let s: StateDir;

  beforeEach(async () => {
    s = new StateDir();
    // r1 (oldest) … r5 (newest); r1 signed off.
    for (let i = 1; i <= 5; i++) {
      s.addRun(`r${i}`, { createdAt: T0 + i * 60_000 });
      await writeBundle(s.db, `r${i}`, { root: s.root });
    }
    s.signOff("r1");
  });

  afterEach(() => s.close());

  const present = () => readdirSync(s.root).sort();

  it("keeps the newest bundles and the signed-off one, deletes the rest", async () => {
    const r = await pruneBundles(s.db, s.root, 2);
    expect(r.deleted.map((b) => b.runId)).toEqual(["r3", "r2"]);
    expect(present()).toEqual(["r1", "r4", "r5"]);
  });

  it("never deletes the bundle of a run still running, however old", async () => {
    s.addRun("r0", { createdAt: T0, finished: false });
    await writeBundle(s.db, "r0", { root: s.root });
    const r = await pruneBundles(s.db, s.root, 1);
    expect(r.deleted.map((b) => b.runId)).toEqual(["r4", "r3", "r2"]);
    expect(present()).toEqual(["r0", "r1", "r5"]);
  });

  it("never deletes a directory whose manifest does not name the run", async () => {
    // What sits at r2's place is not r2's bundle (someone's files): left alone.
    writeFileSync(join(s.root, "r2", "manifest.json"), '{"schema":"fleetgate.evidence/v1","run_id":"other","files":{}}');
    await pruneBundles(s.db, s.root, 2);
    expect(present()).toEqual(["r1", "r2", "r4", "r5"]);
  });

  it("coord prune --dry-run lists what would go and deletes nothing", async () => {
    const r = await coord("prune", "--state-dir", s.stateDir, "--keep", "2", "--dry-run");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `would delete r3 ${join(s.root, "r3")}\nwould delete r2 ${join(s.root, "r2")}\n2 to delete, 3 kept (the newest 2, and 1 signed off or running)\n`,
    );
    expect(present()).toEqual(["r1", "r2", "r3", "r4", "r5"]);
  });

  it("coord prune deletes, and refuses a state dir without coord.db", async () => {
    expect((await coord("prune", "--state-dir", s.stateDir, "--keep", "3")).stdout).toBe(`deleted r2 ${join(s.root, "r2")}\n1 deleted, 4 kept (the newest 3, and 1 signed off or running)\n`);
    expect(present()).toEqual(["r1", "r3", "r4", "r5"]);
    const r = await coord("prune", "--state-dir", s.root, "--keep", "1");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`no coord.db in ${s.root}; pass the coordinator's --state-dir`);
  });

  it("says in its help that it works on the coordinator's own files", async () => {
    const { Command } = await import("commander");
    const { registerEvidenceCommands } = await import("../../coordinator/cli/evidence-commands.js");
    const program = new Command("coord");
    registerEvidenceCommands(program);
    const help = program.commands.find((c) => c.name() === "prune")?.helpInformation() ?? "";
    expect(help).toContain("Local: run it on the coordinator's host");
  });
});

describe("EvidenceRecorder", () => {
  let s: StateDir;
  beforeEach(() => {
    s = new StateDir();
  });
  afterEach(() => s.close());

  const recorder = (freeBytes = 10_000 * MiB) => new EvidenceRecorder(s.db, { stateDir: s.stateDir, log: pino({ level: "silent" }), freeBytes: () => freeBytes });

  it("applies the plan's evidence.keep after each bundle, to that plan's runs", async () => {
    const ev = recorder();
    for (let i = 1; i <= 3; i++) {
      s.addRun(`r${i}`, { createdAt: T0 + i * 60_000, evidence: "{ keep: 2 }" });
      expect(await ev.record(`r${i}`)).toBe(join(s.root, `r${i}`));
    }
    expect(readdirSync(s.root).sort()).toEqual(["r2", "r3"]);
  });

  it("serialises writes of one run: a sign-off re-write lands after the finish write", async () => {
    const ev = recorder();
    s.addRun("r1");
    const first = ev.record("r1");
    s.signOff("r1");
    const second = ev.record("r1");
    await Promise.all([first, second]);
    expect(existsSync(join(s.root, "r1", "signoff.json"))).toBe(true);
  });

  it("lets every bundle being written finish before drain() resolves, so the coordinator closes the store after it", async () => {
    const ev = recorder();
    s.addRun("r1", { evidence: "{ keep: 2 }" });
    void ev.record("r1");
    await ev.drain();
    expect(existsSync(join(s.root, "r1", "manifest.json"))).toBe(true);
  });

  it("never rejects, even when the store closes under a write (the coordinator stopping)", async () => {
    const ev = recorder();
    s.addRun("r1", { evidence: "{ keep: 2 }" });
    const written = ev.record("r1");
    s.db.close();
    await expect(written).resolves.toSatisfy((v) => v === undefined || typeof v === "string");
  });

  it("logs and resolves undefined when a bundle cannot be written", async () => {
    expect(await recorder().record("no-such-run")).toBeUndefined();
  });

  it("refuses to start a run when the evidence disk is short, with the shortfall and what to do", () => {
    const plan = parsePlan(planYaml(), "gate.yaml");
    expect(() => recorder(120 * MiB).beforeRun(plan)).toThrow(`only 120 MiB free under ${s.root}; need 256 MiB: prune old runs with coord prune, or free space`);
    expect(() => recorder(300 * MiB).beforeRun(plan)).not.toThrow();
  });
});

describe("free space", () => {
  it("refuses below the floor as a conflict, with both figures", () => {
    const err = freeSpaceError("/var/lib/fleetgate/runs", 120 * MiB + 5, 512 * MiB);
    expect(err).toBeInstanceOf(FleetgateError);
    expect(err?.code).toBe("conflict");
    expect(err?.message).toBe("only 120 MiB free under /var/lib/fleetgate/runs; need 512 MiB: prune old runs with coord prune, or free space");
    expect(freeSpaceError("/x", 512 * MiB, 512 * MiB)).toBeUndefined();
  });

  it("measures the nearest existing ancestor of a root not created yet", () => {
    const asked: string[] = [];
    const probe = (dir: string) => {
      asked.push(dir);
      if (dir !== "/var") throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return 100 * MiB;
    };
    expect(() => checkFreeSpace("/var/lib/fleetgate/runs", 256 * MiB, probe)).toThrow("only 100 MiB free under /var/lib/fleetgate/runs");
    expect(asked).toEqual(["/var/lib/fleetgate/runs", "/var/lib/fleetgate", "/var/lib", "/var"]);
  });

  it("reads the real filesystem through statfs", () => {
    expect(() => checkFreeSpace(process.cwd(), 1)).not.toThrow();
    expect(() => checkFreeSpace(process.cwd(), Number.MAX_SAFE_INTEGER)).toThrow(/MiB free under/);
  });
});
