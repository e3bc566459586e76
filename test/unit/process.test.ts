import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OutputTail, runProcess } from "../../agent/process.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-process-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * True once `pid` no longer runs. A killed process whose parent died is re-parented to PID 1;
 * where PID 1 does not reap (containers), it stays a zombie ("Z" in /proc/PID/stat): dead,
 * but kill(pid, 0) still succeeds on it.
 */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return true;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true; // gone between the two looks
  }
}

async function waitUntilGone(pid: number, withinMs = 2000): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (isGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return isGone(pid);
}

function pidFrom(file: string): number {
  const pid = Number(readFileSync(file, "utf8").trim());
  expect(pid).toBeGreaterThan(1);
  return pid;
}

describe("runProcess", () => {
  it("runs an argv with no shell and reports exit code, stdout and stderr", async () => {
    const out = await runProcess({ argv: ["sh", "-c", "echo out; echo err >&2; exit 3"], timeoutMs: 5000 });
    expect(out).toMatchObject({ exitCode: 3, signal: null, stdout: "out\n", stderr: "err\n", timedOut: false });
    expect(out.spawnError).toBeUndefined();
  });

  it("passes arguments verbatim, so $VARS and globs are not expanded", async () => {
    const out = await runProcess({ argv: ["echo", "$HOME", "*"], timeoutMs: 5000 });
    expect(out.stdout).toBe("$HOME *\n");
  });

  it("runs in the requested directory with the requested environment added", async () => {
    const out = await runProcess({ argv: ["sh", "-c", 'pwd; echo "$FG_NODE"'], cwd: dir, env: { FG_NODE: "node-a" }, timeoutMs: 5000 });
    expect(out.stdout).toBe(`${dir}\nnode-a\n`);
  });

  it("kills the whole process group on timeout, including a backgrounded grandchild", async () => {
    const pidFile = join(dir, "pid");
    const out = await runProcess({ argv: ["sh", "-c", `sleep 300 & echo $! > ${pidFile}; wait`], timeoutMs: 500 });
    expect(out.timedOut).toBe(true);
    expect(out.exitCode).toBeNull();
    expect(out.signal).toBe("SIGTERM");
    expect(out.durationMs).toBeGreaterThanOrEqual(450);
    expect(out.durationMs).toBeLessThan(5000);
    expect(await waitUntilGone(pidFrom(pidFile))).toBe(true);
  }, 10_000);

  it("sends SIGKILL after the grace period to a program that ignores SIGTERM", async () => {
    const pidFile = join(dir, "pid");
    const out = await runProcess({
      argv: ["sh", "-c", `trap '' TERM; sleep 300 & echo $! > ${pidFile}; wait`],
      timeoutMs: 300,
      killGraceMs: 300,
    });
    expect(out.timedOut).toBe(true);
    expect(out.signal).toBe("SIGKILL");
    expect(out.durationMs).toBeGreaterThanOrEqual(550);
    expect(await waitUntilGone(pidFrom(pidFile))).toBe(true);
  }, 10_000);

  it("returns when the program exits even if a background child holds its output open, and kills that child", async () => {
    const pidFile = join(dir, "pid");
    const out = await runProcess({ argv: ["sh", "-c", `sleep 300 & echo $! > ${pidFile}; echo started`], timeoutMs: 5000 });
    expect(out).toMatchObject({ exitCode: 0, stdout: "started\n", timedOut: false });
    expect(out.durationMs).toBeLessThan(4000);
    expect(await waitUntilGone(pidFrom(pidFile))).toBe(true);
  }, 10_000);

  it("reports a program that does not exist as a spawn error, not an exit code", async () => {
    const out = await runProcess({ argv: ["fleetgate-no-such-program"], timeoutMs: 5000 });
    expect(out.spawnError).toBe("spawn fleetgate-no-such-program ENOENT");
    expect(out.exitCode).toBeNull();
    expect(out.timedOut).toBe(false);
  });

  it("reports a file that is not executable as a spawn error", async () => {
    const script = join(dir, "not-executable.sh");
    writeFileSync(script, "#!/bin/sh\necho ran\n", { mode: 0o644 });
    const out = await runProcess({ argv: [script], timeoutMs: 5000 });
    expect(out.spawnError).toBe(`spawn ${script} EACCES`);
    expect(out.stdout).toBe("");
  });

  it("keeps only the end of a long output, within the byte limit", async () => {
    const out = await runProcess({ argv: ["seq", "1", "100000"], timeoutMs: 5000, maxOutputBytes: 100 });
    expect(Buffer.byteLength(out.stdout)).toBe(100);
    expect(out.stdout.endsWith("99999\n100000\n")).toBe(true);
    expect(out.stdout).not.toContain("\n1\n");
  });

  it("bounds stderr separately from stdout", async () => {
    const out = await runProcess({
      argv: ["sh", "-c", "seq 1 5000 >&2; echo done"],
      timeoutMs: 5000,
      maxOutputBytes: 64,
    });
    expect(out.stdout).toBe("done\n");
    expect(Buffer.byteLength(out.stderr)).toBe(64);
    expect(out.stderr.endsWith("4999\n5000\n")).toBe(true);
  });
});

describe("OutputTail", () => {
  it("keeps everything while under the limit", () => {
    const tail = new OutputTail(10);
    tail.push(Buffer.from("abc"));
    tail.push(Buffer.from("def"));
    expect(tail.text()).toBe("abcdef");
    expect(tail.truncated).toBe(false);
  });

  it("drops whole and partial chunks from the front once over the limit", () => {
    const tail = new OutputTail(5);
    tail.push(Buffer.from("abc"));
    tail.push(Buffer.from("defg"));
    expect(tail.text()).toBe("cdefg");
    tail.push(Buffer.from("hijklmn"));
    expect(tail.text()).toBe("jklmn");
    expect(tail.truncated).toBe(true);
  });
});
