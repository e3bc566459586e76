// `fleetgate-agent config check` and `coord config check` (issue 15, part 6), run as an operator
// would, from bin/: a good file exits 0 and shows each setting with where it came from (flag > env
// > file > default), a bad field exits 3 naming file:line, a missing token_file exits 3 saying what
// to put where, and a token is never printed.
import { mkdirSync, writeFileSync } from "node:fs";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, COORD_BIN } from "../../scripts/local-fleet.js";
import { Workspace } from "./fixtures.js";

const TOKEN = "fge_secret_enrollment_token_1234";

async function cli(bin: string, args: string[], env: Record<string, string> = {}) {
  // Only the env given: a FLEETGATE_* variable of the test runner must not leak into the precedence.
  const r = await execa(process.execPath, [bin, ...args], { reject: false, stdin: "ignore", env: { PATH: process.env.PATH ?? "", ...env }, extendEnv: false });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}
const agent = (args: string[], env: Record<string, string> = {}) => cli(AGENT_BIN, args, env);

/** The VALUE and FROM columns of one SETTING row. */
function row(stdout: string, setting: string): { value: string; from: string } | undefined {
  const line = stdout.split("\n").find((l) => l.startsWith(`${setting} `));
  const m = line && /^\S+\s+(.*?)\s{2,}(\S.*)$/.exec(line);
  return m ? { value: m[1]!, from: m[2]! } : undefined;
}

describe("fleetgate-agent config check", () => {
  const ws = new Workspace();
  let ca = "";

  beforeAll(async () => {
    // A real CA certificate, as the coordinator makes it.
    const made = await execa(process.execPath, [COORD_BIN, "ca", "init", "--state-dir", ws.path("coord")], { reject: false });
    expect(made.exitCode, String(made.stderr)).toBe(0);
    ca = ws.path("coord", "tls", "ca.crt");
    mkdirSync(ws.path("state"));
    ws.write("enroll.token", `${TOKEN}\n`);
    ws.write(
      "agent.yaml",
      [`coordinator: coord.example.net:7400`, `token_file: ${ws.path("enroll.token")}`, `ca: ${ca}`, `state_dir: ${ws.path("state")}`, "labels:", "  role: fleet", "stop_grace: 10s", ""].join("\n"),
    );
  });
  afterAll(() => ws.cleanup());

  it("exits 0 for a good file and shows each setting with where it came from, never the token", async () => {
    const r = await agent(["config", "check", "--config", ws.path("agent.yaml")]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`config ${ws.path("agent.yaml")}: valid`);
    expect(row(r.stdout, "coordinator")).toEqual({ value: "coord.example.net:7400", from: "file (coordinator)" });
    expect(row(r.stdout, "token")).toEqual({ value: `enrollment token in ${ws.path("enroll.token")} (not shown)`, from: "file (token_file)" });
    expect(row(r.stdout, "ca")).toEqual({ value: ca, from: "file (ca)" });
    expect(row(r.stdout, "stop_grace")).toEqual({ value: "10s", from: "file (stop_grace)" });
    expect(row(r.stdout, "spool_max")).toEqual({ value: "1GiB", from: "default" });
    expect(r.stdout).toMatch(/run would start with these settings$/m);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it("shows a flag over an env variable over the file, as run takes them", async () => {
    const env = { FLEETGATE_COORDINATOR: "env.example.net:7400", FLEETGATE_AGENT_STATE_DIR: ws.path("nowhere"), FLEETGATE_TOKEN: "fge_from_env_secret" };
    const r = await agent(["config", "check", "--config", ws.path("agent.yaml"), "--state-dir", ws.path("state"), "--label", "site=dc2"], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(row(r.stdout, "coordinator")).toEqual({ value: "env.example.net:7400", from: "env (FLEETGATE_COORDINATOR)" });
    expect(row(r.stdout, "state_dir")).toEqual({ value: ws.path("state"), from: "flag (--state-dir)" });
    expect(row(r.stdout, "token")).toEqual({ value: "enrollment token given (not shown)", from: "env (FLEETGATE_TOKEN)" });
    expect(row(r.stdout, "labels")).toEqual({ value: "role=fleet,site=dc2", from: "file+flag" });
    expect(r.stdout + r.stderr).not.toContain("fge_from_env_secret");
  });

  it("shows several coordinators in the order run tries them, and names a bad entry (issue 19)", async () => {
    const list = ws.write("list.yaml", [`coordinator:`, `  - coord-a.example.net:7400`, `  - coord-b.example.net:7400`, `token_file: ${ws.path("enroll.token")}`, `ca: ${ca}`, `state_dir: ${ws.path("state")}`, ""].join("\n"));
    const r = await agent(["config", "check", "--config", list]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(row(r.stdout, "coordinator")).toEqual({ value: "coord-a.example.net:7400,coord-b.example.net:7400", from: "file (coordinator)" });
    const bad = await agent(["config", "check", "--config", list, "--coordinator", "coord-a.example.net:7400,coord-b"]);
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr).toContain('--coordinator: entry 2 of 2, "coord-b" is not HOST:PORT');
  });

  it("exits 3 naming file:line for a bad field", async () => {
    const bad = ws.write("bad.yaml", `coordinator: coord.example.net:7400\nstate_dir: ${ws.path("state")}\nspool_maxx: 1GiB\n`);
    const r = await agent(["config", "check", "--config", bad]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`${bad}:3:1 spool_maxx: unknown key "spool_maxx"`);
    expect(r.stderr).toContain("did you mean spool_max?");
  });

  it("exits 3 for a value run cannot use, naming the key in the file", async () => {
    const small = ws.write("small.yaml", `token: x\nca: ${ca}\nstate_dir: ${ws.path("state")}\nspool_max: 1KiB\n`);
    const r = await agent(["config", "check", "--config", small]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("spool_max in the config file: 1 KiB is too small to hold a task's results; give at least 1MiB");
  });

  it("exits 3 for a token_file that is not there, on a node not enrolled yet, and a ca that is not there", async () => {
    const missing = ws.write("missing.yaml", `coordinator: coord.example.net:7400\ntoken_file: ${ws.path("no.token")}\nca: ${ws.path("no-ca.crt")}\nstate_dir: ${ws.path("state")}\n`);
    const r = await agent(["config", "check", "--config", missing]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`no token: ${ws.path("no.token")} (token_file) is missing or empty and ${ws.path("state")} holds no node token; put a token from \`coord token create\` in ${ws.path("no.token")}`);
    expect(r.stderr).toContain(`ca ${ws.path("no-ca.crt")} does not exist; copy the coordinator's STATE_DIR/tls/ca.crt to this node`);
    expect(r.stdout).toMatch(/run would not start: 2 problems/);
  });

  it("accepts a missing token_file once the node is enrolled (its node token is in the state dir), as run does", async () => {
    mkdirSync(ws.path("enrolled"));
    writeFileSync(ws.path("enrolled", "node.token"), "fgn_node_secret\n", { mode: 0o600 });
    const f = ws.write("enrolled.yaml", `coordinator: coord.example.net:7400\ntoken_file: ${ws.path("no.token")}\nca: ${ca}\nstate_dir: ${ws.path("enrolled")}\n`);
    const r = await agent(["config", "check", "--config", f]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(row(r.stdout, "token")?.value).toBe(`node token in ${ws.path("enrolled", "node.token")} (enrolled)`);
    expect(r.stdout).toContain(`note: ${ws.path("no.token")} (token_file) is missing or empty: fine, this node enrolled`);
    expect(r.stdout).not.toContain("fgn_node_secret");
  });
});

describe("coord config check", () => {
  const ws = new Workspace();
  afterAll(() => ws.cleanup());

  it("shows each coord serve setting with where it came from, a flag over FLEETGATE_STATE_DIR over the file", async () => {
    const f = ws.write("coord.yaml", `listen: 0.0.0.0:7400\nstate_dir: ${ws.path("file-state")}\nheartbeat: 5s\nmin_free: 1GiB\n`);
    const env = { FLEETGATE_STATE_DIR: ws.path("env-state") };
    const byEnv = await cli(COORD_BIN, ["config", "check", "--config", f], env);
    expect(byEnv.exitCode, byEnv.stderr).toBe(0);
    expect(row(byEnv.stdout, "state_dir")).toEqual({ value: ws.path("env-state"), from: "env (FLEETGATE_STATE_DIR)" });
    expect(row(byEnv.stdout, "listen")).toEqual({ value: "0.0.0.0:7400", from: "file (listen)" });
    expect(row(byEnv.stdout, "min_free")).toEqual({ value: "1GiB", from: "file (min_free)" });
    expect(row(byEnv.stdout, "lost_after")).toEqual({ value: "25s", from: "default" });
    expect(byEnv.stdout).toMatch(/coord serve would start with these settings$/m);
    const byFlag = await cli(COORD_BIN, ["config", "check", "--config", f, "--state-dir", ws.path("flag-state"), "--heartbeat", "2s"], env);
    expect(row(byFlag.stdout, "state_dir")).toEqual({ value: ws.path("flag-state"), from: "flag (--state-dir)" });
    expect(row(byFlag.stdout, "heartbeat")).toEqual({ value: "2s", from: "flag (--heartbeat)" });
  });

  it("exits 3 naming file:line for a bad field, and for a tls_cert without its key or file", async () => {
    const bad = ws.write("bad.yaml", "listen: 0.0.0.0:7400\nheartbeat: 5\n");
    const r = await cli(COORD_BIN, ["config", "check", "--config", bad]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`${bad}:2:12 heartbeat: expected a duration`);
    const half = ws.write("half.yaml", `state_dir: ${ws.path("s")}\ntls_cert: ${ws.path("none.crt")}\n`);
    const h = await cli(COORD_BIN, ["config", "check", "--config", half]);
    expect(h.exitCode).toBe(3);
    expect(h.stderr).toContain("coord: bring your own server certificate with both tls_cert and tls_key (--tls-cert and --tls-key), or neither");
    expect(h.stderr).toContain(`coord: tls_cert ${ws.path("none.crt")}: ENOENT`);
  });
});
