// A RunRecord's binary encoding, written and read without protobuf-es's reflection for its bulk:
// the tasks and their check results. A run of 1,000 nodes × 20 checks × 5 iterations holds
// 100,000 results, and protobuf-es walks each field of each of them through its descriptor
// (toBinary 0.7 s, fromBinary 0.6 s and most of the garbage collector's 1.7 s of a report). The
// bytes are the protobuf encoding of the same RunRecord, so a client of any version reads them and
// this reader reads any coordinator's; everything but the tasks, and the rare nested messages of a
// result (cases, attempts, waiver), still goes through protobuf-es. Pure.
//
// Every field of TaskRecord and CheckResult must be known here: a field added to either in the
// .proto fails test/unit/run-codec.test.ts until it is written and read below.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { AttemptSchema, TestCaseSchema, WaiverSchema, type Attempt, type CheckResult, type TestCase } from "../gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, type RunRecord, type TaskRecord } from "../gen/fleetgate/v1/control_pb.js";
import type { Status } from "../gen/fleetgate/v1/common_pb.js";

const CHECK_RESULT = "fleetgate.v1.CheckResult";
const TASK_RECORD = "fleetgate.v1.TaskRecord";
/** RunRecord.tasks: the one field of a run this module writes and reads itself. */
const TASKS_FIELD = 7;

/** The check result fields by their wire numbers, as the .proto numbers them. */
export const CHECK_RESULT_FIELDS = {
  checkId: 1, kind: 2, status: 3, summary: 4, reason: 5, precondition: 6, startedAtMs: 7, durationMs: 8, attempts: 9,
  stdoutTail: 10, stderrTail: 11, hint: 12, cases: 13, attemptLog: 14, captured: 15, waiver: 16, unwaivedStatus: 17, runAs: 18,
} as const;
export const TASK_RECORD_FIELDS = {
  taskId: 1, stageId: 2, nodeName: 3, iteration: 4, status: 5, summary: 6, checks: 7, startedAtMs: 8, finishedAtMs: 9,
  stageKind: 10, stepId: 11, role: 12, suitePath: 13,
} as const;

export type CheckResultInit = Omit<CheckResult, "$typeName" | "$unknown">;
export type TaskRecordInit = Omit<TaskRecord, "$typeName" | "$unknown">;

/**
 * A CheckResult as create(CheckResultSchema, init) makes it (the same keys in the same order, a
 * message field left out when unset), without create()'s walk of the descriptor: the store builds
 * 100,000 of them for one report.
 */
export function checkResult(c: CheckResultInit): CheckResult {
  const r: CheckResult = {
    $typeName: CHECK_RESULT,
    checkId: c.checkId, kind: c.kind, status: c.status, summary: c.summary, reason: c.reason, precondition: c.precondition,
    startedAtMs: c.startedAtMs, durationMs: c.durationMs, attempts: c.attempts, stdoutTail: c.stdoutTail, stderrTail: c.stderrTail,
    hint: c.hint, cases: c.cases, attemptLog: c.attemptLog, captured: c.captured, unwaivedStatus: c.unwaivedStatus, runAs: c.runAs,
  };
  if (c.waiver !== undefined) r.waiver = c.waiver;
  return r;
}

/** A TaskRecord as create(TaskRecordSchema, init) makes it, without the descriptor walk. */
export function taskRecord(t: TaskRecordInit): TaskRecord {
  return {
    $typeName: TASK_RECORD,
    taskId: t.taskId, stageId: t.stageId, nodeName: t.nodeName, iteration: t.iteration, status: t.status, summary: t.summary,
    checks: t.checks, startedAtMs: t.startedAtMs, finishedAtMs: t.finishedAtMs, stageKind: t.stageKind, stepId: t.stepId,
    role: t.role, suitePath: t.suitePath,
  };
}

// ---- writing ------------------------------------------------------------------------------------

const VARINT = 0;
const LEN = 2;
/** Room left for a nested message's length before its bytes: a varint of up to 5 bytes (< 32 GiB). */
const LENGTH_ROOM = 5;

/** A growing buffer of protobuf wire bytes. */
class Writer {
  buf = Buffer.allocUnsafe(1 << 20);
  at = 0;

  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  /** An unsigned varint below 2^53 (what a length, a tag, a time in ms or a count is). */
  uint(n: number): void {
    this.room(10);
    const b = this.buf;
    let at = this.at;
    while (n >= 0x80) {
      b[at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[at++] = n;
    this.at = at;
  }

  tag(field: number, wire: number): void {
    this.uint((field << 3) | wire);
  }

  /** int32 and enums: a negative value is sign-extended to ten bytes, as protobuf writes it. */
  int32(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, VARINT);
    if (v > 0) this.uint(v);
    else this.int64Big(BigInt(v));
  }

  int64(field: number, v: bigint): void {
    if (v === 0n) return;
    this.tag(field, VARINT);
    if (v > 0n && v <= BigInt(Number.MAX_SAFE_INTEGER)) this.uint(Number(v));
    else this.int64Big(v);
  }

  private int64Big(v: bigint): void {
    let u = BigInt.asUintN(64, v);
    this.room(10);
    while (u >= 0x80n) {
      this.buf[this.at++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.at++] = Number(u);
  }

  bool(field: number, v: boolean): void {
    if (!v) return;
    this.tag(field, VARINT);
    this.uint(1);
  }

  /** A string field; proto3 leaves an empty one out. */
  string(field: number, v: string): void {
    if (v === "") return;
    this.tag(field, LEN);
    this.text(v);
  }

  /** A length and UTF-8 bytes (a map entry writes its key and value even when empty). */
  text(v: string): void {
    // At most 3 bytes per UTF-16 unit: write first, then put the length in front.
    this.room(LENGTH_ROOM + v.length * 3);
    const start = this.at + LENGTH_ROOM;
    const n = this.buf.write(v, start, "utf8");
    this.at = start + n;
    this.close(start - LENGTH_ROOM);
  }

  bytes(field: number, v: Uint8Array): void {
    this.tag(field, LEN);
    this.uint(v.length);
    this.room(v.length);
    this.buf.set(v, this.at);
    this.at += v.length;
  }

  /** Opens a length-delimited field; its bytes follow, and close() puts their length in front. */
  open(field: number): number {
    this.tag(field, LEN);
    this.room(LENGTH_ROOM);
    const mark = this.at;
    this.at += LENGTH_ROOM;
    return mark;
  }

  close(mark: number): void {
    const start = mark + LENGTH_ROOM;
    const length = this.at - start;
    let lengthBytes = 1;
    for (let n = length; n >= 0x80; n = Math.floor(n / 0x80)) lengthBytes++;
    const end = this.at;
    this.at = mark;
    this.uint(length);
    if (lengthBytes < LENGTH_ROOM) this.buf.copyWithin(mark + lengthBytes, start, end);
    this.at = mark + lengthBytes + length;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

function writeCheck(w: Writer, c: CheckResult): void {
  w.string(1, c.checkId);
  w.string(2, c.kind);
  w.int32(3, c.status);
  w.string(4, c.summary);
  w.string(5, c.reason);
  w.bool(6, c.precondition);
  w.int64(7, c.startedAtMs);
  w.int64(8, c.durationMs);
  w.int32(9, c.attempts);
  w.string(10, c.stdoutTail);
  w.string(11, c.stderrTail);
  w.string(12, c.hint);
  for (const k of c.cases) w.bytes(13, toBinary(TestCaseSchema, k));
  for (const a of c.attemptLog) w.bytes(14, toBinary(AttemptSchema, a));
  for (const [key, value] of Object.entries(c.captured)) {
    const entry = w.open(15);
    w.tag(1, LEN);
    w.text(key);
    w.tag(2, LEN);
    w.text(value);
    w.close(entry);
  }
  if (c.waiver) w.bytes(16, toBinary(WaiverSchema, c.waiver));
  w.int32(17, c.unwaivedStatus);
  w.string(18, c.runAs);
}

function writeTask(w: Writer, t: TaskRecord): void {
  w.string(1, t.taskId);
  w.string(2, t.stageId);
  w.string(3, t.nodeName);
  w.int32(4, t.iteration);
  w.int32(5, t.status);
  w.string(6, t.summary);
  for (const c of t.checks) {
    const mark = w.open(7);
    writeCheck(w, c);
    w.close(mark);
  }
  w.int64(8, t.startedAtMs);
  w.int64(9, t.finishedAtMs);
  w.string(10, t.stageKind);
  w.string(11, t.stepId);
  w.string(12, t.role);
  w.string(13, t.suitePath);
}

/**
 * The run's protobuf encoding: what toBinary(RunRecordSchema, run) decodes to, field for field.
 * The run's own fields come first and its tasks after them (a decoder takes fields in any order).
 */
export function encodeRun(run: RunRecord): Uint8Array {
  const w = new Writer();
  const head = toBinary(RunRecordSchema, { ...run, tasks: [] });
  w.room(head.length);
  w.buf.set(head, 0);
  w.at = head.length;
  for (const t of run.tasks) {
    const mark = w.open(TASKS_FIELD);
    writeTask(w, t);
    w.close(mark);
  }
  return w.finish();
}

// ---- reading ------------------------------------------------------------------------------------

/** Thrown for bytes that are not a RunRecord; the caller says whose answer it was. */
export class RunDecodeError extends Error {}

class Reader {
  at = 0;
  constructor(readonly buf: Buffer) {}

  /** An unsigned varint, as a number while it fits in 53 bits (a tag, a length, a time). */
  uint(): number {
    const b = this.buf;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.at >= b.length) throw new RunDecodeError("premature end of a varint");
      const byte = b[this.at++] as number;
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n;
      scale *= 0x80;
    }
    throw new RunDecodeError("a varint longer than 10 bytes");
  }

  /** int32 and enums: the low 32 bits, signed, as protobuf reads them. */
  int32(): number {
    const start = this.at;
    const n = this.uint();
    // Up to 5 bytes the number is exact and `| 0` keeps its low 32 bits, signed; a negative one
    // comes sign-extended to ten bytes, beyond a number's precision.
    return this.at - start <= 5 ? n | 0 : Number(BigInt.asIntN(32, this.int64From(start)));
  }

  /** An int64 varint, exact whatever its size (a negative one takes ten bytes). */
  int64(): bigint {
    const start = this.at;
    const n = this.uint();
    return this.at - start <= 7 ? BigInt(n) : this.int64From(start);
  }

  private int64From(start: number): bigint {
    let u = 0n;
    for (let i = this.at - 1; i >= start; i--) u = (u << 7n) | BigInt((this.buf[i] as number) & 0x7f);
    return BigInt.asIntN(64, u);
  }

  /** The end of a length-delimited field whose length is next. */
  end(): number {
    const length = this.uint();
    const end = this.at + length;
    if (end > this.buf.length) throw new RunDecodeError(`a field of ${length} bytes runs past the end`);
    return end;
  }

  string(): string {
    const end = this.end();
    const s = this.buf.toString("utf8", this.at, end);
    this.at = end;
    return s;
  }

  bytes(): Uint8Array {
    const end = this.end();
    const b = this.buf.subarray(this.at, end);
    this.at = end;
    return b;
  }

  /** Skips a field this version does not know, by its wire type. */
  skip(wire: number): void {
    if (wire === VARINT) this.uint();
    else if (wire === 1) this.at += 8;
    else if (wire === LEN) this.at = this.end();
    else if (wire === 5) this.at += 4;
    else throw new RunDecodeError(`wire type ${wire} cannot be skipped`);
    if (this.at > this.buf.length) throw new RunDecodeError("a field runs past the end");
  }
}

function readCaptured(r: Reader, into: Record<string, string>): void {
  const end = r.end();
  let key = "";
  let value = "";
  while (r.at < end) {
    const tag = r.uint();
    if (tag === ((1 << 3) | LEN)) key = r.string();
    else if (tag === ((2 << 3) | LEN)) value = r.string();
    else r.skip(tag & 7);
  }
  into[key] = value;
}

function readCheck(r: Reader, end: number): CheckResult {
  let checkId = "", kind = "", summary = "", reason = "", stdoutTail = "", stderrTail = "", hint = "", runAs = "";
  let status = 0, attempts = 0, unwaivedStatus = 0;
  let precondition = false;
  let startedAtMs = 0n, durationMs = 0n;
  const cases: TestCase[] = [];
  const attemptLog: Attempt[] = [];
  const captured: Record<string, string> = {};
  const waiver: Uint8Array[] = [];
  while (r.at < end) {
    const tag = r.uint();
    switch (tag) {
      case (1 << 3) | LEN: checkId = r.string(); break;
      case (2 << 3) | LEN: kind = r.string(); break;
      case (3 << 3) | VARINT: status = r.int32(); break;
      case (4 << 3) | LEN: summary = r.string(); break;
      case (5 << 3) | LEN: reason = r.string(); break;
      case (6 << 3) | VARINT: precondition = r.uint() !== 0; break;
      case (7 << 3) | VARINT: startedAtMs = r.int64(); break;
      case (8 << 3) | VARINT: durationMs = r.int64(); break;
      case (9 << 3) | VARINT: attempts = r.int32(); break;
      case (10 << 3) | LEN: stdoutTail = r.string(); break;
      case (11 << 3) | LEN: stderrTail = r.string(); break;
      case (12 << 3) | LEN: hint = r.string(); break;
      case (13 << 3) | LEN: cases.push(fromBinary(TestCaseSchema, r.bytes())); break;
      case (14 << 3) | LEN: attemptLog.push(fromBinary(AttemptSchema, r.bytes())); break;
      case (15 << 3) | LEN: readCaptured(r, captured); break;
      // A message field seen twice is the two merged, as protobuf reads it: read once, joined.
      case (16 << 3) | LEN: waiver.push(r.bytes()); break;
      case (17 << 3) | VARINT: unwaivedStatus = r.int32(); break;
      case (18 << 3) | LEN: runAs = r.string(); break;
      default: r.skip(tag & 7);
    }
  }
  if (r.at !== end) throw new RunDecodeError("a check result runs past its end");
  return checkResult({ checkId, kind, status: status as Status, summary, reason, precondition, startedAtMs, durationMs, attempts, stdoutTail, stderrTail, hint, cases, attemptLog, captured, waiver: waiver.length ? fromBinary(WaiverSchema, Buffer.concat(waiver)) : undefined, unwaivedStatus: unwaivedStatus as Status, runAs });
}

function readTask(r: Reader, end: number): TaskRecord {
  let taskId = "", stageId = "", nodeName = "", summary = "", stageKind = "", stepId = "", role = "", suitePath = "";
  let iteration = 0, status = 0;
  let startedAtMs = 0n, finishedAtMs = 0n;
  const checks: CheckResult[] = [];
  while (r.at < end) {
    const tag = r.uint();
    switch (tag) {
      case (1 << 3) | LEN: taskId = r.string(); break;
      case (2 << 3) | LEN: stageId = r.string(); break;
      case (3 << 3) | LEN: nodeName = r.string(); break;
      case (4 << 3) | VARINT: iteration = r.int32(); break;
      case (5 << 3) | VARINT: status = r.int32(); break;
      case (6 << 3) | LEN: summary = r.string(); break;
      case (7 << 3) | LEN: checks.push(readCheck(r, r.end())); break;
      case (8 << 3) | VARINT: startedAtMs = r.int64(); break;
      case (9 << 3) | VARINT: finishedAtMs = r.int64(); break;
      case (10 << 3) | LEN: stageKind = r.string(); break;
      case (11 << 3) | LEN: stepId = r.string(); break;
      case (12 << 3) | LEN: role = r.string(); break;
      case (13 << 3) | LEN: suitePath = r.string(); break;
      default: r.skip(tag & 7);
    }
  }
  if (r.at !== end) throw new RunDecodeError("a task runs past its end");
  return taskRecord({ taskId, stageId, nodeName, iteration, status: status as Status, summary, checks, startedAtMs, finishedAtMs, stageKind, stepId, role, suitePath });
}

/**
 * The RunRecord in `bytes`, as fromBinary(RunRecordSchema, bytes) reads it: the tasks here, every
 * other field of the run by protobuf-es from the same bytes with the tasks cut out.
 */
export function decodeRun(bytes: Uint8Array): RunRecord {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(buf);
  const tasks: TaskRecord[] = [];
  const rest: Uint8Array[] = [];
  let restFrom = 0;
  while (r.at < buf.length) {
    const fieldStart = r.at;
    const tag = r.uint();
    if (tag === ((TASKS_FIELD << 3) | LEN)) {
      if (fieldStart > restFrom) rest.push(buf.subarray(restFrom, fieldStart));
      tasks.push(readTask(r, r.end()));
      restFrom = r.at;
    } else {
      r.skip(tag & 7);
    }
  }
  if (r.at !== buf.length) throw new RunDecodeError("the run runs past its end");
  if (buf.length > restFrom) rest.push(buf.subarray(restFrom));
  const run = fromBinary(RunRecordSchema, rest.length === 1 ? (rest[0] as Uint8Array) : Buffer.concat(rest));
  run.tasks = tasks;
  return run;
}
