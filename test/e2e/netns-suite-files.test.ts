// Suite files through a real coordinator and agent (issue 14): the archy suite's bats step runs
// `bats tests/lifecycle/apps.bats`, which worked with `fleetgate-agent check` in the repo but
// failed through the coordinator (`cd: tests/lifecycle: No such file or directory`). With
// `files: [tests/lifecycle/**]` the tree travels with the task to a namespace node whose agent
// runs elsewhere, is unpacked into a per-task work dir, and is gone once the task ended.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument, stringify } from "yaml";
import { execa } from "execa";
import { AGENT_BIN, waitFor } from "../../scripts/local-fleet.js";
import { FIXTURES } from "../fakes/scenario.js";
import { createNetnsFleet, type NetnsFleet } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";
import { needsTool } from "../support/system-tools.js";
import { fleetPlan, queryDb } from "./fixtures.js";

const runs = [needsNetnsHost(), needsTool("bats", "bats")].every(Boolean);

const TREE: Record<string, string> = {
  // `load` resolves beside the .bats file, `cd` and `cat` against the work dir: both must be there.
  "tests/lifecycle/apps.bats": `load helpers/common

@test "runs in the work dir its suite's files were unpacked into" {
  [ -f tests/lifecycle/apps.bats ]
  echo "$PWD $(stat -c %a .)" > "$FG_WHERE_FILE"
}

@test "reads the tree it shipped with" {
  cd tests/lifecycle
  [ "$(apps_listed)" = "lnd electrumx" ]
}

@test "sees the environment the suite gives it" {
  [ "$ARCHY_HOST" = 127.0.0.1 ] && [ "$ARCHY_SCHEME" = https ] && [ -n "$ARCHY_PASSWORD" ]
}
`,
  "tests/lifecycle/helpers/common.bash": `apps_listed() { cat fixtures/apps.txt; }\n`,
  "tests/lifecycle/fixtures/apps.txt": "lnd electrumx\n",
};

/** The archy example's own lifecycle-bats step, in a suite of its own, with or without files:. */
function archyBatsSuite(files: boolean): string {
  const archy = parseDocument(readFileSync(resolve(FIXTURES, "../examples/archy-node.suite.yaml"), "utf8")).toJS() as {
    vars: Record<string, string>;
    checks: { id: string }[];
  };
  const step = archy.checks.find((c) => c.id === "lifecycle-bats");
  if (!step) throw new Error("the archy example has no lifecycle-bats step");
  return stringify({ suite: "archy-lifecycle-bats", vars: archy.vars, ...(files ? { files: ["tests/lifecycle/**"] } : {}), checks: [step] });
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe.skipIf(!runs)("suite files on a network-namespace node", () => {
  let fleet: NetnsFleet;
  let plans = "";
  // Where the bats test writes down where it ran: a file outside the work dir, read after it is gone.
  const outside = mkdtempSync(join(tmpdir(), "fg-suite-files-"));
  const whereFile = join(outside, "where.txt");
  const lastRun = () => queryDb<{ id: string }>(fleet.coordinator.stateDir, "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1")[0]?.id ?? "";
  const workRoot = () => join(fleet.node("archy").stateDir, "work");

  beforeAll(async () => {
    fleet = await createNetnsFleet({ nodes: [{ name: "archy", labels: { role: "fleet" }, env: { ARCHY_PASSWORD: "s3cret-unused", FG_WHERE_FILE: whereFile } }] });
    plans = join(fleet.coordinator.stateDir, "..", "plans");
    for (const [path, text] of Object.entries(TREE)) {
      mkdirSync(join(plans, path, ".."), { recursive: true });
      writeFileSync(join(plans, path), text);
    }
    writeFileSync(join(plans, "archy.suite.yaml"), archyBatsSuite(true));
    writeFileSync(join(plans, "bare.suite.yaml"), archyBatsSuite(false));
    writeFileSync(join(plans, "archy.plan.yaml"), fleetPlan("archy-files", "archy.suite.yaml"));
    writeFileSync(join(plans, "bare.plan.yaml"), fleetPlan("archy-bare", "bare.suite.yaml"));
    // The agent runs where the test runs, which has no tests/lifecycle: only a shipped tree can pass.
    expect(existsSync(resolve("tests/lifecycle"))).toBe(false);
  }, 120_000);

  afterAll(async () => {
    await fleet?.cleanup();
    rmSync(outside, { recursive: true, force: true });
  });

  it("passes its bats step through a coordinator on a namespace node with the bats tree shipped", async () => {
    const r = await fleet.coord(["run", "all", "--plan", join(plans, "archy.plan.yaml")]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const runId = lastRun();
    const checks = queryDb<{ check_id: string; status: string; summary: string }>(
      fleet.coordinator.stateDir,
      "SELECT c.check_id, c.status, c.summary FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?",
      runId,
    );
    expect(checks).toEqual([{ check_id: "lifecycle-bats", status: "passed", summary: "3/3 passed" }]);

    // It ran in a 0700 work dir under the agent's state dir, which is gone now the task is over.
    const [cwd, mode] = readFileSync(whereFile, "utf8").trim().split(" ");
    expect(cwd?.startsWith(`${workRoot()}/`), cwd).toBe(true);
    expect(mode).toBe("700");
    expect(existsSync(cwd as string)).toBe(false);
    expect(readdirSync(workRoot())).toEqual([]);

    // The evidence bundle names every shipped file with its sha256, under the manifest's hash.
    const bundle = join(fleet.coordinator.stateDir, "runs", runId);
    await waitFor("the run's evidence bundle", () => existsSync(join(bundle, "manifest.json")) || undefined);
    const shipped = JSON.parse(readFileSync(join(bundle, "suite-files.json"), "utf8")) as Record<string, { path: string; sha256: string; bytes: number }[]>;
    expect(shipped["archy.suite.yaml"]?.map((f) => [f.path, f.sha256])).toEqual(Object.keys(TREE).sort().map((p) => [p, sha256(TREE[p] as string)]));
    const manifest = readFileSync(join(bundle, "manifest.json"), "utf8");
    expect(manifest).toContain("suite-files.json");
  }, 60_000);

  it("fails the same step without files:, as the issue saw it: the tree is not on the node", async () => {
    const r = await fleet.coord(["run", "all", "--plan", join(plans, "bare.plan.yaml")]);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    const [check] = queryDb<{ status: string; summary: string }>(
      fleet.coordinator.stateDir,
      "SELECT c.status, c.summary FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?",
      lastRun(),
    );
    expect(check?.status).toBe("failed");
    expect(check?.summary).toMatch(/cd: tests\/lifecycle: No such file or directory/);
    expect(readdirSync(workRoot())).toEqual([]);
  }, 60_000);

  it("removes work dirs a killed agent left behind when it starts again", async () => {
    await fleet.killAgent("archy");
    mkdirSync(join(workRoot(), "task-left-by-a-crash", "tests"), { recursive: true });
    writeFileSync(join(workRoot(), "task-left-by-a-crash", "tests", "apps.bats"), "x");
    fleet.startAgent("archy");
    await fleet.waitOnline(["archy"]);
    await waitFor("the stale work dir removed", () => readdirSync(workRoot()).length === 0 || undefined);
  }, 60_000);
});

describe.skipIf(!needsTool("bats", "bats"))("fleetgate-agent check and suite files", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fg-check-files-"));
    for (const [path, text] of Object.entries(TREE)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    writeFileSync(join(dir, "archy.suite.yaml"), archyBatsSuite(true));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("resolves relative paths beside the suite, wherever it is started from, as a task does in its work dir", async () => {
    const where = join(dir, "where.txt");
    const r = await execa(process.execPath, [AGENT_BIN, "check", join(dir, "archy.suite.yaml")], {
      cwd: "/",
      env: { ARCHY_PASSWORD: "s3cret-unused", FG_WHERE_FILE: where },
      reject: false,
      stdin: "ignore",
    });
    expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toContain("3/3 passed");
    expect(readFileSync(where, "utf8").split(" ")[0]).toBe(dir);
  });

  it("refuses a files: entry that matches nothing, at its location, before running anything", async () => {
    writeFileSync(join(dir, "typo.suite.yaml"), archyBatsSuite(true).replace("tests/lifecycle/**", "tests/lifecycel/**"));
    const r = await execa(process.execPath, [AGENT_BIN, "check", join(dir, "typo.suite.yaml")], { reject: false, stdin: "ignore", env: { ARCHY_PASSWORD: "x" } });
    expect(r.exitCode).toBe(3);
    expect(String(r.stderr)).toMatch(/typo\.suite\.yaml:\d+:\d+ files: tests\/lifecycel\/\*\* matches no file in /);
  });
});
