// What Spool.open does with damage the scan found: every damaged span is reported (log line with
// file and offset, and a warning the coordinator shows); records after the first damaged span of
// a segment are written again at the end of the log, then the segment is cut there, so the
// damage is reported once and the intact records around it are all kept.
import type { Damage } from "./records.js";
import type { SpoolScan } from "./scan.js";
import type { AgentEvent } from "../../../shared/gen/fleetgate/v1/agent_pb.js";

/** What repair needs of the spool (a structural view, so this module does not import spool.ts). */
export interface RepairTarget {
  readonly degraded: boolean;
  warn(message: string, fields?: Record<string, unknown>): void;
  recordsIn(n: number): { seq: bigint; offset: number }[];
  read(seq: bigint): AgentEvent | undefined;
  restore(event: AgentEvent): void;
  sync(): void;
  truncateSegment(n: number, size: number): void;
}

export function describeDamage(file: string, d: Damage): string {
  return d.tail
    ? `spool: ${file}: torn record at offset ${d.offset} (${d.bytes} bytes to the end of the file: a write cut short by a crash) dropped; the records before it are kept`
    : `spool: ${file}: damaged record at offset ${d.offset} (${d.bytes} bytes) dropped; the records after it are kept`;
}

export function repairSpool(spool: RepairTarget, scan: SpoolScan): void {
  for (const seg of scan.segments) {
    const first = seg.damages[0];
    if (!first) continue;
    for (const d of seg.damages) spool.warn(describeDamage(seg.file, d), { file: seg.file, offset: d.offset, bytes: d.bytes });
    // Unwritable: the damage stays where it is, and is found (and reported) again at the next start.
    if (spool.degraded) continue;
    for (const r of spool.recordsIn(seg.n)) {
      if (r.offset < first.offset) continue;
      const event = spool.read(r.seq);
      if (event) spool.restore(event);
    }
    spool.sync();
    if (spool.degraded) continue;
    spool.truncateSegment(seg.n, first.offset);
  }
}
