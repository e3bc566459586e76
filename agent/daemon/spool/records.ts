// One spool record on disk: [magic "FGR1"][u32 BE payload length][4 bytes of sha256(length ‖ payload)]
// then the payload (an AgentEvent, protobuf binary). The length says where the next record starts;
// the check catches a record a crash tore (the last write cut short) or a disk damaged; the magic
// lets a reader find the next good record after a damaged one, so one bad record costs only itself.
import { createHash } from "node:crypto";
import { readSync, writevSync } from "node:fs";

export const MAGIC = Buffer.from("FGR1", "ascii");
export const HEADER_BYTES = 12;
/** A length above this is a damaged header, not a record: no event comes near it. */
export const MAX_PAYLOAD_BYTES = 512 * 1024 * 1024;

function checkOf(lengthField: Uint8Array, payload: Uint8Array): Buffer {
  return createHash("sha256").update(lengthField).update(payload).digest().subarray(0, 4);
}

/** The 12-byte header that goes before `payload`. */
export function recordHeader(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32BE(payload.length, 4);
  checkOf(header.subarray(4, 8), payload).copy(header, 8);
  return header;
}

/** Header and payload as one buffer (tests, and writers that want a single write). */
export function encodeRecord(payload: Uint8Array): Buffer {
  return Buffer.concat([recordHeader(payload), payload]);
}

/** Writes the record at `position`, looping over short writes; returns the bytes written. */
export function writeRecord(fd: number, payload: Uint8Array, position: number): number {
  let parts: Uint8Array[] = [recordHeader(payload), payload];
  const total = HEADER_BYTES + payload.length;
  let done = 0;
  while (done < total) {
    const n = writevSync(fd, parts, position + done);
    done += n;
    // A short write (a disk filling up): go on from where it stopped; the next call reports ENOSPC.
    let skip = n;
    parts = parts.flatMap((p) => {
      if (skip >= p.length) {
        skip -= p.length;
        return [];
      }
      const rest = p.subarray(skip);
      skip = 0;
      return [rest];
    });
  }
  return total;
}

function readFully(fd: number, length: number, position: number): Buffer | undefined {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) return undefined;
    done += n;
  }
  return buf;
}

/** The payload of the record at `offset` if a whole, intact record starts there; undefined otherwise. */
export function readRecordAt(fd: number, offset: number, fileSize: number): Buffer | undefined {
  if (offset + HEADER_BYTES > fileSize) return undefined;
  const header = readFully(fd, HEADER_BYTES, offset);
  if (!header || !header.subarray(0, 4).equals(MAGIC)) return undefined;
  const length = header.readUInt32BE(4);
  if (length > MAX_PAYLOAD_BYTES || offset + HEADER_BYTES + length > fileSize) return undefined;
  const payload = readFully(fd, length, offset + HEADER_BYTES);
  if (!payload || !checkOf(header.subarray(4, 8), payload).equals(header.subarray(8, 12))) return undefined;
  return payload;
}

const SEARCH_CHUNK = 1024 * 1024;

/** The offset of the first intact record at or after `from`, searching for the magic; undefined if none. */
export function nextIntactRecord(fd: number, from: number, fileSize: number): number | undefined {
  for (let start = from; start < fileSize; start += SEARCH_CHUNK) {
    // Overlap by the magic's length less one, so a magic across two chunks is still found.
    const length = Math.min(SEARCH_CHUNK + MAGIC.length - 1, fileSize - start);
    const chunk = readFully(fd, length, start);
    if (!chunk) return undefined;
    for (let i = chunk.indexOf(MAGIC); i >= 0 && i < SEARCH_CHUNK; i = chunk.indexOf(MAGIC, i + 1)) {
      if (readRecordAt(fd, start + i, fileSize)) return start + i;
    }
  }
  return undefined;
}

/** Bytes of a segment that hold no intact record; `tail`: nothing intact follows them. */
export interface Damage {
  offset: number;
  bytes: number;
  tail: boolean;
}

/**
 * Walks a segment's records in order, handing each intact one to `onRecord` (which returns false
 * for a payload it cannot use: that record counts as damaged too), and returns the damaged spans.
 */
export function scanRecords(fd: number, fileSize: number, onRecord: (offset: number, payload: Buffer) => boolean): Damage[] {
  const damages: Damage[] = [];
  let offset = 0;
  while (offset < fileSize) {
    const payload = readRecordAt(fd, offset, fileSize);
    if (payload && onRecord(offset, payload)) {
      offset += HEADER_BYTES + payload.length;
      continue;
    }
    const next = nextIntactRecord(fd, offset + 1, fileSize);
    const damagedTo = next ?? fileSize;
    const last = damages.at(-1);
    // Neighbouring bad records (an intact record whose payload is unusable, then garbage) are one span.
    if (last && last.offset + last.bytes === offset) last.bytes += damagedTo - offset;
    else damages.push({ offset, bytes: damagedTo - offset, tail: false });
    offset = damagedTo;
  }
  const last = damages.at(-1);
  if (last && last.offset + last.bytes === fileSize) last.tail = true;
  return damages;
}
