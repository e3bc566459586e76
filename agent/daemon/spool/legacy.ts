// The spool's previous format, STATE_DIR/spool.json: one JSON file rewritten on every change
// ({"lastSeq": "…", "events": ["<AgentEvent as JSON>", …]}). Read once, moved into the log,
// removed; a damaged one is set aside under a name that says so, never a reason not to start.
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { fromJsonString } from "@bufbuild/protobuf";
import { AgentEventSchema, type AgentEvent } from "../../../shared/gen/fleetgate/v1/agent_pb.js";

export const LEGACY_FILE = "spool.json";

export type LegacySpool =
  | { kind: "none" }
  | { kind: "events"; file: string; lastSeq: bigint; events: AgentEvent[] }
  | { kind: "damaged"; file: string; problem: string };

export function readLegacySpool(stateDir: string): LegacySpool {
  const file = join(stateDir, LEGACY_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    return { kind: "damaged", file, problem: (err as Error).message };
  }
  try {
    const saved = JSON.parse(text) as { lastSeq?: unknown; events?: unknown };
    if (typeof saved.lastSeq !== "string" || !Array.isArray(saved.events)) throw new Error('expected {"lastSeq": "<seq>", "events": [...]}');
    const events = saved.events.map((line) => fromJsonString(AgentEventSchema, String(line)));
    return { kind: "events", file, lastSeq: BigInt(saved.lastSeq), events };
  } catch (err) {
    return { kind: "damaged", file, problem: text.trim() === "" ? "the file is empty" : (err as Error).message };
  }
}

/** Renames a damaged legacy spool to `spool.json.damaged-<time>`; returns the new name. */
export function setAside(file: string, now = new Date()): string {
  const aside = `${file}.damaged-${now.toISOString().replace(/[:.]/g, "-")}`;
  renameSync(file, aside);
  return aside;
}
