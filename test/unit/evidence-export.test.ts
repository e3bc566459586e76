import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { prepareTarget, receiveBundle, type BundleChunk } from "../../coordinator/evidence/receive.js";
import { EvidenceRecorder } from "../../coordinator/evidence/recorder.js";
import type { RunEngine } from "../../coordinator/sequencer/engine.js";
import { exportEvidenceHandler } from "../../coordinator/server/evidence-service.js";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { CHANNEL_OPTIONS, serviceDefinition } from "../../shared/grpc/adapter.js";
import { coord } from "./evidence-cli.js";
import { StateDir } from "./evidence-fixture.js";

const enc = (s: string) => new TextEncoder().encode(s);

async function* chunks(...items: [string, string][]): AsyncIterable<BundleChunk> {
  for (const [path, content] of items) yield { path, content: enc(content) };
}

describe("receiveBundle", () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), "fleetgate-export-"));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it.each([
    ["../escaped.txt", "'..' in path"],
    ["tasks/../../escaped.txt", "'..' in path"],
    ["/tmp/escaped.txt", "absolute path"],
    ["tasks//x", "empty or '.' segment in path"],
  ])("refuses %j from the server, writes nothing outside, and keeps nothing", async (path, reason) => {
    const target = join(base, "out", "r1");
    await prepareTarget(target);
    await expect(receiveBundle(chunks(["plan.yaml", "plan: x\n"], [path, "pwned\n"]), target)).rejects.toThrow(
      `the coordinator sent ${JSON.stringify(path)} (${reason}); refused, nothing kept`,
    );
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(base, "out"))).toEqual([]);
    expect(existsSync(join(base, "escaped.txt"))).toBe(false);
  });

  it("joins consecutive chunks of one path into one file", async () => {
    const target = join(base, "r1");
    await prepareTarget(target);
    expect(await receiveBundle(chunks(["a/big.txt", "first "], ["a/big.txt", "second"], ["b.txt", ""]), target)).toEqual({ files: 2, bytes: 12 });
    expect(readFileSync(join(target, "a/big.txt"), "utf8")).toBe("first second");
    expect(readFileSync(join(target, "b.txt"), "utf8")).toBe("");
  });

  it("refuses a path sent twice", async () => {
    const target = join(base, "r1");
    await prepareTarget(target);
    await expect(receiveBundle(chunks(["a.txt", "1"], ["b.txt", "2"], ["a.txt", "3"]), target)).rejects.toThrow("the coordinator sent a.txt twice");
  });

  it("refuses a target that already holds files", async () => {
    const target = join(base, "r1");
    mkdirSync(target);
    writeFileSync(join(target, "mine.txt"), "keep me");
    await expect(prepareTarget(target)).rejects.toThrow(`${target} is not empty; export into a new directory, or remove it first`);
    expect(readFileSync(join(target, "mine.txt"), "utf8")).toBe("keep me");
  });
});

describe("coord export against the ExportEvidence handler", () => {
  const TOKEN = "fga_test_admin_token";
  let s: StateDir;
  let server: grpc.Server;
  let address: string;
  let out: string;

  beforeAll(async () => {
    s = new StateDir();
    const log = pino({ level: "silent" });
    const evidence = new EvidenceRecorder(s.db, { stateDir: s.stateDir, log });
    server = new grpc.Server(CHANNEL_OPTIONS);
    server.addService(serviceDefinition(ControlService), {
      // Export uses only the store, the token and the recorder; the engine is never touched.
      exportEvidence: exportEvidenceHandler({ db: s.db, sessions: new AgentSessions(), engine: {} as RunEngine, log, adminToken: TOKEN, transport: "plaintext", ownHost: { machineId: "", bootId: "" }, evidence }),
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    address = `127.0.0.1:${port}`;
    // 1.5 MiB of output: its result.json and stdout.txt go in more than one message.
    s.addRun("r1", { stdout: `${"x".repeat(1536 * 1024)}\n` });
    s.addRun("r2", { finished: false });
  });

  afterAll(() => {
    server.forceShutdown();
    s.close();
  });

  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), "fleetgate-export-"));
  });
  afterEach(() => rmSync(out, { recursive: true, force: true }));

  const exportRun = (run: string, ...more: string[]) => coord("export", run, "--to", out, "--coordinator", address, "--token", TOKEN, ...more);

  it("writes a finished run's bundle (written on demand), large files included, and verifies it intact", async () => {
    const r = await exportRun("r1");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^intact: run r1, 16 files match the manifest; signature not checked/);
    expect(r.stderr).toMatch(new RegExp(`^exported 17 files \\(\\d+ KiB\\) to ${join(out, "r1")}\\n$`));
    expect(readFileSync(join(out, "r1/tasks/smoke/prim/1/echo.stdout.txt"), "utf8")).toHaveLength(1536 * 1024 + 1);
    expect(readFileSync(join(out, "r1/manifest.json"))).toEqual(readFileSync(join(s.root, "r1/manifest.json")));
  });

  it("refuses a wrong token and leaves nothing", async () => {
    const r = await coord("export", "r1", "--to", out, "--coordinator", address, "--token", "fga_wrong");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("admin token refused");
    expect(readdirSync(out)).toEqual([]);
  });

  it("refuses a run still running, and an unknown run", async () => {
    expect(await exportRun("r2")).toMatchObject({ code: 3, stderr: expect.stringContaining("run r2 is running; its evidence bundle is written when it finishes") });
    expect(await exportRun("nope")).toMatchObject({ code: 3, stderr: expect.stringContaining("no run nope") });
  });

  it("refuses to export into a non-empty directory", async () => {
    mkdirSync(join(out, "r1"));
    writeFileSync(join(out, "r1", "x"), "");
    expect(await exportRun("r1")).toMatchObject({ code: 3, stderr: expect.stringContaining("is not empty") });
  });
});
