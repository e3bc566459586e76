// The spool's record format on real files: what a reader makes of whole records, a torn last
// record and a damaged one in the middle.
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { encodeRecord, HEADER_BYTES, readRecordAt, scanRecords, writeRecord } from "../../agent/daemon/spool/records.js";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function segment(payloads: Buffer[]): string {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-records-"));
  const file = join(dir, "seg");
  writeFileSync(file, Buffer.concat(payloads.map((p) => encodeRecord(p))));
  return file;
}

/** Every intact payload of the file, as text, and the damaged spans. */
function scan(file: string): { payloads: string[]; damages: ReturnType<typeof scanRecords> } {
  const fd = openSync(file, "r");
  try {
    const payloads: string[] = [];
    const damages = scanRecords(fd, statSync(file).size, (_offset, payload) => {
      payloads.push(payload.toString());
      return true;
    });
    return { payloads, damages };
  } finally {
    closeSync(fd);
  }
}

const P = ["first event", "second event, a little longer", "third"].map((t) => Buffer.from(t));
const start = (i: number) => P.slice(0, i).reduce((n, p) => n + HEADER_BYTES + p.length, 0);

describe("spool records", () => {
  it("reads back every record written, in order, with nothing damaged", () => {
    const file = segment(P);
    expect(scan(file)).toEqual({ payloads: P.map(String), damages: [] });
    const fd = openSync(file, "r");
    expect(readRecordAt(fd, start(1), statSync(file).size)?.toString()).toBe(P[1]?.toString());
    closeSync(fd);
  });

  it("writes a record at a position with writeRecord, the same bytes as encodeRecord", () => {
    const file = segment([]);
    const fd = openSync(file, "r+");
    const n = writeRecord(fd, P[0] as Buffer, 0);
    closeSync(fd);
    expect(n).toBe(HEADER_BYTES + (P[0] as Buffer).length);
    expect(readFileSync(file)).toEqual(encodeRecord(P[0] as Buffer));
  });

  it("reports a record torn at the end of the file as a tail, from its offset to the end, keeping the records before it", () => {
    const file = segment(P);
    const torn = encodeRecord(Buffer.from("the fourth event, cut short by a crash")).subarray(0, 20);
    appendFileSync(file, torn);
    expect(scan(file)).toEqual({ payloads: P.map(String), damages: [{ offset: start(3), bytes: 20, tail: true }] });
  });

  it("finds a record whose payload has one flipped byte, skips just it and keeps the records after it", () => {
    const file = segment(P);
    const bytes = readFileSync(file);
    const at = start(1) + HEADER_BYTES + 3;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
    writeFileSync(file, bytes);
    expect(scan(file)).toEqual({ payloads: [P[0], P[2]].map(String), damages: [{ offset: start(1), bytes: start(2) - start(1), tail: false }] });
  });

  it("resynchronises after a damaged length field by finding the next intact record", () => {
    const file = segment(P);
    const bytes = readFileSync(file);
    bytes.writeUInt32BE(0x7fff_0000, start(1) + 4);
    writeFileSync(file, bytes);
    expect(scan(file).payloads).toEqual([P[0], P[2]].map(String));
  });

  it("counts a record its reader cannot use as damaged too", () => {
    const file = segment(P);
    const fd = openSync(file, "r");
    const damages = scanRecords(fd, statSync(file).size, (_o, payload) => payload.toString() !== P[1]?.toString());
    closeSync(fd);
    expect(damages).toEqual([{ offset: start(1), bytes: start(2) - start(1), tail: false }]);
  });
});
