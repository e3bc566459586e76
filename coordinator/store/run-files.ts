// The files each suite of a run ships (`files:`), stored with the run: the engine sends them with
// every task of that suite (also after a restart), the evidence bundle lists their sha256.
import { sha256Hex, type ShippedFile, type ShippedFileHash } from "../../shared/model/suite-files.js";
import type { Db } from "./db.js";

/** Suite path as the plan writes it → its files. */
export type RunFiles = Record<string, ShippedFile[]>;

export function insertRunFiles(db: Db, runId: string, files: RunFiles): void {
  const insert = db.prepare("INSERT INTO run_files (run_id, suite_path, path, sha256, executable, content) VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    for (const [suite, list] of Object.entries(files)) {
      for (const f of list) insert.run(runId, suite, f.path, sha256Hex(f.content), f.executable ? 1 : 0, Buffer.from(f.content));
    }
  })();
}

export function runFiles(db: Db, runId: string): RunFiles {
  const rows = db.prepare("SELECT suite_path, path, executable, content FROM run_files WHERE run_id = ? ORDER BY suite_path, path").all(runId) as {
    suite_path: string;
    path: string;
    executable: number;
    content: Buffer;
  }[];
  const out: RunFiles = {};
  for (const r of rows) (out[r.suite_path] ??= []).push({ path: r.path, content: new Uint8Array(r.content), executable: r.executable === 1 });
  return out;
}

/** Suite path → what the evidence keeps of each file: path, sha256, size, execute bit. */
export function runFileHashes(db: Db, runId: string): Record<string, ShippedFileHash[]> {
  const rows = db.prepare("SELECT suite_path, path, sha256, executable, length(content) AS bytes FROM run_files WHERE run_id = ? ORDER BY suite_path, path").all(runId) as {
    suite_path: string;
    path: string;
    sha256: string;
    executable: number;
    bytes: number;
  }[];
  const out: Record<string, ShippedFileHash[]> = {};
  for (const r of rows) (out[r.suite_path] ??= []).push({ path: r.path, sha256: r.sha256, bytes: r.bytes, executable: r.executable === 1 });
  return out;
}
