// Issue 12 against real processes: an agent whose spool cannot be written, and one whose spool
// was damaged while it was down. Neither may crash the agent or leave a run waiting; the node
// says what is wrong (`coord nodes`), and every intact result is still delivered.
// `npm run build` first, like every e2e test. The read-only mount needs root.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { SPOOL_DIR } from "../../agent/daemon/spool.js";
import { encodeRecord } from "../../agent/daemon/spool/records.js";
import { scanSpool, segmentFile } from "../../agent/daemon/spool/scan.js";
import { needs } from "../support/system-tools.js";
import { queryDb, Workspace } from "./fixtures.js";

const root = process.getuid?.() === 0;
const NODE = "node-a";

const plan = `
plan: spool
stages:
  - id: fleet
    kind: fleet
    suite: s.suite.yaml
    nodes: { role: fleet }
`;

interface NodeJson {
  identity: { name: string };
  online?: boolean;
  health?: { degraded?: string; warnings?: string[] };
}

async function nodeJson(c: Coordinator): Promise<NodeJson | undefined> {
  const r = await coord(c, ["nodes", "--json"]);
  return (JSON.parse(r.stdout) as NodeJson[]).find((n) => n.identity.name === NODE);
}

function task(c: Coordinator): { status: string; summary: string } | undefined {
  return queryDb<{ status: string; summary: string }>(c.stateDir, "SELECT status, summary FROM tasks")[0];
}

describe("an agent whose spool cannot be written", () => {
  let ws: Workspace;
  let mounted = "";
  afterEach(async () => {
    await Promise.all(ws.procs.map((p) => p.stop("SIGKILL")));
    if (mounted) execFileSync("umount", ["-l", mounted]);
    mounted = "";
    await ws.cleanup();
  });

  // The spool directory alone, or the whole state dir (journal and node token too) on a read-only disk.
  it.skipIf(!needs(root ? undefined : "mounting a read-only tmpfs needs root; run the tests as root")).each([
    { what: "its spool directory", readOnly: SPOOL_DIR, refused: "open '<spool>/seg-\\d+\\.log'" },
    { what: "its whole state dir", readOnly: "", refused: "mkdir '<spool>'" },
  ])(
    "stays up when $what is read-only, shows degraded in coord nodes, and ends a task sent to it as an error naming EROFS, so the run ends",
    async ({ readOnly, refused }) => {
      ws = new Workspace();
      const stateDir = ws.path(NODE);
      mounted = join(stateDir, readOnly);
      mkdirSync(mounted, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mounted]);
      const spoolDir = join(stateDir, SPOOL_DIR);
      ws.write("s.suite.yaml", "suite: s\nchecks:\n  - id: ok\n    command: { argv: [\"true\"] }\n");
      ws.write("plan.yaml", plan);
      const c = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"]));
      const token = (await coord(c, ["token", "create"])).stdout.trim();
      const agent = ws.track(startAgent({ name: NODE, address: c.address, token, stateDir, labels: { role: "fleet" } }));
      await waitFor(`${NODE} online`, async () => ((await onlineNodes(c)).includes(NODE) ? true : undefined));

      const reason = new RegExp(`^spool unwritable: EROFS: read-only file system, ${refused.replace("<spool>", spoolDir)}; the node cannot record results$`);
      expect((await nodeJson(c))?.health?.degraded).toMatch(reason);
      const table = await coord(c, ["nodes"]);
      expect(table.stdout).toMatch(new RegExp(`^${NODE}\\s+fleet\\s+degraded\\s+now\\s.*degraded: spool unwritable: EROFS`, "m"));

      const run = await ws.track(coordInBackground(c, ["run", "fleet", "--plan", ws.path("plan.yaml")])).result;
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stdout).toMatch(/: INCOMPLETE/);
      expect(task(c)?.status).toBe("error");
      expect(task(c)?.summary).toMatch(reason);
      expect(queryDb(c.stateDir, "SELECT * FROM check_results")).toEqual([]);
      // Still up and connected, not in a restart loop.
      expect(agent.process.exitCode).toBeNull();
      expect(await onlineNodes(c)).toEqual([NODE]);
      expect(agent.stderr()).toMatch(/"msg":"spool unwritable: EROFS: read-only file system[^"]*; new tasks are refused until it is writable again"/);
      // The task journal and the node token live there too: neither stops the agent.
      if (!readOnly) expect(agent.stderr()).toMatch(/task journal unwritable: EROFS: read-only file system[^"]*; tasks sent to this node end as errors/);
      if (!readOnly) expect(agent.stderr()).toContain("cannot save the node token in the state dir");
    },
  );
});

describe("an agent whose spool was damaged while it was down", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  it("starts, names the file and offset of each damaged record, keeps and delivers the intact ones, and the node shows the warnings", async () => {
    ws = new Workspace();
    // c2 prints a marker so the test can find its record; `slow` keeps the task going after the coordinator dies.
    ws.write(
      "s.suite.yaml",
      [
        "suite: s",
        "checks:",
        '  - id: c1\n    command: { argv: ["true"] }',
        "  - id: slow\n    command: { argv: [sleep, \"2\"] }",
        "  - id: c2\n    command: { argv: [echo, MARKER-OF-C2] }",
        "  - id: c3\n    command: { argv: [echo, c3-output] }",
        "",
      ].join("\n"),
    );
    ws.write("plan.yaml", plan);
    const stateDir = ws.path(NODE);
    const first = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"]));
    const token = (await coord(first, ["token", "create"])).stdout.trim();
    let agent: Proc = ws.track(startAgent({ name: NODE, address: first.address, token, stateDir, labels: { role: "fleet" } }));
    await waitFor(`${NODE} online`, async () => ((await onlineNodes(first)).includes(NODE) ? true : undefined));
    const run = ws.track(coordInBackground(first, ["run", "fleet", "--plan", ws.path("plan.yaml")]));
    await waitFor("c1's result", () => queryDb(first.stateDir, "SELECT 1 FROM check_results WHERE check_id = 'c1'").length > 0 || undefined);
    await first.stop("SIGKILL");
    // coord run would follow the run again once a coordinator is back; this test needs it no more.
    await waitFor("coord run to say it lost the watch", () => run.stderr().includes("coord: lost the watch of run") || undefined);
    await run.stop();

    // With the coordinator away the agent spools the rest: slow, c2, c3 and the task's end.
    const spoolDir = join(stateDir, SPOOL_DIR);
    await waitFor("the rest of the task spooled", () => (scanSpool(spoolDir).pending.size >= 4 ? true : undefined), 15_000);
    await agent.stop("SIGKILL");

    // Damage: one flipped byte in c2's record, and a record torn at the end of the file.
    const [segment] = scanSpool(spoolDir).segments;
    const file = segmentFile(spoolDir, segment?.n as number);
    const bytes = readFileSync(file);
    const marker = bytes.indexOf("MARKER-OF-C2");
    expect(marker).toBeGreaterThan(0);
    const damagedAt = bytes.lastIndexOf(Buffer.from("FGR1"), marker);
    bytes.writeUInt8(bytes.readUInt8(marker) ^ 0x04, marker);
    writeFileSync(file, bytes);
    const tornAt = statSync(file).size;
    appendFileSync(file, encodeRecord(Buffer.alloc(4000, 1)).subarray(0, 1000));

    const second = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"], first.address));
    agent = ws.track(startAgent({ name: NODE, address: second.address, token, stateDir, labels: { role: "fleet" } }));
    await waitFor("the resumed run to end", () => (queryDb<{ status: string }>(second.stateDir, "SELECT status FROM runs")[0]?.status !== "running" ? true : undefined), 30_000);

    const damaged = `spool: ${file}: damaged record at offset ${damagedAt} (`;
    const torn = `spool: ${file}: torn record at offset ${tornAt} (1000 bytes to the end of the file: a write cut short by a crash) dropped; the records before it are kept`;
    expect(agent.stderr()).toContain(damaged);
    expect(agent.stderr()).toContain(torn);
    expect(agent.stderr()).toMatch(new RegExp(`"file":"${file}","offset":${damagedAt}`));
    // Every intact record delivered; c2's result is the one the damage took. The task's own end
    // (sent by the agent, which saw every check) still came through, so the task is not left waiting.
    const checks = queryDb<{ check_id: string }>(second.stateDir, "SELECT check_id FROM check_results ORDER BY started_at").map((r) => r.check_id);
    expect(checks).toEqual(["c1", "slow", "c3"]);
    expect(task(second)?.status).toBe("passed");
    expect(agent.process.exitCode).toBeNull();
    const warnings = (await nodeJson(second))?.health?.warnings ?? [];
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain(damaged);
    expect(warnings[1]).toBe(torn);
    expect((await coord(second, ["nodes"])).stdout).toContain(torn);
  });
});
