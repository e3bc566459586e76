// PgSyncDb waits for its worker's answer blocked in Atomics.wait. A notify left over from the
// previous request can wake that wait before this request's answer exists; it must wait on, not
// report a PostgreSQL that did not answer (which restarted the worker mid-transaction: a .ci/run
// failed on it once, "PostgreSQL did not answer within 37000 ms (ok)" after 0.5 s).
import { MessageChannel, Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { waitForAnswer } from "../../coordinator/store/pg/answer-wait.js";

/** Wakes the main thread's wait once with nothing posted, then answers 50 ms later. */
const LATE_ANSWERER = `
const { workerData } = require("node:worker_threads");
const { signal, port } = workerData;
// The stale wake-up: notify until it reaches the main thread blocked in its wait.
while (Atomics.notify(signal, 0, 1) === 0);
setTimeout(() => {
  port.postMessage({ ok: true, rows: [42] });
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}, 50);
`;

describe("waiting for the PostgreSQL worker's answer", () => {
  it("waits on through a wake-up that came before the answer, and returns the answer", async () => {
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(LATE_ANSWERER, { eval: true, workerData: { signal, port: port2 }, transferList: [port2] });
    try {
      Atomics.store(signal, 0, 0);
      const { answer, waited } = waitForAnswer(signal, port1, 10_000);
      expect(answer).toEqual({ ok: true, rows: [42] });
      expect(waited).not.toBe("timed-out");
    } finally {
      port1.close();
      await worker.terminate();
    }
  });

  it("gives up at its deadline when no answer comes", () => {
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    try {
      expect(waitForAnswer(signal, port1, 50)).toEqual({ answer: undefined, waited: "timed-out" });
    } finally {
      port1.close();
      port2.close();
    }
  });
});
