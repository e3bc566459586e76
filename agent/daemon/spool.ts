// Every event is written here before it is sent and stays until the coordinator acknowledges
// it, so a dropped link or an agent restart delays results but never loses them (DESIGN rule 2).
//
// STATE_DIR/spool/ is an append-only log cut into segments (spool/segments.ts, spool/records.ts),
// fsynced once per burst of writes. Only an index (seq → segment and offset) stays in memory;
// events are read back when they are sent, so memory does not grow with the spool (the old
// spool.json, rewritten whole on every change, wrote 1.97 GB to disk and took 818 MB of memory
// for 40 results of 2 MiB: issue 12). A segment whose every event is acknowledged is deleted.
// Damage found at open is cut out and reported, never a reason not to start; a disk that refuses
// writes makes the spool degraded (it says why, holds events in memory, and new tasks are
// refused) instead of crashing the agent.
import { join } from "node:path";
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "pino";
import { AgentEventSchema, type AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { Origin } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { formatSize } from "../../shared/model/sizes.js";
import { migrateLegacySpool } from "./spool/migrate.js";
import { replacementBody } from "./spool/poison.js";
import { repairSpool } from "./spool/repair.js";
import { metaOf, scanSpool, segmentFile, type EventMeta, type SpoolScan } from "./spool/scan.js";
import { makeDir, SegmentLog, type RecordAt } from "./spool/segments.js";
import { writeState } from "./spool/state-file.js";
import { DEFAULT_SPOOL_MAX } from "./spool-limit.js";

export const SPOOL_DIR = "spool";
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 ** 2;
/** While the disk refuses writes, events are held in memory up to this much (then results shrink to ERROR stand-ins). */
export const DEFAULT_HELD_MAX = 64 * 1024 ** 2;
/** Acknowledgements are made durable (and dead segments deleted) this long after the first of a burst. */
const CHECKPOINT_DELAY_MS = 200;
/** A fully acknowledged current segment at least this big is closed and deleted at a checkpoint. */
const IDLE_ROTATE_BYTES = 4 * 1024 ** 2;
/** Warnings kept for the coordinator to show; the log has them all. */
const MAX_WARNINGS = 10;

export interface SpoolOptions {
  /** Who this agent is: the origin of the ERROR events that replace undeliverable ones. */
  origin?: Origin;
  /** --spool-max: bytes on disk (and held in memory) from which new tasks are refused. */
  maxBytes?: number;
  /** A new segment starts once the current one reaches this size. */
  segmentBytes?: number;
  heldMaxBytes?: number;
  log?: Logger;
}

/** Where an event's record is: in a segment, or held in memory while the disk refuses writes. */
type Where = RecordAt | { held: Uint8Array };

interface Entry {
  where: Where;
  meta: EventMeta;
  /** Already an ERROR stand-in: never replaced again. */
  replaced: boolean;
}

export type AppendInit = Pick<MessageInitShape<typeof AgentEventSchema>, "origin" | "body">;

function bytesOf(where: Where): number {
  return "held" in where ? where.held.length : where.bytes;
}

function decode(payload: Uint8Array): AgentEvent | undefined {
  try {
    return fromBinary(AgentEventSchema, payload);
  } catch {
    return undefined;
  }
}

export class Spool {
  /** Pending (unacknowledged) events by seq, in ascending seq order: new seqs only ever go on the end. */
  private entries = new Map<bigint, Entry>();
  /** Task id → seq of its pending done event. */
  private readonly taskDones = new Map<string, bigint>();
  private readonly log: SegmentLog;
  private lastSeq = 0n;
  private persistedAck = -1n;
  private syncQueued = false;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private heldBytes = 0;
  private degradedBy: string | undefined;
  private readonly warnings: string[] = [];
  private readonly maxBytes: number;
  private readonly heldMaxBytes: number;

  private constructor(
    readonly dir: string,
    private readonly opts: SpoolOptions,
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_SPOOL_MAX;
    this.heldMaxBytes = opts.heldMaxBytes ?? DEFAULT_HELD_MAX;
    this.log = new SegmentLog(dir, opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
  }

  /**
   * Opens STATE_DIR/spool: keeps every intact unacknowledged record, cuts out and reports damage,
   * moves an old STATE_DIR/spool.json in. Never throws for the disk: an unwritable one leaves
   * the spool degraded (see `refusal`).
   */
  static open(stateDir: string, opts: SpoolOptions = {}): Spool {
    const spool = new Spool(join(stateDir, SPOOL_DIR), opts);
    const scan = spool.scan();
    if (scan) spool.adopt(scan);
    // A directory that could not be made keeps its reason: opening a file in it would only say ENOENT.
    if (!spool.degraded) spool.disk(() => spool.log.openNew());
    if (scan) repairSpool(spool, scan);
    migrateLegacySpool(spool, stateDir, opts.log);
    spool.persistState();
    spool.checkpoint();
    return spool;
  }

  private scan(): SpoolScan | undefined {
    this.disk(() => makeDir(this.dir));
    try {
      return scanSpool(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      this.warn(`cannot read the spool ${this.dir}: ${(err as Error).message}; its events, if any, are not sent`);
      return undefined;
    }
  }

  private adopt(scan: SpoolScan): void {
    this.log.adopt(scan.segments);
    if (scan.stateProblem) this.warn(scan.stateProblem);
    this.lastSeq = [scan.state.floor, scan.state.acked, scan.highestSeq].reduce((a, b) => (a > b ? a : b));
    for (const [seq, at] of scan.pending) {
      const where = { seg: at.seg, offset: at.offset, bytes: at.bytes };
      this.log.count(where, 1);
      this.place(seq, where, at.meta, false);
    }
  }

  /** The coordinator has committed up to `seq` for this node: never number at or below it. */
  raiseFloor(seq: bigint): void {
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    this.persistState();
  }

  /** Spools a new event under the next seq. Written at once, fsynced with its burst (or by `sync`). */
  append(init: AppendInit): AgentEvent {
    this.lastSeq += 1n;
    const event = create(AgentEventSchema, { origin: init.origin, body: init.body, seq: this.lastSeq });
    this.store(event, false);
    return event;
  }

  /**
   * Spools `event` under its own seq (records moved at open). A seq new to the spool and below
   * others breaks the index's order: call `sortPending` before anything else uses the spool.
   */
  restore(event: AgentEvent): void {
    if (event.seq > this.lastSeq) this.lastSeq = event.seq;
    this.store(event, false);
  }

  /** Puts the index back in seq order after `restore`. */
  sortPending(): void {
    this.entries = new Map([...this.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /**
   * Replaces a pending event by an ERROR event for the same task and check, under the same seq,
   * saying `why`. Returns the replacement, or undefined if there is nothing (more) to replace.
   */
  replace(seq: bigint, why: string): AgentEvent | undefined {
    const entry = this.entries.get(seq);
    if (!entry || entry.replaced) return undefined;
    const event = create(AgentEventSchema, { seq, origin: this.opts.origin, body: replacementBody(entry.meta, why) });
    this.store(event, true);
    return event;
  }

  ack(seq: bigint): void {
    const entry = this.entries.get(seq);
    if (!entry) return;
    this.entries.delete(seq);
    this.release(entry);
    if (entry.meta.kind === "taskDone" && this.taskDones.get(entry.meta.taskId) === seq) this.taskDones.delete(entry.meta.taskId);
    this.scheduleCheckpoint();
  }

  /** The coordinator has committed every event up to `seq`. */
  ackThrough(seq: bigint): void {
    for (const s of this.entries.keys()) {
      if (s > seq) break;
      this.ack(s);
    }
  }

  /** True while an event with this seq is pending. */
  holds(seq: bigint): boolean {
    return this.entries.has(seq);
  }

  pendingCount(): number {
    return this.entries.size;
  }

  /** Pending events above `after`, oldest first: seq and record size, for a sender to window. */
  *pendingAfter(after: bigint): Generator<{ seq: bigint; bytes: number }> {
    for (const [seq, entry] of this.entries) if (seq > after) yield { seq, bytes: bytesOf(entry.where) };
  }

  /** Where pending events of segment `n` are, for repair. */
  recordsIn(n: number): { seq: bigint; offset: number }[] {
    const out: { seq: bigint; offset: number }[] = [];
    for (const [seq, e] of this.entries) if (!("held" in e.where) && e.where.seg === n) out.push({ seq, offset: e.where.offset });
    return out;
  }

  /** Reads a pending event back; a record damaged since it was written is replaced (and that returned). */
  read(seq: bigint): AgentEvent | undefined {
    const entry = this.entries.get(seq);
    if (!entry) return undefined;
    const where = entry.where;
    const event = decode("held" in where ? where.held : (this.log.read(where) ?? new Uint8Array()));
    if (event?.seq === seq) return event;
    const why = "held" in where ? "its record could not be decoded" : `its spooled record in ${segmentFile(this.dir, where.seg)} at offset ${where.offset} no longer reads intact`;
    this.opts.log?.error({ seq }, `spool: ${why}; replacing it with an ERROR event`);
    return this.replace(seq, why);
  }

  /** True while the done event of `taskId` waits for delivery. */
  hasTaskDone(taskId: string): boolean {
    return this.taskDones.has(taskId);
  }

  /** Bytes the spool takes: its segments on disk and what it holds in memory. */
  usedBytes(): number {
    return this.log.usedBytes() + this.heldBytes;
  }

  /**
   * Why a new task must not start now, or undefined. A spool that could not write tries again
   * first, so a disk that came back (space freed, remounted) is used again.
   */
  refusal(): string | undefined {
    if (this.degradedBy && !this.retryWrites()) return this.degradedBy;
    const used = this.usedBytes();
    if (used >= this.maxBytes) {
      return `spool full: ${formatSize(used)} of results in ${this.dir} wait for the coordinator to acknowledge them (limit --spool-max ${formatSize(this.maxBytes)}); the task was not run — it can run once the coordinator is reachable and has taken them`;
    }
    return undefined;
  }

  /** What the coordinator shows for this node: why it is degraded (empty if it is not), and what was repaired. */
  health(): { degraded: string; warnings: string[] } {
    return { degraded: this.degradedBy ?? "", warnings: [...this.warnings] };
  }

  get degraded(): boolean {
    return this.degradedBy !== undefined;
  }

  /** Makes everything written so far durable (one fsync for the whole burst). */
  sync(): void {
    this.disk(() => this.log.sync());
  }

  /** Syncs, records acknowledgements, deletes acknowledged segments, closes files. */
  close(): void {
    this.sync();
    this.checkpoint();
    this.log.close();
  }

  /** A problem an operator should hear of: logged, and kept (a few) for the coordinator. */
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.opts.log?.warn({ spool: this.dir, ...fields }, message);
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(message.length > 300 ? `${message.slice(0, 297)}...` : message);
  }

  /** Segment `n` is cut at `size` (damage at its end); an unwritable disk degrades the spool. */
  truncateSegment(n: number, size: number): void {
    this.disk(() => this.log.truncate(n, size));
  }

  /**
   * Runs a file operation; a file system error degrades the spool (why is recorded, later
   * events are held in memory) and false is returned. Anything else is a bug and is thrown.
   */
  private disk(op: () => void): boolean {
    try {
      op();
      return true;
    } catch (err) {
      if (typeof (err as NodeJS.ErrnoException)?.code !== "string") throw err;
      this.log.abandon();
      const message = (err as Error).message;
      // ENOSPC and EIO from a write name no file: say where.
      const reason = `spool unwritable: ${message}${message.includes(this.dir) ? "" : ` (in ${this.dir})`}; the node cannot record results`;
      if (reason !== this.degradedBy) this.opts.log?.error({ spool: this.dir, code: (err as NodeJS.ErrnoException).code }, `${reason}; new tasks are refused until it is writable again`);
      this.degradedBy = reason;
      return false;
    }
  }

  private store(event: AgentEvent, replaced: boolean): void {
    let payload = toBinary(AgentEventSchema, event);
    let meta = metaOf(event);
    let where: Where | undefined = this.writeToDisk(payload);
    if (!where) {
      if (meta.kind === "check" && this.heldBytes + payload.length > this.heldMaxBytes) {
        // Held in memory with no end would take the agent down: keep a stand-in that says so.
        const why = `the spool cannot write (${this.degradedBy ?? "unwritable"}) and ${formatSize(this.heldBytes)} of results are already held in memory`;
        const stub = create(AgentEventSchema, { seq: event.seq, origin: event.origin, body: replacementBody(meta, why) });
        payload = toBinary(AgentEventSchema, stub);
        meta = metaOf(stub);
        replaced = true;
      }
      this.heldBytes += payload.length;
      where = { held: payload };
    }
    const old = this.entries.get(event.seq);
    if (old) this.release(old);
    this.place(event.seq, where, meta, replaced);
  }

  private place(seq: bigint, where: Where, meta: EventMeta, replaced: boolean): void {
    this.entries.set(seq, { where, meta, replaced });
    if (meta.kind === "taskDone") this.taskDones.set(meta.taskId, seq);
  }

  /** The record of an event no longer counts: acknowledged, or written again elsewhere. */
  private release(entry: Entry): void {
    if ("held" in entry.where) this.heldBytes -= entry.where.held.length;
    else this.log.count(entry.where, -1);
  }

  /** Appends to the current segment (a new one follows a full one); undefined when the disk refused. */
  private writeToDisk(payload: Uint8Array): RecordAt | undefined {
    if (!this.log.writable) return undefined;
    let at: RecordAt | undefined;
    if (!this.disk(() => (at = this.log.append(payload)))) return undefined;
    this.queueSync();
    // The record is written: a segment that cannot be started after it only degrades what follows.
    if (this.log.full()) this.disk(() => this.log.rotate());
    return at;
  }

  /** One fsync for everything appended in this turn of the event loop. */
  private queueSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    setImmediate(() => {
      this.syncQueued = false;
      this.sync();
    });
  }

  /** Every event at or below this is acknowledged. */
  private watermark(): bigint {
    for (const seq of this.entries.keys()) return seq - 1n;
    return this.lastSeq;
  }

  /** Writes floor and acknowledgement watermark durably; false when it could not. */
  private persistState(): boolean {
    if (this.degradedBy) return false;
    const acked = this.watermark();
    if (!this.disk(() => writeState(this.dir, { floor: this.lastSeq, acked }))) return false;
    this.persistedAck = acked;
    return true;
  }

  private scheduleCheckpoint(): void {
    if (this.checkpointTimer) return;
    this.checkpointTimer = setTimeout(() => this.checkpoint(), CHECKPOINT_DELAY_MS);
    this.checkpointTimer.unref();
  }

  /** Records acknowledgements, then deletes segments none of whose records is pending. */
  private checkpoint(): void {
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    if (this.degradedBy) return;
    this.disk(() => this.log.retireIdle(IDLE_ROTATE_BYTES));
    const dead = this.log.dead();
    if (!dead.length && this.watermark() === this.persistedAck) return;
    // The floor must be on disk before the records that carried the highest seqs go.
    if (!this.persistState()) return;
    this.disk(() => this.log.remove(dead));
  }

  /** After the disk refused: a new segment, every held event written to it. True once writable again. */
  private retryWrites(): boolean {
    if (!this.disk(() => makeDir(this.dir))) return false;
    if (!this.log.writable && !this.disk(() => this.log.openNew())) return false;
    for (const [seq, entry] of this.entries) {
      if (!("held" in entry.where)) continue;
      const at = this.writeToDisk(entry.where.held);
      if (!at) return false;
      this.release(entry);
      this.place(seq, at, entry.meta, entry.replaced);
    }
    this.sync();
    if (!this.log.writable) return false;
    const was = this.degradedBy;
    this.degradedBy = undefined;
    if (!this.persistState()) return false;
    this.opts.log?.info({ spool: this.dir, was }, "spool writable again: held events written to disk; tasks are taken again");
    return true;
  }
}
