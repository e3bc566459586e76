// The spool's files: numbered segments in one directory, the newest open for appending. Knows
// each segment's size and how many pending records it holds, nothing of events. Every method
// throws the file system's error as it comes; the Spool decides what it means (degraded).
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, statSync, unlinkSync } from "node:fs";
import { readRecordAt, writeRecord } from "./records.js";
import { segmentFile } from "./scan.js";
import { syncDir } from "./state-file.js";

/** Where a record is: segment number, offset of its header, header and payload bytes. */
export interface RecordAt {
  seg: number;
  offset: number;
  bytes: number;
}

/**
 * mkdir -p, saying why it failed: Node's recursive mkdir reports ENOENT on a read-only file
 * system, so the directory is tried on its own first (EROFS, EACCES, ENOSPC come through).
 */
export function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && statSync(dir).isDirectory()) return;
    if (code !== "ENOENT") throw err;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}

export class SegmentLog {
  private readonly segments = new Map<number, { size: number; live: number }>();
  private active: { n: number; fd: number; size: number } | undefined;
  private next = 1;
  private readonly readFds = new Map<number, number>();
  private dirty = false;

  constructor(
    readonly dir: string,
    /** A new segment starts once the current one reaches this size. */
    private readonly segmentBytes: number,
  ) {}

  /** Takes in the segments a scan found; new ones are numbered after them. */
  adopt(found: { n: number; size: number }[]): void {
    for (const s of found) this.segments.set(s.n, { size: s.size, live: 0 });
    this.next = Math.max(this.next - 1, ...found.map((s) => s.n)) + 1;
  }

  get writable(): boolean {
    return this.active !== undefined;
  }

  /** Starts a new segment and appends to it from now on. */
  openNew(): void {
    const n = this.next;
    const fd = openSync(segmentFile(this.dir, n), "wx", 0o600);
    this.next++;
    this.active = { n, fd, size: 0 };
    this.segments.set(n, { size: 0, live: 0 });
    syncDir(this.dir);
  }

  /**
   * Appends a record, counted live. On failure what was written of it is cut off (if the disk
   * lets us), the log stops being writable and the error is thrown.
   */
  append(payload: Uint8Array): RecordAt {
    const a = this.active;
    if (!a) throw new Error("spool: no segment open for appending");
    let bytes: number;
    try {
      bytes = writeRecord(a.fd, payload, a.size);
    } catch (err) {
      try {
        ftruncateSync(a.fd, a.size);
      } catch {
        // Then the next open finds a torn tail and cuts it there.
      }
      this.abandon();
      throw err;
    }
    const at = { seg: a.n, offset: a.size, bytes };
    a.size += bytes;
    const seg = this.segments.get(a.n);
    if (seg) {
      seg.size = a.size;
      seg.live++;
    }
    this.dirty = true;
    return at;
  }

  /** True once the current segment has reached its size: `rotate` next. */
  full(): boolean {
    return (this.active?.size ?? 0) >= this.segmentBytes;
  }

  /** Syncs and closes the current segment, then starts the next. */
  rotate(): void {
    this.sync();
    if (this.active) closeSync(this.active.fd);
    this.active = undefined;
    this.openNew();
  }

  /** One fsync for everything appended since the last. */
  sync(): void {
    if (!this.active || !this.dirty) return;
    fsyncSync(this.active.fd);
    this.dirty = false;
  }

  /** The payload of an intact record at `at`, or undefined (damaged since, or unreadable). */
  read(at: RecordAt): Buffer | undefined {
    try {
      let fd = this.readFds.get(at.seg);
      if (fd === undefined) {
        fd = openSync(segmentFile(this.dir, at.seg), "r");
        this.readFds.set(at.seg, fd);
      }
      return readRecordAt(fd, at.offset, at.offset + at.bytes);
    } catch {
      return undefined;
    }
  }

  /** A record found at open is pending (+1), or a pending one no longer is (-1). */
  count(at: RecordAt, delta: 1 | -1): void {
    const seg = this.segments.get(at.seg);
    if (seg) seg.live += delta;
  }

  usedBytes(): number {
    let total = 0;
    for (const s of this.segments.values()) total += s.size;
    return total;
  }

  /** Starts a new segment if the current one is at least `minBytes` and holds nothing pending, so it can go. */
  retireIdle(minBytes: number): void {
    const a = this.active;
    if (a && this.segments.get(a.n)?.live === 0 && a.size >= minBytes) this.rotate();
  }

  /** Segments holding no pending record, the one being written excepted. */
  dead(): number[] {
    return [...this.segments].filter(([n, s]) => s.live === 0 && n !== this.active?.n).map(([n]) => n);
  }

  /** Deletes segments, then syncs the directory once. */
  remove(ns: number[]): void {
    for (const n of ns) {
      const fd = this.readFds.get(n);
      if (fd !== undefined) closeSync(fd);
      this.readFds.delete(n);
      unlinkSync(segmentFile(this.dir, n));
      this.segments.delete(n);
    }
    if (ns.length) syncDir(this.dir);
  }

  /** Segment `n` shrinks to `size` (damage cut off its end). */
  truncate(n: number, size: number): void {
    const fd = openSync(segmentFile(this.dir, n), "r+");
    try {
      ftruncateSync(fd, size);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const seg = this.segments.get(n);
    if (seg) seg.size = size;
  }

  /** Stops appending without a word: the disk failed and closing may fail too. */
  abandon(): void {
    if (!this.active) return;
    try {
      closeSync(this.active.fd);
    } catch {
      // Given up either way.
    }
    this.active = undefined;
  }

  close(): void {
    if (this.active) closeSync(this.active.fd);
    this.active = undefined;
    for (const fd of this.readFds.values()) closeSync(fd);
    this.readFds.clear();
  }
}
