// POSTing one alert event to one webhook: bounded attempts with exponential backoff. Runs off the
// caller's path (fetch is asynchronous and the sleep injected), so a slow or dead receiver never
// holds up a run or the event loop; each attempt has its own timeout.
import type { WebhookRequest } from "./webhook-body.js";

export interface RetryPolicy {
  attempts: number;
  /** Wait before the second attempt; doubled before each one after. */
  firstDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, firstDelayMs: 1_000, maxDelayMs: 60_000, timeoutMs: 10_000 };

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The wait before attempt `n` (1-based; none before the first). */
export function backoffMs(policy: RetryPolicy, n: number): number {
  return n <= 1 ? 0 : Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (n - 2));
}

export interface AttemptOutcome {
  ok: boolean;
  attempts: number;
  lastError: string;
}

async function attempt(url: string, req: WebhookRequest, timeoutMs: number): Promise<string | undefined> {
  try {
    const res = await fetch(url, { method: "POST", headers: req.headers, body: req.body, signal: AbortSignal.timeout(timeoutMs) });
    // The body is not needed, but reading it frees the connection.
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ? `${cause.code} ${cause.message ?? ""}`.trim() : (err as Error).message;
  }
}

/** Tries until a 2xx answer or the attempts run out; `onAttempt` hears each failure as it happens. */
export async function postWithRetries(url: string, req: WebhookRequest, policy: RetryPolicy, sleep: Sleep, onAttempt: (n: number, error: string) => void = () => {}): Promise<AttemptOutcome> {
  let lastError = "";
  for (let n = 1; n <= policy.attempts; n++) {
    const wait = backoffMs(policy, n);
    if (wait) await sleep(wait);
    const error = await attempt(url, req, policy.timeoutMs);
    if (error === undefined) return { ok: true, attempts: n, lastError: "" };
    lastError = error;
    onAttempt(n, error);
  }
  return { ok: false, attempts: policy.attempts, lastError };
}
