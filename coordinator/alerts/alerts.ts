// The one entry point for alerts: raise(kind, subject, …) when a condition starts, resolve(kind,
// subject) when it clears. Each alert is a JSON file under STATE_DIR/alerts/ and, when coord.yaml
// configures webhooks, a POST to each (retried with backoff, off the caller's path). An alert is
// (kind, subject): raising it again while it is open within the dedup window is counted, not
// sent; past the window, webhooks are told again that it is still open.
import { join } from "node:path";
import type { Logger } from "../../shared/logging.js";
import type { AlertKind } from "./kinds.js";
import { DEFAULT_RETRY, postWithRetries, realSleep, type RetryPolicy, type Sleep } from "./delivery.js";
import { AlertWrites } from "./alert-writes.js";
import { alertId, ALERTS_DIR, readAlerts, removeAlert, type AlertRecord, type Delivery, type WebhookFormat } from "./record.js";
import { alertLine, webhookRequest } from "./webhook-body.js";

export interface Webhook {
  url: string;
  format: WebhookFormat;
}

export interface AlertInput {
  kind: AlertKind;
  subject: string;
  /** One line a person acts on: what happened and where to look. */
  summary: string;
  details?: Record<string, unknown>;
}

export interface AlertsOptions {
  stateDir: string;
  webhooks?: Webhook[];
  dedupWindowMs?: number;
  log: Logger;
  now?: () => number;
  sleep?: Sleep;
  retry?: RetryPolicy;
}

export const DEFAULT_DEDUP_WINDOW_MS = 3_600_000;
/** How long a resolved alert stays listed: its files are deleted at the next start after that. */
export const RESOLVED_KEPT_MS = 30 * 86_400_000;

/** What other parts of the coordinator are handed: raise and resolve, nothing else. */
export interface AlertSink {
  raise(input: AlertInput): void;
  resolve(kind: AlertKind, subject: string, summary?: string): void;
}

const key = (kind: string, subject: string) => `${kind}\0${subject}`;

export class Alerts implements AlertSink {
  private readonly dir: string;
  private readonly open = new Map<string, AlertRecord>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly now: () => number;
  private readonly writes: AlertWrites;

  constructor(private readonly opts: AlertsOptions) {
    this.dir = join(opts.stateDir, ALERTS_DIR);
    this.now = opts.now ?? Date.now;
    // The webhooks may still get through; the log keeps what the file could not.
    this.writes = new AlertWrites(this.dir, (id, err) => opts.log.error({ alert: id, err }, "could not write the alert file"));
    // Open alerts survive a restart: a node still offline is not alerted twice. Resolved ones are
    // kept RESOLVED_KEPT_MS for coord alerts, then deleted, so the directory does not grow forever.
    const now = this.now();
    for (const a of readAlerts(this.dir, (file, err) => opts.log.warn({ file, err }, "alert file not readable; ignored"))) {
      if (a.state === "open") this.open.set(key(a.kind, a.subject), a);
      else if (now - a.resolvedAt > RESOLVED_KEPT_MS) {
        removeAlert(this.dir, a.id);
        continue;
      }
      this.resendPending(a);
    }
  }

  /**
   * A delivery still pending in the file was cut short by a stop: it is marked failed, and sent
   * again as a new delivery if that webhook is still configured.
   */
  private resendPending(alert: AlertRecord): void {
    const pending = alert.deliveries.filter((d) => d.state === "pending");
    if (!pending.length) return;
    for (const d of pending) Object.assign(d, { state: "failed", lastError: d.lastError || "the coordinator stopped before it was delivered" });
    this.save(alert);
    for (const d of pending) {
      const hook = (this.opts.webhooks ?? []).find((h) => h.url === d.url && h.format === d.format);
      if (hook) this.deliver(alert, d.event, hook);
    }
  }

  raise({ kind, subject, summary, details = {} }: AlertInput): void {
    const now = this.now();
    const existing = this.open.get(key(kind, subject));
    if (existing) {
      existing.repeats++;
      existing.summary = summary;
      existing.details = details;
      const window = this.opts.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
      const renotify = now - existing.notifiedAt >= window;
      if (renotify) existing.notifiedAt = now;
      this.save(existing);
      if (renotify) this.notify(existing, "raised");
      else this.opts.log.debug({ kind, subject }, "alert still open; not sent again within the dedup window");
      return;
    }
    const alert: AlertRecord = { id: alertId(kind, subject, now), kind, subject, summary, details, state: "open", raisedAt: now, repeats: 0, notifiedAt: now, resolvedAt: 0, resolvedSummary: "", deliveries: [] };
    this.open.set(key(kind, subject), alert);
    this.save(alert);
    this.opts.log.warn({ alert: alert.id, kind, subject }, alertLine(alert, "raised"));
    this.notify(alert, "raised");
  }

  /** Clears the open (kind, subject) alert, if there is one; otherwise nothing happens. */
  resolve(kind: AlertKind, subject: string, summary = ""): void {
    const alert = this.open.get(key(kind, subject));
    if (!alert) return;
    this.open.delete(key(kind, subject));
    alert.state = "resolved";
    alert.resolvedAt = this.now();
    alert.resolvedSummary = summary;
    this.save(alert);
    this.opts.log.info({ alert: alert.id, kind, subject }, alertLine(alert, "resolved"));
    this.notify(alert, "resolved");
  }

  /** Every alert kept, as last saved (a file not yet rewritten is read as it will be): open ones first, then resolved, newest first in each. */
  list(): AlertRecord[] {
    const byId = new Map(readAlerts(this.dir).map((a) => [a.id, a]));
    for (const a of this.writes.unwritten()) byId.set(a.id, a);
    // An id starts with its raise time, so sorting ids is sorting by age, as the file names are.
    const all = [...byId.keys()].sort().reverse().map((id) => byId.get(id) as AlertRecord);
    return [...all.filter((a) => a.state === "open"), ...all.filter((a) => a.state !== "open")];
  }

  /** Resolves once every delivery started so far has ended (delivered or out of attempts) and its files are written. */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    await this.writes.flush();
  }

  /** Resolves once every alert file saved so far is written: the coordinator awaits it as it stops. Deliveries are not waited for. */
  async close(): Promise<void> {
    await this.writes.flush();
  }

  private save(alert: AlertRecord): void {
    this.writes.save(alert);
  }

  private notify(alert: AlertRecord, event: "raised" | "resolved"): void {
    for (const hook of this.opts.webhooks ?? []) this.deliver(alert, event, hook);
  }

  private deliver(alert: AlertRecord, event: "raised" | "resolved", hook: Webhook): void {
    const delivery: Delivery = { url: hook.url, format: hook.format, event, state: "pending", attempts: 0, lastError: "", at: 0 };
    alert.deliveries.push(delivery);
    this.save(alert);
    const req = webhookRequest(alert, event, hook.format);
    const onAttempt = (n: number, error: string) => {
      Object.assign(delivery, { attempts: n, lastError: error, at: this.now() });
      this.save(alert);
      this.opts.log.warn({ alert: alert.id, webhook: redactUrl(hook.url), attempt: n, error }, "webhook did not take the alert; retrying");
    };
    const p = postWithRetries(hook.url, req, this.opts.retry ?? DEFAULT_RETRY, this.opts.sleep ?? realSleep, onAttempt)
      .then((out) => {
        Object.assign(delivery, { state: out.ok ? "delivered" : "failed", attempts: out.attempts, lastError: out.lastError, at: this.now() });
        this.save(alert);
        if (!out.ok) this.opts.log.error({ alert: alert.id, webhook: redactUrl(hook.url), attempts: out.attempts, error: out.lastError }, "webhook never took the alert; it stays in the alert file");
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
}

/** A webhook URL's path is often its secret (Slack, ntfy topics): only the origin is shown or logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === "/" ? u.origin : `${u.origin}/…`;
  } catch {
    return "(not a URL)";
  }
}
