// Running a check as its `user:` (issue 15), the pure parts and the seams: the passwd entry and
// capabilities read from recorded outputs, the command line and environment composed for
// setpriv (inside prlimit), the refusals a node gives, and every kind that runs a program
// running it through setpriv — and the kinds the agent observes itself not.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkKind } from "../../agent/checks/registry.js";
import { checkCommandLine } from "../../agent/command-line.js";
import { runCheck } from "../../agent/engine/run-check.js";
import { createWorkDir, removeWorkDir } from "../../agent/engine/work-dir.js";
import { wrapperExecFailure } from "../../agent/limits/prlimit.js";
import { parsePasswdEntry, type PasswdEntry } from "../../agent/run-as/passwd.js";
import { canSwitchUser, parseStatus } from "../../agent/run-as/privilege.js";
import { resolveRunAs, type RunAsDeps } from "../../agent/run-as/resolve.js";
import { runAsArgv, runAsEnv } from "../../agent/run-as/setpriv.js";
import { KIND_NAMES } from "../../shared/model/kinds/index.js";
import { PROGRAM_KINDS } from "../../shared/model/run-as.js";
import { Status } from "../../shared/model/status.js";
import { parseSuite } from "../../shared/model/suite.js";
import { FIXTURES } from "../fakes/scenario.js";
import { needs } from "../support/system-tools.js";

const fixture = (path: string) => readFileSync(join(FIXTURES, path), "utf8");
const NOBODY = parsePasswdEntry(fixture("getent/passwd-nobody.stdout")) as PasswdEntry;
const ROOT_STATUS = parseStatus(fixture("proc-status/root.txt"));

describe("the passwd entry getent prints", () => {
  it("reads name, uid, gid, home and shell, by name and by uid alike", () => {
    expect(NOBODY).toEqual({ name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent", shell: "/usr/sbin/nologin" });
    expect(parsePasswdEntry(fixture("getent/passwd-65534.stdout"))).toEqual(NOBODY);
    expect(parsePasswdEntry(fixture("getent/passwd-root.stdout"))).toEqual({ name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash" });
  });

  it("reads nothing from what getent prints for a user that does not exist (nothing, exit 2)", () => {
    expect(fixture("getent/passwd-missing.stdout")).toBe("");
    expect(fixture("getent/passwd-missing.rc").trim()).toBe("2");
    expect(parsePasswdEntry("")).toBeUndefined();
    expect(parsePasswdEntry("nobody:x:abc:65534::/:/bin/sh")).toBeUndefined();
  });
});

describe("whether the agent may run a check as another user", () => {
  it("may as root with CAP_SETUID and CAP_SETGID in its bounding set", () => {
    expect(ROOT_STATUS.uid).toBe(0);
    expect(canSwitchUser(ROOT_STATUS)).toBe(true);
  });

  it("may not as a plain user, and may as a system user holding CAP_SETUID, CAP_SETGID and CAP_KILL as ambient capabilities (AmbientCapabilities=)", () => {
    expect(canSwitchUser(parseStatus(fixture("proc-status/nobody-no-caps.txt")))).toBe(false);
    expect(canSwitchUser(parseStatus(fixture("proc-status/nobody-ambient-kill-setuid-setgid.txt")))).toBe(true);
  });

  it("may not without CAP_KILL: it could not stop a timed-out check of another user", () => {
    expect(canSwitchUser(parseStatus(fixture("proc-status/nobody-ambient-setuid-setgid.txt")))).toBe(false);
  });

  it("may not as root whose bounding set dropped CAP_SETUID", () => {
    expect(canSwitchUser({ ...ROOT_STATUS, capBnd: "000001ffffffff7f" })).toBe(false);
  });
});

describe("the command line of a check run as a user", () => {
  const runAs = { user: NOBODY, setpriv: "/usr/bin/setpriv" };
  const SETPRIV = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--init-groups", "--inh-caps=-all", "--ambient-caps=-all", "--"];

  it("runs the argv under setpriv, dropping inherited capabilities, keeping the argv as written", () => {
    expect(runAsArgv("/usr/bin/setpriv", NOBODY, ["id", "-un"])).toEqual([...SETPRIV, "id", "-un"]);
  });

  it("puts prlimit outside setpriv, so the limits hold for the user's processes", () => {
    const line = checkCommandLine({ argv: ["podman", "ps"], limits: { cpuSeconds: 60, memoryBytes: 2 ** 30 }, runAs }, "/usr/bin/prlimit", {});
    expect(line.argv).toEqual(["/usr/bin/prlimit", "--cpu=60:65", `--data=${2 ** 30}`, "--", ...SETPRIV, "podman", "ps"]);
    expect(line.wrapped).toBe(true);
    expect(line.limits).toEqual({ cpuSeconds: 60, memoryBytes: 2 ** 30 });
  });

  it("runs setpriv alone where prlimit is missing, and nothing around a check of the agent's own user", () => {
    expect(checkCommandLine({ argv: ["true"], limits: { cpuSeconds: 60, memoryBytes: 0 }, runAs }, null, {}).argv).toEqual([...SETPRIV, "true"]);
    const own = checkCommandLine({ argv: ["true"], env: { A: "1" }, runAs: { user: NOBODY } }, null, { HOME: "/home/agent" });
    expect(own).toEqual({ argv: ["true"], env: { A: "1" }, extendEnv: true, limits: { cpuSeconds: 0, memoryBytes: 0 }, wrapped: false });
  });

  it("gives the user's HOME, USER, LOGNAME, SHELL and XDG_RUNTIME_DIR, keeps PATH and the check's env:, and drops the agent's session bus and token", () => {
    const agentEnv = { PATH: "/usr/bin:/bin", HOME: "/root", USER: "root", DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/0/bus", XDG_CONFIG_HOME: "/root/.config", FLEETGATE_TOKEN: "secret", LANG: "C.UTF-8" };
    const line = checkCommandLine({ argv: ["systemctl", "--user", "is-active", "x"], env: { LANG: "de_DE.UTF-8", XDG_RUNTIME_DIR: "/run/user/1001" }, runAs }, null, agentEnv);
    expect(line.extendEnv).toBe(false);
    expect(line.env).toEqual({ PATH: "/usr/bin:/bin", LANG: "de_DE.UTF-8", HOME: "/nonexistent", USER: "nobody", LOGNAME: "nobody", SHELL: "/usr/sbin/nologin", XDG_RUNTIME_DIR: "/run/user/1001" });
    expect(runAsEnv(NOBODY, agentEnv).XDG_RUNTIME_DIR).toBe("/run/user/65534");
  });

  it("reads a program setpriv could not start as the spawn error an unwrapped check reports (recorded setpriv output)", () => {
    expect(wrapperExecFailure(Number(fixture("setpriv/exec-enoent.rc")), fixture("setpriv/exec-enoent.stderr"))).toBe("spawn /nonexistent/program ENOENT");
    expect(wrapperExecFailure(Number(fixture("setpriv/exec-eacces.rc")), fixture("setpriv/exec-eacces.stderr"))).toBe("spawn /etc/passwd EACCES");
  });
});

const deps = (over: Partial<RunAsDeps> = {}): RunAsDeps => ({
  lookup: async (u) => (u === "nobody" || u === "65534" ? NOBODY : undefined),
  own: () => ROOT_STATUS,
  setprivPath: () => "/usr/bin/setpriv",
  ...over,
});

describe("a user: on this node", () => {
  it("resolves to its passwd entry and setpriv, by name or uid", async () => {
    expect(await resolveRunAs("nobody", "node-a", deps())).toEqual({ runAs: { user: NOBODY, setpriv: "/usr/bin/setpriv" } });
    expect(await resolveRunAs("65534", "node-a", deps())).toEqual({ runAs: { user: NOBODY, setpriv: "/usr/bin/setpriv" } });
  });

  it("needs no setpriv when the agent already is that user", async () => {
    expect(await resolveRunAs("nobody", "node-a", deps({ own: () => parseStatus(fixture("proc-status/nobody-no-caps.txt")) }))).toEqual({ runAs: { user: NOBODY } });
  });

  it("is refused when it does not exist on the node, naming the user and the node", async () => {
    const r = await resolveRunAs("ghost", "node-a", deps());
    expect(r).toEqual({ error: "user 'ghost' does not exist on node-a", hint: "create it on node-a (adduser --system ghost), or change user: in the suite" });
  });

  it("is refused when the agent is not root and holds no CAP_SETUID/CAP_SETGID/CAP_KILL, saying what it needs", async () => {
    const plain = { uid: 1000, capEff: "0", capBnd: "000001ffffffffff", capAmb: "0" };
    const r = await resolveRunAs("nobody", "node-a", deps({ own: () => plain }));
    expect("error" in r && r.error).toBe("cannot run as user 'nobody': the agent runs as uid 1000 without CAP_SETUID, CAP_SETGID and CAP_KILL; running checks as another user needs root, or those three capabilities");
    expect("hint" in r && r.hint).toContain("AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_KILL");
  });

  it("is refused when setpriv is not installed", async () => {
    const r = await resolveRunAs("nobody", "node-a", deps({ setprivPath: () => null }));
    expect("error" in r && r.error).toBe("setpriv not found (Debian package util-linux): checks with user: cannot run");
  });
});

describe("a check whose user: cannot be honoured", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-runas-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is an error naming the user and the node, records whom it was to run as, and runs nothing", async () => {
    const marker = join(dir, "ran");
    const suite = parseSuite(`suite: s\nuser: ghost\nchecks:\n  - id: touch\n    command: { argv: [touch, ${marker}] }\n`, "s.yaml");
    const r = await runCheck(suite.checks[0]!, { maxOutputBytes: 4096, nodeName: "node-a", runAsDeps: deps() });
    expect(r.status).toBe(Status.ERROR);
    expect(r.summary).toBe("user 'ghost' does not exist on node-a");
    expect(r.runAs).toBe("ghost");
    expect(r.attempts).toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it("records the user by the name the node knows when the suite gave a uid", async () => {
    const suite = parseSuite(`suite: s\nchecks:\n  - id: t\n    user: 65534\n    command: { argv: ["true"] }\n`, "s.yaml");
    // Played as the agent being nobody itself: nothing to switch, the check runs here.
    const r = await runCheck(suite.checks[0]!, { maxOutputBytes: 4096, nodeName: "node-a", runAsDeps: deps({ own: () => ({ ...ROOT_STATUS, uid: 65534 }) }) });
    expect(r.status).toBe(Status.PASSED);
    expect(r.runAs).toBe("nobody");
  });
});

// One minimal block per kind; the program kinds fail fast once setpriv (a recorder here) exits 1.
const BLOCKS: Record<string, string> = {
  command: `command: { argv: ["true"] }`,
  http: `http: { url: "http://127.0.0.1:9/" }`,
  systemd: `systemd: { unit: lnd.service, scope: user }`,
  quadlet: `quadlet: { scope: user, orphans: none, dirs: [QUADLET_DIR] }`,
  bats: `bats: { file: lifecycle.bats }`,
  tcp: `tcp: { address: "127.0.0.1:9" }`,
  file: `file: { path: /etc/hostname }`,
  disk: `disk: { path: /, free: { gte: 1 } }`,
  memory: `memory: { available: { gte: 1 } }`,
  load: `load: { load1: { lte: 1000 } }`,
  bitcoin: `bitcoin: { rpc: getblockchaininfo }`,
  nginx: `nginx: { location: /app/, proxy_pass: "http://127.0.0.1:1/" }`,
  podman: `podman: { running: [lnd] }`,
};

describe("every kind that runs a program runs it as the check's user", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-runas-kinds-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, "setpriv.log");
  const recorder = join(dir, "setpriv");
  // Records that it was asked to switch, then fails like a setpriv that could not: nothing runs.
  writeFileSync(recorder, `#!/bin/sh\necho "$1 $2" >> ${log}\nexit 1\n`);
  chmodSync(recorder, 0o755);
  writeFileSync(join(dir, "web.container"), "[Container]\nImage=docker.io/library/nginx\nContainerName=web\n");

  it.each(KIND_NAMES)("%s", async (kind) => {
    const block = BLOCKS[kind]?.replace("QUADLET_DIR", dir);
    expect(block, `a minimal ${kind} block in this test`).toBeDefined();
    rmSync(log, { force: true });
    const suite = parseSuite(`suite: s\nuser: nobody\nchecks:\n  - id: k\n    timeout: 5s\n    ${block}\n`, "s.yaml");
    const check = suite.checks[0]!;
    const seen = await (await checkKind(kind)).observe(check.spec, { timeoutMs: 5000, maxOutputBytes: 4096, runAs: { user: NOBODY, setpriv: recorder } });
    const switched = existsSync(log) ? readFileSync(log, "utf8") : "";
    if (PROGRAM_KINDS.includes(kind)) {
      expect(check.user).toBe("nobody");
      expect(switched).toMatch(/^--reuid=65534 --regid=65534\n/);
    } else {
      // Observed in the agent's own process: no program, no user to run it as (the schema refuses user: on it).
      expect(check.user).toBeUndefined();
      expect(switched).toBe("");
    }
    expect(seen).toBeDefined();
  });
});

const root = process.getuid?.() === 0;

describe.skipIf(!needs(root ? undefined : "handing a work dir to another user needs root; run the tests as root"))("a task's work dir when its checks run as other users", () => {
  const stateWork = mkdtempSync(join(tmpdir(), "fleetgate-runas-state-"));
  afterAll(() => rmSync(stateWork, { recursive: true, force: true }));
  const files = [
    { path: "bin/probe.sh", content: Buffer.from("id -un\n"), executable: true },
    { path: "data.txt", content: Buffer.from("x"), executable: false },
  ];
  const info = (p: string) => {
    const st = statSync(p);
    return { uid: st.uid, mode: (st.mode & 0o7777).toString(8) };
  };

  it("stays under the state dir when no check runs as another user", () => {
    const dir = createWorkDir(stateWork, "s.suite.yaml", files);
    expect(dir.startsWith(join(stateWork, "task-"))).toBe(true);
    expect(info(dir)).toEqual({ uid: 0, mode: "700" });
    removeWorkDir(dir);
  });

  it("for one user: in the temp dir, and everything in it that user's, modes kept", () => {
    const dir = createWorkDir(stateWork, "s.suite.yaml", files, [{ uid: 65534, gid: 65534 }]);
    expect(dir.startsWith(join(tmpdir(), "fleetgate-task-"))).toBe(true);
    expect([dir, join(dir, "bin"), join(dir, "bin/probe.sh"), join(dir, "data.txt")].map(info)).toEqual([
      { uid: 65534, mode: "700" },
      { uid: 65534, mode: "700" },
      { uid: 65534, mode: "700" },
      { uid: 65534, mode: "600" },
    ]);
    removeWorkDir(dir);
    expect(existsSync(dir)).toBe(false);
  });

  it("for several users: readable by all, writable by none but the agent", () => {
    const dir = createWorkDir(stateWork, "s.suite.yaml", files, [{ uid: 65534, gid: 65534 }, { uid: 1, gid: 1 }]);
    expect([dir, join(dir, "bin"), join(dir, "bin/probe.sh"), join(dir, "data.txt")].map(info)).toEqual([
      { uid: 0, mode: "755" },
      { uid: 0, mode: "755" },
      { uid: 0, mode: "755" },
      { uid: 0, mode: "644" },
    ]);
    removeWorkDir(dir);
  });
});
