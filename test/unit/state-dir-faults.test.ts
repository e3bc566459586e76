// The agent's state on a disk that refuses writes, for real: a read-only mount and a tmpfs that
// fills up under the spool, a read-only state dir under the task journal. The agent must never
// crash for it (issue 12: an unhandled EROFS at the first result). Needs root (mount), like the
// other tmpfs tests.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Spool, SPOOL_DIR } from "../../agent/daemon/spool.js";
import { TaskJournal } from "../../agent/daemon/task-journal.js";
import { Status } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { needs } from "../support/system-tools.js";

const root = process.getuid?.() === 0;
const ORIGIN = { machineId: "0123456789abcdef0123456789abcdef", bootId: "b", hostname: "node-a" };
const check = (checkId: string, stdoutTail: string) =>
  ({ origin: ORIGIN, body: { case: "check", value: { taskId: "t1", result: { checkId, kind: "command", status: Status.PASSED, summary: "exit 0", stdoutTail } } } }) as const;

describe.skipIf(!needs(root ? undefined : "mounting a tmpfs needs root; run the tests as root"))("the spool on a disk that refuses writes", () => {
  let stateDir = "";
  let mounted = "";
  const spools: Spool[] = [];

  function mountTmpfs(options: string, at = SPOOL_DIR): string {
    stateDir = mkdtempSync(join(tmpdir(), "fleetgate-spool-fault-"));
    mounted = join(stateDir, at);
    mkdirSync(mounted, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", mounted]);
    return mounted;
  }

  function openSpool(): Spool {
    const s = Spool.open(stateDir, { log: pino({ level: "silent" }) });
    spools.push(s);
    return s;
  }

  afterEach(() => {
    for (const s of spools.splice(0)) s.close();
    if (mounted) execFileSync("umount", ["-l", mounted]);
    mounted = "";
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("opens a read-only spool degraded, naming EROFS and the file, and keeps events in memory instead of crashing", () => {
    mountTmpfs("ro,size=1m");
    const s = openSpool();
    const refusal = s.refusal();
    expect(refusal).toMatch(new RegExp(`^spool unwritable: EROFS: read-only file system, open '${mounted}/seg-000000000001\\.log'; the node cannot record results$`));
    expect(s.health().degraded).toBe(refusal);
    const e = s.append(check("a", "out"));
    expect(s.read(e.seq)?.body.case).toBe("check");
    expect(s.pendingCount()).toBe(1);
  });

  it("goes degraded when the disk fills mid-write, keeps every event readable, and writes the held ones out once there is room", () => {
    mountTmpfs("size=256k");
    const s = openSpool();
    const filler = join(mounted, "filler");
    const { bavail, bsize } = statfsSync(mounted);
    try {
      writeFileSync(filler, Buffer.alloc(Number(bavail) * Number(bsize) - 40 * 1024));
    } catch {
      // Full already: the point.
    }
    const out = "y".repeat(16 * 1024);
    const seqs = Array.from({ length: 6 }, (_, i) => s.append(check(`c${i}`, out)).seq);
    s.sync();
    expect(s.refusal()).toMatch(new RegExp(`^spool unwritable: ENOSPC: no space left on device, write \\(in ${mounted}\\); the node cannot record results$`));
    for (const seq of seqs) expect(s.read(seq)?.body.case, `seq ${seq}`).toBe("check");

    rmSync(filler);
    // The next task asks again: the disk has room, the held events go to it.
    expect(s.refusal()).toBeUndefined();
    expect(s.health().degraded).toBe("");
    s.close();
    spools.length = 0;
    const again = openSpool();
    expect([...again.pendingAfter(0n)].map((p) => p.seq)).toEqual(seqs);
    expect(again.health()).toEqual({ degraded: "", warnings: [] });
  });

  it("opens the task journal on a read-only state dir as unwritable, naming EROFS, and refuses to record a task start", () => {
    const dir = mountTmpfs("ro,size=1m", "state");
    const journal = TaskJournal.open(dir);
    expect(journal.unwritable).toMatch(new RegExp(`^task journal unwritable: EROFS: read-only file system, open '${dir}/tasks\\.journal\\.tmp'; the node cannot record which tasks it started, so it starts none$`));
    expect(() => journal.started("r/s/n/1")).toThrow(journal.unwritable as string);
  });
});
