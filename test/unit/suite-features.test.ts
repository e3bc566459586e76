import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSuite } from "../../agent/engine/run-suite.js";
import { parseSuite } from "../../shared/model/suite.js";
import { Status } from "../../shared/model/status.js";

const dir = mkdtempSync(join(tmpdir(), "fleetgate-features-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A clock that moves only when the check runner sleeps: retry windows pass instantly. */
function fakeClock() {
  let t = Date.UTC(2026, 10, 25);
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

const run = (yaml: string, allowDestructive = false) =>
  runSuite(parseSuite(yaml, "features.yaml"), { allowDestructive, env: {}, check: fakeClock() });

describe("then: follow-up checks", () => {
  it("passes only when the follow-up passes after the destructive step, and says what each saw", async () => {
    const flag = join(dir, "restarted");
    const out = await run(
      `suite: s
checks:
  - id: restart
    destructive: true
    command: { argv: [touch, ${flag}] }
    then:
      command: { argv: [test, -e, ${flag}] }
`,
      true,
    );
    expect(out.results[0]?.status).toBe(Status.PASSED);
    expect(out.results[0]?.summary).toBe("exit 0; then command: exit 0");
    expect(out.results[0]?.attemptLog).toHaveLength(2);
  });

  it("fails the check with the follow-up's last observation when the thing never came back", async () => {
    const out = await run(`suite: s
checks:
  - id: restart
    command: { argv: ["true"] }
    then:
      command: { argv: ["false"] }
      retry: { for: 3s, every: 1s }
`);
    const r = out.results[0];
    expect(r?.status).toBe(Status.FAILED);
    expect(r?.summary).toBe("exit 0; then command: expected exit 0, saw 1 (after 4 attempts)");
    expect(r?.attempts).toBe(5); // the main attempt, then follow-ups at 0, 1, 2 and 3 s
  });
});

describe("capture: values taken from a passing check", () => {
  it("takes a JSON path, a regex group and a file's content", async () => {
    writeFileSync(join(dir, "test-output.log"), "all good\n");
    const out = await run(`suite: s
checks:
  - id: publish
    command: { argv: [echo, '{"id": "doc-42", "peers": 3}'], cwd: ${dir} }
    capture:
      doc_id: { json: .id }
      peers: { json: peers }
      first_digit: { regex: 'doc-(\\d)' }
      log: { file: test-output.log }
`);
    expect(out.results[0]?.status).toBe(Status.PASSED);
    expect(out.results[0]?.captured).toEqual({ doc_id: "doc-42", peers: "3", first_digit: "4", log: "all good\n" });
  });

  it("fails the check naming the capture that could not be taken", async () => {
    const out = await run(`suite: s
checks:
  - id: publish
    command: { argv: [echo, '{"name": "x"}'] }
    capture: { doc_id: { json: .id } }
`);
    expect(out.results[0]?.status).toBe(Status.FAILED);
    expect(out.results[0]?.summary).toBe("capture doc_id: no value at .id");
  });
});

describe("shell: only when the suite asks for it", () => {
  it("runs a pipeline through /bin/sh -c", async () => {
    const out = await run(`suite: s
checks:
  - id: pipeline
    command: { shell: "printf 'a\\\\nb\\\\n' | wc -l", expect: { stdout: { matches: '^\\s*2$' } } }
`);
    expect(out.results[0]?.summary).toBe("exit 0");
  });

  it("refuses a command with both argv and shell, or neither", () => {
    expect(() => parseSuite("suite: s\nchecks:\n  - id: x\n    command: { argv: [a], shell: b }\n", "f.yaml")).toThrow(
      'f.yaml:4:14 checks[0].command: a command takes either argv: [program, args…] or shell: "script", not both or neither',
    );
    expect(() => parseSuite("suite: s\nchecks:\n  - id: x\n    command: { cwd: /tmp }\n", "f.yaml")).toThrow(/not both or neither/);
  });
});

describe("http json: expectations on a JSON body", () => {
  let server: Server;
  let url = "";
  beforeAll(async () => {
    server = createServer((_, res) => res.end(JSON.stringify({ status: "ok", checks: { db: "down" } })));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
  });
  afterAll(() => server.close());

  it("passes on matching fields and names the first field that differs", async () => {
    const out = await run(`suite: s
checks:
  - id: status-ok
    http: { url: "${url}", json: { status: ok } }
  - id: db-up
    http: { url: "${url}", json: { status: ok, checks.db: up } }
`);
    expect(out.results.map((r) => r.status)).toEqual([Status.PASSED, Status.FAILED]);
    expect(out.results[1]?.summary).toBe('expected checks.db "up", saw "down"');
  });
});
