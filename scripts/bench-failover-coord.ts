// `npm run bench -- failover`, its second half (issue 19): the failover of real coordinators, not
// of the election alone. Two `coord serve` sharing one PostgreSQL database and three real agents
// given both addresses, all on loopback; the active coordinator SIGKILLed, timed to the standby's
// "now the active one" log line and to every agent registered with it. With the default lease and
// with --lease 3s. test/e2e/ha-failover.test.ts asserts the same on netns nodes; this measures it.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_TIMINGS, leaseTimings } from "../coordinator/ha/leadership.js";
import { ADMIN_TOKEN_FILE, ensureAdminToken } from "../coordinator/server/admin-token.js";
import { initCa } from "../coordinator/tls/ca-files.js";
import { CA_CERT_FILE, CA_KEY_FILE, caCertPath, tlsDir } from "../coordinator/tls/paths.js";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import { formatNumber, type BenchResult, type Row } from "./bench-report.js";
import { summarize } from "./bench-stats.js";
import { freePort } from "../test/harness/free-port.js";
import { coord, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "./local-fleet.js";

/** SIGKILLs of the active coordinator per setting: alone, and in the whole bench (its 10 minutes). */
export const COORDINATOR_KILLS = { alone: 5, whole: 3 } as const;
const AGENTS = 3;
const ACTIVE_LINE = "this coordinator is now the active one";

/** pino's time (ms since the epoch) of each line of `log` whose msg starts with `msg`, and its fields. */
function logLines(log: string, msg: string): { time: number; node?: string }[] {
  const out: { time: number; node?: string }[] = [];
  for (const line of log.split("\n")) {
    if (!line.includes(msg)) continue;
    try {
      const l = JSON.parse(line) as { time: number; msg: string; node?: string };
      if (l.msg.startsWith(msg)) out.push({ time: l.time, node: l.node });
    } catch {
      // not a log line
    }
  }
  return out;
}

interface Figures {
  takeover: number[];
  agents: number[];
}

/** One setting: a fresh database, two coordinators, three agents, `kills` SIGKILLs of whichever is active. */
async function measure(url: string, leaseFlag: string[], kills: number, cleanup: Cleanup, say: Progress, label: string): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-failover-"));
  const removeDir = cleanup.add("remove the failover bench's dir", () => rmSync(dir, { recursive: true, force: true }));
  const procs = new Set<Proc>();
  const stopAll = cleanup.add("stop the failover bench's coordinators and agents", async () => {
    await Promise.all([...procs].map((p) => p.stop("SIGKILL")));
  });
  try {
    // Coordinators sharing a store share the CA and the admin token: made once, copied before either starts.
    const dirs = ["a", "b"].map((id) => join(dir, `coord-${id}`));
    initCa(dirs[0]!);
    ensureAdminToken(dirs[0]!);
    mkdirSync(tlsDir(dirs[1]!), { recursive: true, mode: 0o700 });
    for (const f of [CA_CERT_FILE, CA_KEY_FILE]) copyFileSync(join(tlsDir(dirs[0]!), f), join(tlsDir(dirs[1]!), f));
    copyFileSync(join(dirs[0]!, ADMIN_TOKEN_FILE), join(dirs[1]!, ADMIN_TOKEN_FILE));
    const specs = await Promise.all(["coord-a", "coord-b"].map(async (id, i) => ({ id, stateDir: dirs[i]!, listen: `127.0.0.1:${await freePort()}` })));
    const args = (id: string) => ["--store", url, "--id", id, "--heartbeat", "1s", ...leaseFlag];
    const launch = async (i: number): Promise<Coordinator> => {
      const s = specs[i]!;
      const c = await startCoordinator(s.stateDir, args(s.id), s.listen);
      procs.add(c);
      return c;
    };
    const coordinators: Coordinator[] = [await launch(0)];
    await waitFor("coord-a to be active", () => coordinators[0]!.stderr().includes(ACTIVE_LINE) || undefined, 30_000);
    coordinators.push(await launch(1));
    await waitFor("coord-b to be a standby", () => coordinators[1]!.stderr().includes("standby; the active coordinator is coord-a") || undefined, 30_000);
    const token = await coord(coordinators[0]!, ["token", "create", "--description", "failover bench"]);
    if (token.exitCode !== 0) throw new Error(`failover bench: coord token create failed: ${token.stderr}`);
    // Half the agents list the active one first, half the standby: both paths to the new active are in the figure.
    const list = [specs[0]!.listen, specs[1]!.listen];
    for (let i = 0; i < AGENTS; i++) {
      const order = i % 2 === 0 ? list : [...list].reverse();
      const a = startAgent({ name: `node-${i + 1}`, address: order.join(","), token: token.stdout.trim(), stateDir: join(dir, `node-${i + 1}`), caFile: caCertPath(dirs[0]!), labels: { role: "fleet" } });
      procs.add(a);
    }
    const nodes = Array.from({ length: AGENTS }, (_, i) => `node-${i + 1}`);
    await waitFor("every agent registered with coord-a", () => nodes.every((n) => logLines(coordinators[0]!.stderr(), "agent registered").some((l) => l.node === n)) || undefined, 30_000);

    const figures: Figures = { takeover: [], agents: [] };
    let active = 0;
    for (let k = 0; k < kills; k++) {
      const standby = 1 - active;
      const next = coordinators[standby]!;
      const activeLines = logLines(next.stderr(), ACTIVE_LINE).length;
      const registered = logLines(next.stderr(), "agent registered").length;
      // Anywhere in the standby's poll period, so the kills do not all land at one point of its cycle.
      await sleep(Math.random() * DEFAULT_TIMINGS.pollMs);
      const killedAt = Date.now();
      await coordinators[active]!.stop("SIGKILL");
      procs.delete(coordinators[active]!);
      const tookOver = await waitFor(`${specs[standby]!.id} to become active`, () => logLines(next.stderr(), ACTIVE_LINE)[activeLines]?.time, 60_000);
      const allOn = await waitFor(`every agent registered with ${specs[standby]!.id}`, () => {
        const times = nodes.map((n) => logLines(next.stderr(), "agent registered").slice(registered).find((l) => l.node === n)?.time);
        return times.every((t) => t !== undefined) ? Math.max(...(times as number[])) : undefined;
      }, 60_000);
      figures.takeover.push(tookOver - killedAt);
      figures.agents.push(allOn - killedAt);
      say(`failover: ${label}: SIGKILL → standby active ${tookOver - killedAt} ms, → ${AGENTS} agents registered with it ${allOn - killedAt} ms`);
      // The killed one comes back as the standby of the new active, for the next kill.
      const back = await launch(active);
      coordinators[active] = back;
      await waitFor(`${specs[active]!.id} back as a standby`, () => back.stderr().includes(`standby; the active coordinator is ${specs[standby]!.id}`) || undefined, 30_000);
      active = standby;
    }
    return figures;
  } finally {
    await stopAll();
    await removeDir();
  }
}

export async function benchCoordinatorFailover(cleanup: Cleanup, say: Progress, kills: number = COORDINATOR_KILLS.alone): Promise<BenchResult[]> {
  const { postgresBinary, startPostgres } = await import("../test/harness/postgres.js");
  if (!postgresBinary("initdb").includes("/")) {
    say("failover: no PostgreSQL here (apt-get install postgresql), so no coordinator failover figures");
    return [];
  }
  say("failover: real coordinators: starting PostgreSQL (test/harness/postgres.ts)");
  const server = await startPostgres();
  const stopServer = cleanup.add("stop PostgreSQL", () => server.stop());
  try {
    const version = await (async () => {
      const pg = (await import("pg")).default;
      const c = new pg.Client({ connectionString: server.url() });
      await c.connect();
      try {
        return ((await c.query("SHOW server_version")).rows[0] as { server_version: string }).server_version;
      } finally {
        await c.end();
      }
    })();
    const settings = [
      { label: `default lease (${DEFAULT_TIMINGS.leaseMs / 1000} s)`, flag: [] as string[], timings: DEFAULT_TIMINGS, db: "failover_default" },
      { label: "--lease 3s", flag: ["--lease", "3s"], timings: leaseTimings({ leaseMs: 3_000 }), db: "failover_lease3" },
    ];
    const rows: Row[] = [];
    for (const s of settings) {
      const f = await measure(await server.createDatabase(s.db), s.flag, kills, cleanup, say, s.label);
      rows.push({ measure: `${s.label}: SIGKILL of the active → standby active`, unit: "ms", better: "lower", summary: summarize(f.takeover) });
      rows.push({ measure: `${s.label}: SIGKILL of the active → ${AGENTS} agents registered with the new active`, unit: "ms", better: "lower", summary: summarize(f.agents) });
    }
    const [d, short] = settings.map((s) => s.timings) as [typeof DEFAULT_TIMINGS, typeof DEFAULT_TIMINGS];
    return [{
      title: "Failover: real coordinators on PostgreSQL, SIGKILL of the active one",
      method:
        `Two \`coord serve --store postgres://… --id … --heartbeat 1s\` (TLS, one shared CA and admin token) against one database of PostgreSQL ${version} on loopback, started by test/harness/postgres.ts, ` +
        `and ${AGENTS} real agents given both addresses (two with the active one first, one with the standby first), all on loopback. ` +
        `The active coordinator SIGKILLed ${kills} times per setting, each after a random wait under one standby poll period; timed from the kill to the time of the standby's log line "${ACTIVE_LINE}", and to the last of the ${AGENTS} "agent registered" lines in its log. ` +
        `After each kill the killed coordinator is started again, as the new active one's standby, and the next kill takes the new active. ` +
        `With the default lease (${d.leaseMs} ms: renewal every ${d.renewMs} ms, polling every ${d.pollMs} ms) and with --lease 3s (renewal every ${short.renewMs} ms, polling every ${short.pollMs} ms).`,
      rows,
      bound:
        `A SIGKILLed coordinator's connection is closed by the kernel, so PostgreSQL ends its session and frees the leadership lock at once; the standby takes it on its next poll, so the takeover is bounded by the poll period ` +
        `(${formatNumber(d.pollMs)} ms in both settings), not by the lease, which bounds only a coordinator cut off with its session open (the election figures above). ` +
        `The agents then need their stream to the dead one to end (the kernel closes it) and one dial down their list to the new active, whose standby answer before the takeover sends them on at once.`,
    }];
  } finally {
    await stopServer();
  }
}
