// Moves an old STATE_DIR/spool.json into the log once: its seq floor first, then its events
// under their own seqs, synced, and only then the file removed (a crash in between moves them
// again next time; a seq already in the log is not written twice).
import { unlinkSync } from "node:fs";
import type { Logger } from "pino";
import { readLegacySpool, setAside } from "./legacy.js";
import type { AgentEvent } from "../../../shared/gen/fleetgate/v1/agent_pb.js";
import { syncDir } from "./state-file.js";

/** What migration needs of the spool (a structural view, so this module does not import spool.ts). */
export interface MigrationTarget {
  readonly dir: string;
  readonly degraded: boolean;
  holds(seq: bigint): boolean;
  restore(event: AgentEvent): void;
  sortPending(): void;
  sync(): void;
  raiseFloor(seq: bigint): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export function migrateLegacySpool(spool: MigrationTarget, stateDir: string, log?: Logger): void {
  const legacy = readLegacySpool(stateDir);
  if (legacy.kind === "none") return;
  if (legacy.kind === "damaged") {
    let fate: string;
    try {
      fate = `renamed to ${setAside(legacy.file)}`;
    } catch (err) {
      fate = `left in place (it cannot be renamed: ${(err as Error).message})`;
    }
    spool.warn(
      `spool: ${legacy.file} (the spool of an older agent) is damaged (${legacy.problem}); ${fate} and not used — a task whose result only it held reports interrupted when the coordinator sends it again`,
      { file: legacy.file },
    );
    return;
  }
  for (const event of legacy.events) if (!spool.holds(event.seq)) spool.restore(event);
  spool.sortPending();
  spool.sync();
  // Durable with its acknowledgement watermark below the events just moved in.
  spool.raiseFloor(legacy.lastSeq);
  if (spool.degraded) {
    spool.warn(`spool: ${legacy.file} (the spool of an older agent) could not be moved into ${spool.dir}; its ${legacy.events.length} events are held in memory and the file is kept`, { file: legacy.file });
    return;
  }
  try {
    unlinkSync(legacy.file);
    syncDir(stateDir);
  } catch (err) {
    spool.warn(`spool: ${legacy.file} was moved into ${spool.dir} but cannot be removed (${(err as Error).message}); remove it by hand`, { file: legacy.file });
    return;
  }
  log?.info({ file: legacy.file, events: legacy.events.length, spool: spool.dir }, "spool: moved the old spool.json into the segmented spool and removed it");
}
