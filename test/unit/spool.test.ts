// The agent's spool on real files: what survives a restart, what a torn or damaged record costs,
// how the old spool.json is moved in, how acknowledged segments go, and the size limit.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJsonString } from "@bufbuild/protobuf";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Spool, SPOOL_DIR } from "../../agent/daemon/spool.js";
import { encodeRecord } from "../../agent/daemon/spool/records.js";
import { listSegments, segmentFile } from "../../agent/daemon/spool/scan.js";
import { AgentEventSchema, type AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../../shared/gen/fleetgate/v1/common_pb.js";

const ORIGIN = { machineId: "0123456789abcdef0123456789abcdef", bootId: "b", hostname: "node-a" };
const quiet = pino({ level: "silent" });

let stateDir: string;
const open: Spool[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  rmSync(stateDir, { recursive: true, force: true });
});

function fresh(): string {
  stateDir = mkdtempSync(join(tmpdir(), "fleetgate-spool-"));
  return stateDir;
}

function openSpool(opts: Parameters<typeof Spool.open>[1] = {}): Spool {
  const s = Spool.open(stateDir, { log: quiet, origin: create(AgentEventSchema, { origin: ORIGIN }).origin, ...opts });
  open.push(s);
  return s;
}

function reopen(s: Spool, opts: Parameters<typeof Spool.open>[1] = {}): Spool {
  s.close();
  open.splice(open.indexOf(s), 1);
  return openSpool(opts);
}

const check = (taskId: string, checkId: string, stdoutTail = "") =>
  ({ origin: ORIGIN, body: { case: "check", value: { taskId, result: { checkId, kind: "command", status: Status.PASSED, summary: "exit 0", stdoutTail } } } }) as const;
const done = (taskId: string) => ({ origin: ORIGIN, body: { case: "taskDone", value: { taskId, status: Status.PASSED, summary: "1/1 passed" } } }) as const;

/** Every pending event, read back, as "seq:kind:task/check" (":error" when it came back as an ERROR stand-in). */
function contents(s: Spool): string[] {
  return [...s.pendingAfter(0n)].map(({ seq }) => {
    const e = s.read(seq) as AgentEvent;
    const what = e.body.case === "check" ? `check:${e.body.value.taskId}/${e.body.value.result?.checkId}` : `${e.body.case}:${e.body.value?.taskId}`;
    const status = e.body.case === "check" ? e.body.value.result?.status : e.body.value?.status;
    return `${e.seq}:${what}${status === Status.ERROR ? ":error" : ""}`;
  });
}

const spoolDir = () => join(stateDir, SPOOL_DIR);
const segmentFiles = () => readdirSync(spoolDir()).filter((f) => f.startsWith("seg-"));

describe("the spool", () => {
  it("keeps every unacknowledged event across a restart and numbers on above them", () => {
    fresh();
    const s = openSpool();
    s.append(check("t1", "a"));
    s.append(check("t1", "b"));
    s.append(done("t1"));
    s.ack(1n);
    const again = reopen(s);
    expect(contents(again)).toEqual(["2:check:t1/b", "3:taskDone:t1"]);
    expect(again.hasTaskDone("t1")).toBe(true);
    expect(again.append(done("t2")).seq).toBe(4n);
    expect(again.health()).toEqual({ degraded: "", warnings: [] });
  });

  it("cuts a torn last record off, names the file and the offset, and keeps the records before it", () => {
    fresh();
    const s = openSpool();
    s.append(check("t1", "a"));
    s.append(check("t1", "b"));
    s.close();
    open.length = 0;
    const [seg] = listSegments(spoolDir());
    const file = segmentFile(spoolDir(), seg as number);
    const goodEnd = statSync(file).size;
    appendFileSync(file, encodeRecord(Buffer.from("x".repeat(500))).subarray(0, 100));

    const again = openSpool();
    expect(contents(again)).toEqual(["1:check:t1/a", "2:check:t1/b"]);
    expect(again.health().warnings).toEqual([
      `spool: ${file}: torn record at offset ${goodEnd} (100 bytes to the end of the file: a write cut short by a crash) dropped; the records before it are kept`,
    ]);
    expect(statSync(file).size).toBe(goodEnd);
    // Reported once: the next start finds nothing to repair.
    expect(reopen(again).health().warnings).toEqual([]);
  });

  it("drops a record with a flipped byte in the middle, keeps the records after it, and reports the file and offset once", () => {
    fresh();
    const s = openSpool();
    s.append(check("t1", "a"));
    s.append(check("t1", "b", "some output"));
    s.append(done("t1"));
    s.close();
    open.length = 0;
    const [seg] = listSegments(spoolDir());
    const file = segmentFile(spoolDir(), seg as number);
    const bytes = readFileSync(file);
    const second = bytes.indexOf("some output");
    const recordStart = bytes.lastIndexOf(Buffer.from("FGR1"), second);
    bytes.writeUInt8(bytes.readUInt8(second) ^ 0x01, second);
    writeFileSync(file, bytes);

    const again = openSpool();
    expect(contents(again)).toEqual(["1:check:t1/a", "3:taskDone:t1"]);
    expect(again.health().warnings).toEqual([expect.stringMatching(new RegExp(`^spool: ${file}: damaged record at offset ${recordStart} \\(\\d+ bytes\\) dropped; the records after it are kept$`))]);
    const third = reopen(again);
    expect(third.health().warnings).toEqual([]);
    expect(contents(third)).toEqual(["1:check:t1/a", "3:taskDone:t1"]);
  });

  it("replaces an event whose record was damaged on disk after it was written by an ERROR naming the file and offset", () => {
    fresh();
    const s = openSpool();
    s.append(check("t1", "a", "output that rots"));
    s.sync();
    const [seg] = listSegments(spoolDir());
    const file = segmentFile(spoolDir(), seg as number);
    const bytes = readFileSync(file);
    const at = bytes.indexOf("rots");
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
    writeFileSync(file, bytes);
    const e = s.read(1n);
    expect(e?.seq).toBe(1n);
    expect(e?.body.case === "check" && e.body.value.result).toMatchObject({
      checkId: "a",
      status: Status.ERROR,
      summary: `result not delivered (it was passed): its spooled record in ${file} at offset 0 no longer reads intact`,
    });
  });

  it("moves an old spool.json in once, keeping seqs and the floor, and removes it", () => {
    fresh();
    const events = [create(AgentEventSchema, { seq: 6n, ...check("t1", "a") }), create(AgentEventSchema, { seq: 7n, ...done("t1") })];
    writeFileSync(join(stateDir, "spool.json"), JSON.stringify({ lastSeq: "9", events: events.map((e) => toJsonString(AgentEventSchema, e)) }));
    const s = openSpool();
    expect(contents(s)).toEqual(["6:check:t1/a", "7:taskDone:t1"]);
    expect(existsSync(join(stateDir, "spool.json"))).toBe(false);
    expect(s.append(done("t2")).seq).toBe(10n);
    expect(contents(reopen(s))).toEqual(["6:check:t1/a", "7:taskDone:t1", "10:taskDone:t2"]);
  });

  it.each([
    ["empty", "", "the file is empty"],
    ["cut short", '{"lastSeq":"3","events":["{\\"seq\\":', "JSON"],
  ])("sets an %s spool.json aside under a name that says so, names it, and starts", (_what, text, problem) => {
    fresh();
    writeFileSync(join(stateDir, "spool.json"), text);
    const s = openSpool();
    const aside = readdirSync(stateDir).filter((f) => f.startsWith("spool.json.damaged-"));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(stateDir, "spool.json"))).toBe(false);
    const [warning] = s.health().warnings;
    expect(warning).toContain(`spool: ${join(stateDir, "spool.json")} (the spool of an older agent) is damaged (`);
    expect(warning).toContain(problem);
    expect(warning).toContain(`renamed to ${join(stateDir, aside[0] as string)}`);
    expect(s.append(done("t1")).seq).toBe(1n);
  });

  it("deletes a segment once every event in it is acknowledged, and still numbers above them after a restart", async () => {
    fresh();
    const s = openSpool({ segmentBytes: 1024 });
    for (let i = 1; i <= 20; i++) s.append(check("t1", `c${i}`, "o".repeat(300)));
    const before = segmentFiles().length;
    expect(before).toBeGreaterThanOrEqual(5);
    for (let seq = 1n; seq <= 10n; seq++) s.ack(seq);
    await new Promise((r) => setTimeout(r, 400));
    const afterHalf = segmentFiles().length;
    expect(afterHalf).toBeLessThanOrEqual(before - 3);
    expect(afterHalf).toBeGreaterThanOrEqual(3);
    s.ackThrough(20n);
    await new Promise((r) => setTimeout(r, 400));
    // What is left is the segment being written, holding nothing pending.
    expect(segmentFiles().length).toBeLessThanOrEqual(1);
    const again = reopen(s, { segmentBytes: 1024 });
    expect(again.pendingCount()).toBe(0);
    expect(again.append(done("t1")).seq).toBe(21n);
  });

  it("refuses new tasks once full, naming the size and the limit, yet never drops an event, and takes them again after acks", async () => {
    fresh();
    const s = openSpool({ maxBytes: 8 * 1024, segmentBytes: 4 * 1024 });
    expect(s.refusal()).toBeUndefined();
    for (let i = 1; i <= 12; i++) s.append(check("t1", `c${i}`, "o".repeat(1000)));
    expect(s.pendingCount()).toBe(12);
    expect(s.refusal()).toMatch(new RegExp(`^spool full: [\\d.]+ KiB of results in ${spoolDir()} wait for the coordinator to acknowledge them \\(limit --spool-max 8 KiB\\); the task was not run`));
    // Still written: a running task's results are never dropped.
    s.append(done("t1"));
    expect(s.pendingCount()).toBe(13);
    s.ackThrough(13n);
    await new Promise((r) => setTimeout(r, 400));
    expect(s.refusal()).toBeUndefined();
  });

  it("writes bytes in proportion to the data, not to the spool's size", () => {
    fresh();
    const s = openSpool();
    const out = "x".repeat(64 * 1024);
    for (let i = 0; i < 50; i++) s.append(check("t1", `c${i}`, out));
    s.sync();
    const onDisk = segmentFiles().reduce((n, f) => n + statSync(join(spoolDir(), f)).size, 0);
    expect(onDisk).toBeGreaterThan(50 * out.length);
    expect(onDisk).toBeLessThan(50 * (out.length + 200));
  });

  it("starts degraded, not crashing, when the spool directory cannot be made, and holds events in memory", () => {
    fresh();
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, SPOOL_DIR), "not a directory");
    const s = openSpool();
    expect(s.degraded).toBe(true);
    expect(s.refusal()).toMatch(/^spool unwritable: (EEXIST|ENOTDIR)\b.*; the node cannot record results$/);
    expect(s.append(done("t1")).seq).toBe(1n);
    expect(contents(s)).toEqual(["1:taskDone:t1"]);
    expect(s.health().degraded).toBe(s.refusal());
  });
});
