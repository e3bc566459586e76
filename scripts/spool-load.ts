// Measures the agent's spool under the load of issue 12 (40 results of 2 MiB spooled with the
// coordinator away, then delivered after a restart): bytes written to disk and memory, in a
// process of its own so the figures are the spool's. Prints one JSON object on stdout.
//
//   node --expose-gc dist/scripts/spool-load.js --dir /tmp/x [--events 40] [--size 2097152]
//
// Used by test/e2e/spool-growth.test.ts; by hand it shows what a spool of any shape costs.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Spool, SPOOL_DIR } from "../agent/daemon/spool.js";
import { Status } from "../shared/model/status.js";

export interface SpoolLoad {
  events: number;
  /** Bytes of output the events carry. */
  dataBytes: number;
  /** Bytes this process handed to write(2) while spooling (/proc/self/io wchar). */
  writtenBytes: number;
  /** Size of the spool's files once everything is spooled. */
  spoolBytes: number;
  /**
   * JavaScript heap in use after a full collection (what the process holds on to), bytes: at the
   * start, after a quarter of the events, after all of them, and the most while reading them back.
   */
  heap: { start: number; quarter: number; spooled: number; readBackPeak: number };
  /** Resident memory at the start and the most it ever was (VmHWM), bytes. */
  rss: { start: number; peak: number };
  /** Events read back after reopening the spool (as a restarted agent sends them). */
  readBack: number;
}

function wchar(): number {
  const line = readFileSync("/proc/self/io", "utf8")
    .split("\n")
    .find((l) => l.startsWith("wchar:"));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

/** Heap in use after a full collection, so garbage not yet collected is not counted as held. */
function settledHeap(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/** The most resident memory the process ever had, bytes (VmHWM). */
function peakRss(): number {
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  return Number(kb ?? 0) * 1024;
}

function spoolBytes(stateDir: string): number {
  const dir = join(stateDir, SPOOL_DIR);
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

export function measure(stateDir: string, events: number, size: number): SpoolLoad {
  const origin = { machineId: "0123456789abcdef0123456789abcdef", bootId: "b", hostname: "load" };
  const start = settledHeap();
  const rssStart = process.memoryUsage().rss;
  const written0 = wchar();
  const spool = Spool.open(stateDir, { maxBytes: 16 * 1024 ** 3 });
  let quarter = 0;
  for (let i = 0; i < events; i++) {
    // A fresh string each time, as each check's output is.
    const output = String.fromCharCode(97 + (i % 26)).repeat(size);
    spool.append({ origin, body: { case: "check", value: { taskId: `t${i}`, result: { checkId: "big", kind: "command", status: Status.PASSED, summary: "exit 0", stdoutTail: output } } } });
    spool.sync();
    if (i + 1 === Math.ceil(events / 4)) quarter = settledHeap();
  }
  spool.close();
  const writtenBytes = wchar() - written0;
  const spooled = settledHeap();
  const bytesOnDisk = spoolBytes(stateDir);

  const again = Spool.open(stateDir, { maxBytes: 16 * 1024 ** 3 });
  let readBackPeak = 0;
  let readBack = 0;
  for (const { seq } of again.pendingAfter(0n)) {
    if (again.read(seq)?.body.case === "check") readBack++;
    again.ack(seq);
    if (readBack % 8 === 0) readBackPeak = Math.max(readBackPeak, settledHeap());
  }
  readBackPeak = Math.max(readBackPeak, settledHeap());
  again.close();
  return { events, dataBytes: events * size, writtenBytes, spoolBytes: bytesOnDisk, heap: { start, quarter, spooled, readBackPeak }, rss: { start: rssStart, peak: peakRss() }, readBack };
}

const { values } = parseArgs({ options: { dir: { type: "string" }, events: { type: "string", default: "40" }, size: { type: "string", default: String(2 * 1024 * 1024) } } });
if (!values.dir) {
  process.stderr.write("spool-load: --dir DIR is required (a state dir; its spool/ is created)\n");
  process.exit(3);
}
process.stdout.write(`${JSON.stringify(measure(values.dir, Number(values.events), Number(values.size)))}\n`);
