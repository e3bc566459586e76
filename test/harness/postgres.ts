// A throwaway PostgreSQL for one test file (or one bench): Debian's initdb and postgres, a data
// dir in a temp dir, an unprivileged user (postgres refuses to run as root), a free loopback port,
// its own process group. stop() (and, as a safety net, this process's exit) takes the whole
// group and the temp dir with it. No vitest here: the bench starts one too.
//
//   const initdb = postgresBinary("initdb");
//   const pgReady = needsTool(initdb, "postgresql");        // top of the test file
//   const server = await startPostgres();                   // beforeAll; afterAll: server.stop()
//   const url = await server.createDatabase("commit_once"); // a fresh database per test
import { execa, type ResultPromise } from "execa";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { freePort } from "./free-port.js";

const DEBIAN_ROOT = "/usr/lib/postgresql";
/** The superuser initdb creates; trust auth, loopback and a private socket dir only. */
const SUPERUSER = "fleetgate";
const KEEP_LOG_BYTES = 64 * 1024;

/**
 * The path of a PostgreSQL server program from Debian's packages (/usr/lib/postgresql/VERSION/bin,
 * newest version first), or the bare name when none is installed (for needsTool's message).
 */
export function postgresBinary(name: "initdb" | "postgres"): string {
  let versions: string[] = [];
  try {
    versions = readdirSync(DEBIAN_ROOT).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    // no PostgreSQL installed
  }
  for (const v of versions) {
    const file = join(DEBIAN_ROOT, v, "bin", name);
    if (existsSync(file)) return file;
  }
  return name;
}

/** The uid/gid to run as: ourselves unless root; as root, the package's postgres user, else nobody. */
function serverUser(): { uid: number; gid: number; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const users = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"));
  for (const name of ["postgres", "nobody"]) {
    const u = users.find((f) => f[0] === name);
    if (u) return { name, uid: Number(u[2]), gid: Number(u[3]) };
  }
  throw new Error("postgres harness: running as root and found neither a postgres nor a nobody user to run the server as");
}

export interface PostgresServer {
  port: number;
  /** postgres://fleetgate@127.0.0.1:PORT/DATABASE */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. Names: lower case, digits, underscores. */
  createDatabase(name: string): Promise<string>;
  /** What the server wrote to stderr (its log), the last 64 KiB. */
  log(): string;
  /**
   * Fast shutdown (every session ends, as in a PostgreSQL restart), `downMs` with no server, then
   * postgres again on the same data dir and port; resolves once it accepts connections.
   */
  restart(downMs?: number): Promise<void>;
  /** Fast shutdown of the whole process group (SIGKILL after `graceMs`), then the temp dir goes. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  /** `-c name=value` server settings on top of the defaults (which keep fsync and synchronous_commit on). */
  settings?: Record<string, string>;
  /** How long to wait for the server to accept connections. */
  readyTimeoutMs?: number;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

const alive = (child: ResultPromise) => child.exitCode === null && child.signalCode === null;

/** Connects as the superuser until the server answers, or throws with its log. */
async function waitReady(child: ResultPromise, url: string, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) before accepting connections:\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (err) {
      last = err;
    } finally {
      await client.end().catch(() => {});
    }
    await sleep(100);
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms (last: ${String(last)}):\n${log()}`);
}

/** initdb into a fresh temp dir, then postgres on a free loopback port; resolves once it accepts connections. */
export async function startPostgres(options: StartOptions = {}): Promise<PostgresServer> {
  const initdb = postgresBinary("initdb");
  const postgres = postgresBinary("postgres");
  if (!initdb.includes("/") || !postgres.includes("/")) throw new Error("postgres harness: no PostgreSQL under /usr/lib/postgresql; install it with: apt-get install -y postgresql");
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-pg-"));
  const data = join(dir, "data");
  const sockets = join(dir, "sock");
  mkdirSync(sockets);
  if (user) for (const d of [dir, sockets]) chownSync(d, user.uid, user.gid);
  const asUser = { cwd: dir, ...(user ? { uid: user.uid, gid: user.gid } : {}), env: { LC_ALL: "C.UTF-8", PGTZ: "UTC" }, extendEnv: false };

  let child: ResultPromise | undefined;
  const removeAtExit = () => {
    killGroup(child?.pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", removeAtExit);
  try {
    // --no-sync: the catalogue of a throwaway cluster need not reach the disk; commits made later
    // still fsync the WAL (fsync and synchronous_commit keep their defaults unless `settings` says otherwise).
    await execa(initdb, ["-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], { ...asUser, stdin: "ignore" });
    const settings = { listen_addresses: "127.0.0.1", unix_socket_directories: sockets, max_connections: "50", ...options.settings };
    let out = "";
    /** postgres on `port`, resolved once it accepts connections; killed (group and all) if it never does. */
    // Wrapped: an async function returning the subprocess (a promise itself) would wait for its exit.
    const launch = async (port: number): Promise<{ server: ResultPromise }> => {
      const args = ["-D", data, "-p", String(port), "-k", sockets, ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
      // Its own process group (detached): stop() and the exit hook signal the postmaster and every backend at once.
      const started = execa(postgres, args, { ...asUser, stdin: "ignore", stdout: "ignore", buffer: false, reject: false, detached: true });
      child = started;
      out = "";
      started.stderr?.on("data", (c: Buffer) => (out = (out + c.toString()).slice(-KEEP_LOG_BYTES)));
      try {
        await waitReady(started, `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`, () => out, options.readyTimeoutMs ?? 30_000);
        return { server: started };
      } catch (err) {
        killGroup(started.pid, "SIGKILL");
        await started;
        throw err;
      }
    };
    /** SIGINT is postgres's fast shutdown: open transactions roll back, every session ends, the server exits. */
    const shutDown = async (server: ResultPromise, graceMs: number) => {
      if (alive(server)) {
        killGroup(server.pid, "SIGINT");
        const exited = await Promise.race([server.then(() => true), sleep(graceMs).then(() => false)]);
        if (!exited) killGroup(server.pid, "SIGKILL");
        await server;
      }
      // Backends left behind by a postmaster that died first are in the same group.
      killGroup(server.pid, "SIGKILL");
    };
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      let started: ResultPromise;
      try {
        ({ server: started } = await launch(port));
      } catch (err) {
        // Another process took the port between freePort() and postgres binding it: try another.
        if (attempt < 3 && /could not (bind|create listen)/i.test(out)) continue;
        throw err;
      }
      const url = (database = "postgres") => `postgres://${SUPERUSER}@127.0.0.1:${port}/${database}`;
      return {
        port,
        url,
        log: () => out,
        async createDatabase(name) {
          if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`postgres harness: "${name}" is not a database name this harness makes`);
          const admin = new pg.Client({ connectionString: url() });
          await admin.connect();
          try {
            await admin.query(`CREATE DATABASE ${name}`);
          } finally {
            await admin.end();
          }
          return url(name);
        },
        async restart(downMs = 0) {
          await shutDown(started, 10_000);
          await sleep(downMs);
          // The same port, so clients reconnect to the address they know.
          ({ server: started } = await launch(port));
        },
        async stop(graceMs = 10_000) {
          await shutDown(started, graceMs);
          process.removeListener("exit", removeAtExit);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    process.removeListener("exit", removeAtExit);
    removeAtExit();
    throw err;
  }
}
