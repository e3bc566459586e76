// The main thread's side of PgSyncDb's handshake with its worker: wait, blocked, for the answer
// to the request just posted. The worker posts its answer, then sets the signal to 1, then
// notifies. A wake-up can belong to the previous request: when the main thread found that answer
// before the worker's notify ran (the signal already said 1, so its wait returned at once), the
// late notify wakes the next request's wait before its answer exists. Taken as "no answer", that
// restarted the worker and failed the statement mid-transaction; so an empty wake-up waits on.
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";

/** The message the worker answered with, or undefined when none came within `timeoutMs`; `waited` is Atomics.wait's last word. */
export function waitForAnswer(signal: Int32Array, port: MessagePort, timeoutMs: number): { answer: unknown; waited: string } {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const waited = Atomics.wait(signal, 0, 0, Math.max(0, deadline - Date.now()));
    const answer = receiveMessageOnPort(port)?.message;
    // The signal stays 0 after a stale wake-up until this request's answer is posted: waiting on
    // 0 again returns at once ("not-equal") if it came meanwhile.
    if (answer !== undefined || waited === "timed-out" || Date.now() >= deadline) return { answer, waited };
  }
}
