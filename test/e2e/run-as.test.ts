// Issue 15, `user:` against real processes: a check run as nobody (Debian's own unprivileged user)
// is nobody, with nobody's HOME and XDG_RUNTIME_DIR, under `fleetgate-agent check` and through a
// coordinator, where the files its suite ships are nobody's to read and write; an unknown user is
// an error and never a pass; the coordinator stores whom each check ran as and every report says so.
// Switching users needs root (these tests run as root in CI) and util-linux's setpriv.
import { chmodSync, existsSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { needs, needsTool } from "../support/system-tools.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const root = process.getuid?.() === 0;
const ready = needs(root ? undefined : "running checks as another user (user:) needs root; run the tests as root") && needsTool("setpriv", "util-linux");
const GHOST = "fleetgate-no-such-user";
const capsh = needsTool("capsh", "libcap2-bin");

const LOCAL_SUITE = `suite: as-nobody
user: nobody
checks:
  - id: whoami
    command: { argv: [id, -un], expect: { stdout: nobody } }
  - id: environment
    # What it sees of itself: who, its HOME and XDG_RUNTIME_DIR, and the check's own env:.
    command: { argv: [sh, -c, 'echo "$(id -un) $HOME $XDG_RUNTIME_DIR $FROM_SUITE"'], env: { FROM_SUITE: kept }, expect: { stdout: "nobody /nonexistent /run/user/65534 kept" } }
  - id: as-root
    user: root
    command: { argv: [id, -un], expect: { stdout: root } }
  - id: disk
    disk: { path: /, free: { gte: 1 } }
`;

const GHOST_SUITE = `suite: ghost
checks:
  - id: would-pass
    user: ${GHOST}
    command: { argv: ["true"] }
`;

async function agentCheck(suite: string, ...flags: string[]) {
  const r = await execa(process.execPath, [AGENT_BIN, "check", suite, ...flags], { reject: false, stdin: "ignore" });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe.skipIf(!ready)("fleetgate-agent check with user:", () => {
  const ws = new Workspace();
  afterAll(() => ws.cleanup());

  it("runs the suite's checks as nobody, with nobody's HOME and XDG_RUNTIME_DIR and the check's env:, and says so", async () => {
    const r = await agentCheck(ws.write("nobody.suite.yaml", LOCAL_SUITE));
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ok {4}whoami +exit 0 \(as nobody\)/);
    expect(r.stdout).toMatch(/ok {4}environment +exit 0 \(as nobody\)/);
    expect(r.stdout).toMatch(/ok {4}as-root +exit 0 \(as root\)/);
    // Observed by the agent itself: no user.
    expect(r.stdout).toMatch(/ok {4}disk +[^\n]*on \/\n/);

    const json = JSON.parse((await agentCheck(ws.path("nobody.suite.yaml"), "--format", "json")).stdout) as { iterations: { results: { checkId: string; runAs?: string }[] }[] };
    expect(json.iterations[0]?.results.map((x) => [x.checkId, x.runAs])).toEqual([
      ["whoami", "nobody"],
      ["environment", "nobody"],
      ["as-root", "root"],
      ["disk", undefined],
    ]);
    const junit = (await agentCheck(ws.path("nobody.suite.yaml"), "--format", "junit")).stdout;
    expect(junit).toContain('<property name="run_as.whoami" value="nobody"/>');
  });

  it("reports a user the node does not have as an error naming the user and the node, exit 3, never a pass", async () => {
    const r = await agentCheck(ws.write("ghost.suite.yaml", GHOST_SUITE));
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain(`ERR   would-pass`);
    expect(r.stdout).toContain(`user '${GHOST}' does not exist on ${hostname()}`);
    expect(r.stdout).not.toMatch(/ok {4}would-pass/);
  });
});

// daemon (uid 1) exists on every Debian system; the agent runs as nobody in these.
const NON_ROOT_SUITE = `suite: from-a-system-user
checks:
  - id: as-daemon
    user: daemon
    # The check keeps none of the agent's capabilities.
    command: { argv: [sh, -c, 'id -un; grep -E "^Cap(Eff|Amb)" /proc/self/status'], expect: { stdout: { matches: "^daemon\\nCapEff:\\\\s+0+\\nCapAmb:\\\\s+0+$" } } }
  - id: stopped-on-timeout
    user: daemon
    timeout: 1s
    command: { argv: [sleep, "60"] }
`;

/** fleetgate-agent check run as nobody, through `wrap` (setpriv or capsh), as a unit's User= would. */
async function agentCheckAsNobody(wrap: string[], suite: string) {
  const started = Date.now();
  const r = await execa(wrap[0] as string, [...wrap.slice(1), `exec ${process.execPath} ${AGENT_BIN} check ${suite} --format json`], { reject: false, stdin: "ignore", cwd: "/" });
  const doc = JSON.parse(String(r.stdout) || "{}") as { iterations?: { results: { checkId: string; status: string; summary: string; stdoutTail?: string; runAs?: string }[] }[] };
  return { exitCode: r.exitCode, stderr: String(r.stderr), results: doc.iterations?.[0]?.results ?? [], ms: Date.now() - started };
}

/** The first directory above `path` that others (user nobody) cannot enter: a checkout in a 0700 temp dir. */
function closedToOthers(path: string): string | undefined {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
const closed = closedToOthers(AGENT_BIN);
const nobodyReachesAgent = needs(closed ? `an agent run as nobody needs the checkout open to others, and ${closed} is not; run: chmod o+x ${closed}` : undefined);

describe.skipIf(!ready || !nobodyReachesAgent)("an agent that is not root", () => {
  const ws = new Workspace();
  afterAll(() => ws.cleanup());
  // nobody must read the suite: the workspace is 0700 and root's.
  chmodSync(ws.dir, 0o755);
  const suite = ws.write("non-root.suite.yaml", NON_ROOT_SUITE);

  it("without CAP_SETUID, CAP_SETGID and CAP_KILL reports each check as another user an error saying what it needs, and runs none", async () => {
    const r = await agentCheckAsNobody(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "sh", "-c"], suite);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.results.map((x) => [x.checkId, x.status, x.runAs]), r.stderr).toEqual([
      ["as-daemon", "STATUS_ERROR", "daemon"],
      ["stopped-on-timeout", "STATUS_ERROR", "daemon"],
    ]);
    expect(r.results[0]?.summary).toBe("cannot run as user 'daemon': the agent runs as uid 65534 without CAP_SETUID, CAP_SETGID and CAP_KILL; running checks as another user needs root, or those three capabilities");
    expect(r.ms).toBeLessThan(30_000);
  });

  it.skipIf(!capsh)("with them as ambient capabilities runs the check as that user with no capabilities at all, and stops it on timeout", async () => {
    const ambient = ["capsh", "--caps=cap_setuid,cap_setgid,cap_kill+eip cap_setpcap+ep", "--keep=1", "--user=nobody", "--addamb=cap_setuid,cap_setgid,cap_kill", "--", "-c"];
    const r = await agentCheckAsNobody(ambient, suite);
    expect(r.results.map((x) => [x.checkId, x.status, x.runAs])).toEqual([
      ["as-daemon", "STATUS_PASSED", "daemon"],
      ["stopped-on-timeout", "STATUS_FAILED", "daemon"],
    ]);
    expect(r.results[0]?.stdoutTail).toMatch(/^daemon\nCapEff:\s+0{16}\nCapAmb:\s+0{16}\n$/);
    expect(r.results[1]?.summary).toBe("timed out after 1000 ms; process group killed");
    // The 60 s sleep of another user was killed, not waited for.
    expect(r.ms).toBeLessThan(30_000);
  });
});

const FLEET_SUITE = `suite: rootless
user: nobody
files: [probe.sh, data.txt]
checks:
  - id: probe
    # Shipped files are nobody's: read by a relative path, and by the absolute one ($PWD).
    command: { argv: [sh, ./probe.sh], env: { FROM_SUITE: kept }, expect: { stdout: "nobody /nonexistent /run/user/65534 kept shipped" } }
  - id: writes-its-work-dir
    command: { argv: [sh, -c, "echo x > ./out && id -un && pwd"], expect: { stdout: { contains: nobody } } }
  - id: ghost
    user: ${GHOST}
    command: { argv: ["true"] }
  - id: disk
    disk: { path: /, free: { gte: 1 } }
`;

interface Row {
  check_id: string;
  status: string;
  summary: string;
  run_as: string;
}

describe.skipIf(!ready)("user: through a coordinator", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let runId = "";

  beforeAll(async () => {
    ws.write("rootless.suite.yaml", FLEET_SUITE);
    ws.write("probe.sh", `printf '%s %s %s %s %s\\n' "$(id -un)" "$HOME" "$XDG_RUNTIME_DIR" "$FROM_SUITE" "$(cat "$PWD/data.txt")"\n`);
    ws.write("data.txt", "shipped");
    ws.write("plan.yaml", fleetPlan("run-as", "rootless.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("node-a online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    const before = new Set(queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs").map((r) => r.id));
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    // The ghost check errs, so the run is not GO whatever else (and the agent shares this host).
    expect(run.exitCode, run.stdout + run.stderr).not.toBe(0);
    runId = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs").map((r) => r.id).find((id) => !before.has(id)) ?? "";
    expect(runId).not.toBe("");
  });

  afterAll(() => ws.cleanup());

  it("runs the checks as nobody in a work dir nobody can read and write, errs on an unknown user, and stores whom each ran as", () => {
    const rows = queryDb<Row>(c.stateDir, "SELECT c.check_id, c.status, c.summary, c.run_as FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? ORDER BY c.started_at, c.rowid", runId);
    expect(rows.map((r) => [r.check_id, r.status, r.run_as])).toEqual([
      ["probe", "passed", "nobody"],
      ["writes-its-work-dir", "passed", "nobody"],
      ["ghost", "error", GHOST],
      ["disk", "passed", ""],
    ]);
    expect(rows.find((r) => r.check_id === "ghost")?.summary).toBe(`user '${GHOST}' does not exist on node-a`);
  });

  it("says whom each check ran as in the JUnit, CTRF, JSON, HTML and markdown reports", async () => {
    const report = async (format: string) => {
      const r = await coord(c, ["report", runId, "--format", format]);
      expect(r.exitCode, r.stderr).not.toBe(3);
      return r.stdout;
    };
    const junit = await report("junit");
    expect(junit).toContain('<property name="run_as.probe" value="nobody"/>');
    expect(junit).toContain(`<property name="run_as.ghost" value="${GHOST}"/>`);
    expect(junit).not.toContain("run_as.disk");

    const ctrf = JSON.parse(await report("ctrf")) as { results: { tests: { name: string; extra?: { check?: string; runAs?: string } }[] } };
    expect(ctrf.results.tests.filter((t) => t.extra?.check).map((t) => [t.extra?.check, t.extra?.runAs])).toEqual([
      ["probe", "nobody"],
      ["writes-its-work-dir", "nobody"],
      ["ghost", GHOST],
      ["disk", undefined],
    ]);

    const checks: { id: string; runAs?: string }[] = [];
    JSON.parse(await report("json"), (key, value) => (key === "checks" && Array.isArray(value) ? (checks.push(...value), value) : value));
    expect(checks.map((k) => [k.id, k.runAs])).toEqual([
      ["probe", "nobody"],
      ["writes-its-work-dir", "nobody"],
      ["ghost", GHOST],
      ["disk", undefined],
    ]);

    // The HTML report details the checks that did not pass.
    expect(await report("html")).toContain(`<p class="meta">ran as user ${GHOST}</p>`);
    expect(await report("md")).toContain(`user '${GHOST}' does not exist on node-a (as ${GHOST})`);
  });

  it("made that work dir outside the agent's 0700 state dir, and removed it when the task ended", () => {
    const [row] = queryDb<{ out: string }>(c.stateDir, "SELECT c.stdout_tail AS out FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? AND c.check_id = 'writes-its-work-dir'", runId);
    const dir = row?.out.trim().split("\n")[1] ?? "";
    expect(dir.startsWith(join(tmpdir(), "fleetgate-task-")), dir).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });
});
