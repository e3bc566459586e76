// A rollout survives its coordinator: killed (SIGKILL) while a node applies the change, a
// restarted coordinator follows the same phase run to its end and goes on — the apply step ran
// exactly once, nothing is started twice — and a held rollout is still held after a restart and
// can be approved there. Real coordinator, real agents, real SQLite, on loopback.
import { appendFileSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = `suite: health
checks:
  - id: version-ok
    command: { shell: 'test -f "$APP_DIR/version" && ! grep -q broken "$APP_DIR/version"' }
`;

const PLAN = `plan: app
stages:
  - id: health
    kind: fleet
    suite: health.suite.yaml
`;

/** A change whose apply step appends to a log (so repeats show) and takes a while. */
const change = (version: string, hold = "") => `change: app-${version}
version: "${version}"
facts:
  - id: version
    command: { argv: [cat, "\${env.APP_DIR}/version"] }
    capture: { version: { regex: "^(\\\\S+)" } }
snapshot:
  - id: save
    command: { shell: 'cp "$APP_DIR/version" "$APP_DIR/version.snap"' }
apply:
  - id: install
    command: { shell: 'echo "apply ${version}" >> "$APP_DIR/applies.log" && sleep 3 && echo ${version} > "$APP_DIR/version"' }
rollback:
  - id: restore
    command: { shell: 'cp "$APP_DIR/version.snap" "$APP_DIR/version"' }
gate:
  stages: [health]
${hold}`;

interface RolloutJson {
  id: string;
  status: string;
  nodes: { name: string; phase: string; outcome?: string; approval?: string; runs?: { phase: string; runId: string }[] }[];
  notes?: string[];
}

async function show(c: Coordinator, id: string): Promise<RolloutJson> {
  const r = await coord(c, ["rollout", "show", id, "--json"]);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RolloutJson;
}

describe("rollouts across a coordinator restart", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  async function fleet(): Promise<{ c: Coordinator; appDir: (n: string) => string }> {
    ws = new Workspace();
    ws.write("health.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    const appDir = (n: string) => ws.path(`app-${n}`);
    const c = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"]));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    // dev-1 is a developer's node: a rollout leaves it out unless asked for it.
    for (const [name, role] of [["alpha", "primary"], ["beta", "fleet"], ["dev-1", "dev"]] as const) {
      mkdirSync(appDir(name));
      writeFileSync(`${appDir(name)}/version`, "1.0.0\n");
      ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels: { role }, env: { APP_DIR: appDir(name) } }));
    }
    await waitFor("alpha, beta and dev-1 online", async () => ((await onlineNodes(c)).length === 3 ? true : undefined), 30_000);
    return { c, appDir };
  }

  it("follows the apply run a killed coordinator started, runs it once, and completes the rollout", async () => {
    const { c: first, appDir } = await fleet();
    ws.write("change.yaml", change("1.1.0"));
    const dry = await coord(first, ["rollout", "--plan", ws.path("plan.yaml"), "--change", ws.path("change.yaml"), "--dry-run", "--json"]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as RolloutJson).notes).toEqual(["dev-1 left out: role=dev (name it with --node dev-1, or select --nodes role=dev)"]);
    const start = await coord(first, ["rollout", "--plan", ws.path("plan.yaml"), "--change", ws.path("change.yaml"), "--detach"]);
    expect(start.exitCode, start.stderr).toBe(0);
    const id = start.stdout.trim();
    // alpha is applying: its log has the line, its version is not written yet.
    await waitFor("alpha's apply to start", () => (readFileSync(`${appDir("alpha")}/applies.log`, { encoding: "utf8", flag: "a+" }).includes("apply") ? true : undefined), 30_000);
    await first.stop("SIGKILL");
    const second = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"], first.address));

    const watch = await coord(second, ["rollout", "watch", id]);
    expect(watch.exitCode, watch.stdout + watch.stderr).toBe(0);
    const r = await show(second, id);
    expect(r.status).toBe("completed");
    expect(r.nodes.map((n) => [n.name, n.outcome])).toEqual([
      ["alpha", "changed"],
      ["beta", "changed"],
    ]);
    expect(readFileSync(`${appDir("dev-1")}/version`, "utf8")).toBe("1.0.0\n");
    // Exactly once on each node, across the restart: no phase was started twice.
    for (const n of ["alpha", "beta"]) expect(readFileSync(`${appDir(n)}/applies.log`, "utf8")).toBe("apply 1.1.0\n");
    const phases = queryDb<{ node: string; phase: string; n: number }>(
      second.stateDir,
      "SELECT json_extract(options_json, '$.rollout.node') AS node, json_extract(options_json, '$.rollout.phase') AS phase, COUNT(*) AS n FROM runs WHERE json_extract(options_json, '$.rollout.rollout') = ? GROUP BY 1, 2 ORDER BY 1, 2",
      id,
    );
    expect(phases.every((p) => p.n === 1), JSON.stringify(phases)).toBe(true);
    expect(phases.map((p) => `${p.node}/${p.phase}`)).toEqual(["alpha/apply", "alpha/facts", "alpha/facts_after", "alpha/gate", "alpha/snapshot", "beta/apply", "beta/facts", "beta/facts_after", "beta/gate", "beta/snapshot"]);
    // Known-good facts advanced on both nodes, by this rollout.
    expect(queryDb(second.stateDir, "SELECT node, fact, value, rollout_id FROM known_good_facts ORDER BY node")).toEqual([
      { node: "alpha", fact: "version", value: "1.1.0", rollout_id: id },
      { node: "beta", fact: "version", value: "1.1.0", rollout_id: id },
    ]);
  }, 120_000);

  it("refuses a second rollout on nodes it holds, is still held after a restart, refuses approval without a reason, and goes on when approved there", async () => {
    const { c: first, appDir } = await fleet();
    ws.write("major.yaml", change("2.0.0", "hold:\n  - major_bump: version\n"));
    const held = await coord(first, ["rollout", "--plan", ws.path("plan.yaml"), "--change", ws.path("major.yaml")]);
    expect(held.exitCode, held.stderr).toBe(2);
    expect(held.stdout).toMatch(/alpha: held: major bump: version 1\.0\.0 → 2\.0\.0/);
    const id = /rollout (ro-\S+) started/.exec(held.stderr)?.[1] as string;
    // One rollout at a time per node: a second one is refused while this one holds them.
    ws.write("minor.yaml", change("1.0.1"));
    const other = await coord(first, ["rollout", "--plan", ws.path("plan.yaml"), "--change", ws.path("minor.yaml")]);
    expect(other.exitCode).toBe(3);
    expect(other.stderr).toContain(`rollout ${id} (change app-2.0.0) is still going on alpha, beta: one rollout at a time per node; wait for it, or coord rollout abort ${id}`);
    await first.stop("SIGKILL");
    const second = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"], first.address));
    expect((await show(second, id)).status).toBe("held");
    appendFileSync(`${appDir("alpha")}/applies.log`, "");
    expect(readFileSync(`${appDir("alpha")}/applies.log`, "utf8")).toBe("");

    const noReason = await coord(second, ["rollout", "resume", id, "--approve", "--reason", " "]);
    expect(noReason.exitCode).toBe(3);
    expect(noReason.stderr).toMatch(/needs --reason TEXT/);
    const ok = await coord(second, ["rollout", "resume", id, "--approve", "--reason", "migration rehearsed"]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const watch = await coord(second, ["rollout", "watch", id]);
    expect(watch.exitCode, watch.stdout + watch.stderr).toBe(0);
    const r = await show(second, id);
    expect(r.nodes.map((n) => [n.name, n.outcome, n.approval])).toEqual([
      ["alpha", "changed", "approved by admin: migration rehearsed"],
      ["beta", "changed", "approved by admin: migration rehearsed"],
    ]);
    expect(readFileSync(`${appDir("beta")}/version`, "utf8")).toBe("2.0.0\n");
    // Approving again: nothing is held any more.
    const again = await coord(second, ["rollout", "resume", id, "--approve", "--reason", "x"]);
    expect(again.exitCode).toBe(3);
    expect(again.stderr).toMatch(/is completed; it can no longer be changed/);
  }, 120_000);
});
