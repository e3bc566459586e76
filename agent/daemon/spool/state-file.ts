// spool/state.json: the two numbers the segments alone cannot give back once acknowledged
// segments are deleted. `floor`: the highest seq this agent ever gave out, so a restarted agent
// never numbers an event with a seq the coordinator has already committed (it would be dropped as
// a duplicate). `acked`: every event at or below it is acknowledged, so a restart does not resend
// them. Written whole to a temporary file, fsynced, then renamed over the old one.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";

export const STATE_FILE = "state.json";

export interface SpoolState {
  floor: bigint;
  acked: bigint;
}

export const EMPTY_STATE: SpoolState = { floor: 0n, acked: 0n };

/** Reads the state; a missing file is the empty state, a damaged one is reported in `problem`. */
export function readState(dir: string): { state: SpoolState; problem?: string } {
  const file = join(dir, STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: EMPTY_STATE };
    return { state: EMPTY_STATE, problem: `cannot read ${file}: ${(err as Error).message}` };
  }
  try {
    const raw = JSON.parse(text) as { floor?: unknown; acked?: unknown };
    if (typeof raw.floor !== "string" || typeof raw.acked !== "string") throw new Error("expected {\"floor\": \"<seq>\", \"acked\": \"<seq>\"}");
    return { state: { floor: BigInt(raw.floor), acked: BigInt(raw.acked) } };
  } catch (err) {
    return { state: EMPTY_STATE, problem: `${file} is damaged (${(err as Error).message}); numbering continues above the highest spooled seq and unacknowledged-looking events are sent again (the coordinator ignores repeats)` };
  }
}

/** Syncs the directory, so a rename or a created or deleted file survives a power loss. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces the state durably; throws the file system's error. */
export function writeState(dir: string, state: SpoolState): void {
  const file = join(dir, STATE_FILE);
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ floor: state.floor.toString(), acked: state.acked.toString() })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dir);
}
