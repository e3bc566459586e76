// Sign-offs: who took responsibility for a run, when, and which skips and overrides they accepted.
import type { Db } from "./db.js";
import type { SignoffRecord } from "./runs.js";

export function insertSignoff(db: Db, runId: string, signoff: SignoffRecord): void {
  db.prepare("INSERT INTO signoffs (run_id, signed_by, signed_at, accepted_json, accepted_overrides_json, waivers_json) VALUES (?, ?, ?, ?, ?, ?)").run(
    runId, signoff.by, signoff.at, JSON.stringify(signoff.accepted), JSON.stringify(signoff.acceptedOverrides), JSON.stringify(signoff.waivers ?? []),
  );
}

