// One alert as it is kept: a JSON file per alert under STATE_DIR/alerts/, rewritten whole
// (write to a temporary file, then rename) so a reader never sees half of one.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import { join } from "node:path";
import type { AlertKind } from "./kinds.js";

export type WebhookFormat = "json" | "slack" | "ntfy";

/** One webhook's delivery of one event (raised or resolved) of an alert. */
export interface Delivery {
  url: string;
  format: WebhookFormat;
  event: "raised" | "resolved";
  state: "pending" | "delivered" | "failed";
  attempts: number;
  /** The last attempt's failure ("HTTP 500", "connect ECONNREFUSED …"), "" once delivered. */
  lastError: string;
  /** When the last attempt ended (ms), 0 before any. */
  at: number;
}

export interface AlertRecord {
  id: string;
  kind: AlertKind;
  subject: string;
  summary: string;
  details: Record<string, unknown>;
  state: "open" | "resolved";
  raisedAt: number;
  /** Raised again while open, within the dedup window or not: counted, not sent again inside it. */
  repeats: number;
  /** When webhooks were last told of it being open (a repeat past the window tells them again). */
  notifiedAt: number;
  resolvedAt: number;
  resolvedSummary: string;
  deliveries: Delivery[];
}

export const ALERTS_DIR = "alerts";

/** A file name that sorts by time and says what it is, with a short hash standing for any subject. */
export function alertId(kind: AlertKind, subject: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const hash = createHash("sha256").update(`${kind}\0${subject}\0${at}`).digest("hex").slice(0, 8);
  return `${stamp}-${kind}-${hash}`;
}

/** An alert file's bytes: the record as indented JSON and a newline. */
export function alertText(alert: AlertRecord): string {
  return `${JSON.stringify(alert, null, 2)}\n`;
}

/** Writes one alert's file off the event loop: its text to `ID.json.tmp`, fsynced, then renamed over `ID.json`. */
export async function writeAlertFile(dir: string, id: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${id}.json`);
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/** Every alert kept under `dir`, oldest first; a file that does not parse is reported, not fatal. */
export function readAlerts(dir: string, onBad: (file: string, err: unknown) => void = () => {}): AlertRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: AlertRecord[] = [];
  for (const name of names) {
    try {
      out.push(JSON.parse(readFileSync(join(dir, name), "utf8")) as AlertRecord);
    } catch (err) {
      onBad(name, err);
    }
  }
  return out;
}

export function removeAlert(dir: string, id: string): void {
  rmSync(join(dir, `${id}.json`), { force: true });
}
