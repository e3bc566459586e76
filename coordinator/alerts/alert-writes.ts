// Alert files written off the event loop. Each save used to write and fsync its file before
// raise() returned; a burst (a flapping node, 1,000 nodes offline at once, each raise followed by
// its webhook deliveries' saves) stalled the coordinator for as many fsyncs. Now a save takes a
// snapshot of the alert and returns; a few files are written at a time, and an alert saved again
// before its write began is written once, in its latest state. One write per alert at a time,
// so its writes never land out of order.
import { alertText, writeAlertFile, type AlertRecord } from "./record.js";

/** Files written at once: enough to keep the disk busy, few enough to leave the fds and the libuv pool to the rest. */
const CONCURRENT_WRITES = 4;

export class AlertWrites {
  /** Saved, not yet being written: the latest text of each alert. */
  private readonly waiting = new Map<string, string>();
  /** Being written now. */
  private readonly writing = new Map<string, string>();
  private idle: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    private readonly onError: (id: string, err: unknown) => void,
  ) {}

  save(alert: AlertRecord): void {
    this.waiting.set(alert.id, alertText(alert));
    this.pump();
  }

  /** Alerts saved whose last state is not on disk yet, in that state. */
  unwritten(): AlertRecord[] {
    const ids = new Set([...this.writing.keys(), ...this.waiting.keys()]);
    return [...ids].map((id) => JSON.parse((this.waiting.get(id) ?? this.writing.get(id)) as string) as AlertRecord);
  }

  /** Resolves once everything saved so far, and saved meanwhile, is on disk (or failed and was reported). */
  async flush(): Promise<void> {
    while (this.waiting.size || this.writing.size) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    for (const [id, text] of this.waiting) {
      if (this.writing.size >= CONCURRENT_WRITES) return;
      // Its earlier write is still going: this one starts when it ends.
      if (this.writing.has(id)) continue;
      this.waiting.delete(id);
      this.writing.set(id, text);
      writeAlertFile(this.dir, id, text)
        .catch((err: unknown) => this.onError(id, err))
        .finally(() => {
          this.writing.delete(id);
          this.pump();
          if (!this.waiting.size && !this.writing.size) for (const resolve of this.idle.splice(0)) resolve();
        });
    }
  }
}
