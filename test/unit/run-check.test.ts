import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toBinary } from "@bufbuild/protobuf";
import { runCheck } from "../../agent/engine/run-check.js";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../../agent/process.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { MAX_CHECK_RESULT_BYTES, RESULT_BUDGET } from "../../shared/model/limits.js";
import type { CommandSpec } from "../../shared/model/kinds/command.js";
import { Status } from "../../shared/model/status.js";
import type { ResolvedCheck } from "../../shared/model/suite.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-run-check-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function commandCheck(id: string, spec: CommandSpec, over: Partial<ResolvedCheck> = {}): ResolvedCheck {
  return { id, kind: "command", spec, precondition: false, timeoutMs: 5000, destructive: false, tags: [], ...over };
}

/** A clock that only moves when the engine sleeps, so a 2-minute retry window takes no time. */
function fakeClock(onSleep: (elapsedMs: number) => void = () => {}) {
  let t = 1_700_000_000_000;
  const start = t;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
      onSleep(t - start);
    },
  };
}

describe("runCheck", () => {
  it("passes on the first attempt without sleeping", async () => {
    const clock = fakeClock();
    const r = await runCheck(commandCheck("up", { argv: ["sh", "-c", "echo ready"] }, { retry: { forMs: 60_000, everyMs: 1000 } }), {
      maxOutputBytes: 4096,
      ...clock,
    });
    expect(r.status).toBe(Status.PASSED);
    expect(r.summary).toBe("exit 0");
    expect(r.attempts).toBe(1);
    expect(clock.sleeps).toEqual([]);
    expect(r.stdoutTail).toBe("ready\n");
  });

  it("keeps trying until a later attempt passes: here, once the file it waits for exists", async () => {
    const ready = join(dir, "ready");
    const clock = fakeClock((elapsed) => {
      if (elapsed >= 2000) writeFileSync(ready, "");
    });
    const check = commandCheck("lnd-ready", { argv: ["test", "-e", ready] }, { retry: { forMs: 30_000, everyMs: 1000 } });
    const r = await runCheck(check, { maxOutputBytes: 4096, ...clock });
    expect(r.status).toBe(Status.PASSED);
    expect(r.attempts).toBe(3);
    expect(r.summary).toBe("exit 0 (after 3 attempts)");
    expect(clock.sleeps).toEqual([1000, 1000]);
    expect(r.attemptLog.map((a) => a.passed)).toEqual([false, false, true]);
    expect(r.durationMs).toBe(2000n);
    expect(r.hint).toBe("");
  });

  it("fails with the last observation when the window closes without a pass", async () => {
    const counter = join(dir, "count");
    const clock = fakeClock();
    // Each attempt prints its own number, so the summary shows which observation was kept.
    const script = `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "attempt $n: still syncing" >&2; exit 1`;
    const check = commandCheck("synced", { argv: ["sh", "-c", script] }, { retry: { forMs: 5000, everyMs: 1000 }, hint: "wait for IBD" });
    const r = await runCheck(check, { maxOutputBytes: 4096, ...clock });
    expect(r.status).toBe(Status.FAILED);
    expect(r.attempts).toBe(6);
    expect(r.summary).toBe("expected exit 0, saw 1: attempt 6: still syncing (after 6 attempts)");
    expect(r.stderrTail).toBe("attempt 6: still syncing\n");
    expect(r.hint).toBe("wait for IBD");
    expect(r.durationMs).toBe(5000n);
    expect(clock.sleeps.every((ms) => ms === 1000)).toBe(true);
  });

  it("tries once and fails when the check has no retry", async () => {
    const clock = fakeClock();
    const r = await runCheck(commandCheck("down", { argv: ["false"] }, { hint: "start it" }), { maxOutputBytes: 4096, ...clock });
    expect(r.status).toBe(Status.FAILED);
    expect(r.attempts).toBe(1);
    expect(r.summary).toBe("expected exit 0, saw 1");
    expect(r.hint).toBe("start it");
    expect(clock.sleeps).toEqual([]);
  });

  it("waits with the real clock when none is injected", async () => {
    const ready = join(dir, "ready");
    setTimeout(() => writeFileSync(ready, ""), 150);
    const r = await runCheck(commandCheck("soon", { argv: ["test", "-e", ready] }, { retry: { forMs: 5000, everyMs: 50 } }), {
      maxOutputBytes: 4096,
    });
    expect(r.status).toBe(Status.PASSED);
    expect(r.attempts).toBeGreaterThan(1);
    expect(existsSync(ready)).toBe(true);
  });

  it("reports a check the agent could not evaluate as an agent error, not a node failure", async () => {
    const r = await runCheck(commandCheck("bad-regex", { argv: ["echo", "x"], expect: { stdout: { matches: "(" } } }), { maxOutputBytes: 4096 });
    expect(r.status).toBe(Status.ERROR);
    expect(r.summary).toMatch(/^agent error: Invalid regular expression/);
  });

  it("marks a precondition's result as a precondition", async () => {
    const r = await runCheck(commandCheck("pre", { argv: ["true"] }, { precondition: true }), { maxOutputBytes: 4096 });
    expect(r.precondition).toBe(true);
    expect(r.checkId).toBe("pre");
    expect(r.kind).toBe("command");
  });

  it("bounds the result of a check printing megabytes that are not UTF-8: tails and summary within budget, the end kept", async () => {
    const noisy = "head -c 3000000 /dev/zero | tr '\\0' '\\377'; head -c 3000000 /dev/zero | tr '\\0' '\\377' >&2; exit 1";
    const r = await runCheck(commandCheck("noisy", { argv: ["sh", "-c", noisy] }), { maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES });
    expect(r.status).toBe(Status.FAILED);
    expect(toBinary(CheckResultSchema, r).length).toBeLessThanOrEqual(MAX_CHECK_RESULT_BYTES);
    for (const tail of [r.stdoutTail, r.stderrTail]) {
      expect(Buffer.byteLength(tail)).toBeLessThanOrEqual(RESULT_BUDGET.outputTailBytes);
      expect(tail).toMatch(/^\[… \d+ bytes cut …\]\n\uFFFD+$/);
    }
    expect(Buffer.byteLength(r.summary)).toBeLessThanOrEqual(RESULT_BUDGET.summaryBytes);
    expect(r.summary).toMatch(/^expected exit 0, saw 1: /);
  });

  it("fails a capture whose value is over the captured-value limit instead of cutting it", async () => {
    const big = RESULT_BUDGET.capturedValueBytes + 1;
    const check = commandCheck("cap", { argv: ["sh", "-c", `printf 'v='; head -c ${big} /dev/zero | tr '\\0' x`] }, { capture: { v: { regex: "v=(x+)" } } });
    const r = await runCheck(check, { maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES });
    expect(r.status).toBe(Status.FAILED);
    expect(r.summary).toBe(`capture v: value is ${big} bytes; a captured value may be at most ${RESULT_BUDGET.capturedValueBytes} (capture a narrower part)`);
    expect(r.captured).toEqual({});
  });
});
