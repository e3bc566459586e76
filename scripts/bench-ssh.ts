// Fleet vs ssh for `npm run bench -- ssh` (issue 16): the same bats file on 5 network-namespace
// hosts, (a) the way archy runs it today (scp the file to every node, `bats` over ssh, all nodes in
// parallel with `&` and `wait`) and (b) as one `coord run fleet`. Each node runs a real sshd and a
// real agent; the goal is (b) in at most half the wall time of (a).
import { execa } from "execa";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import type { BenchResult } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { COORD_BIN, waitFor } from "./local-fleet.js";

const NODES = 5;
const REPS = 5;
const GOAL_RATIO = 0.5;
const SSHD = "/usr/sbin/sshd";

/** Three tests of 0.2 s each that read the node's own files: short, so the transport's cost shows. */
const BATS = `#!/usr/bin/env bats
@test "machine id is set" {
  sleep 0.2
  [ -s /etc/machine-id ]
}
@test "hostname is set" {
  sleep 0.2
  [ -n "$(hostname)" ]
}
@test "tmp is writable" {
  sleep 0.2
  f=$(mktemp)
  echo ok > "$f"
  grep -q ok "$f"
  rm -f "$f"
}
`;

/**
 * The archy-style loop: per node, scp the file then `bats` over ssh, every node in the background,
 * then `wait` for each and fail if any failed. Hosts and the remote paths come in as arguments.
 */
const SSH_LOOP = `set -u
ssh_opts=("$@")
pids=()
for h in $HOSTS; do
  ( scp -q "\${ssh_opts[@]}" "$BATS_FILE" "root@$h:$REMOTE_DIR/$h.bats" && ssh "\${ssh_opts[@]}" "root@$h" bats --tap "$REMOTE_DIR/$h.bats" >/dev/null ) &
  pids+=($!)
done
failed=0
for p in "\${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
`;

function sshdConfig(dir: string, address: string): string {
  return [
    `ListenAddress ${address}:22`,
    `HostKey ${join(dir, "host_ed25519")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `PidFile none`,
    // The temp dir is the bench's, not a user's home: no ownership checks on it.
    `StrictModes no`,
    `PermitRootLogin prohibit-password`,
    `PasswordAuthentication no`,
    `KbdInteractiveAuthentication no`,
    `UsePAM no`,
    // scp speaks SFTP since OpenSSH 9.
    `Subsystem sftp internal-sftp`,
    `LogLevel ERROR`,
    "",
  ].join("\n");
}

/** Start (a) and (b) alternately so load drifts hit both alike; (a) first on even repetitions. */
const order = (rep: number): ["ssh", "fleet"] | ["fleet", "ssh"] => (rep % 2 === 0 ? ["ssh", "fleet"] : ["fleet", "ssh"]);

export async function benchSsh(cleanup: Cleanup, say: Progress): Promise<BenchResult[]> {
  if (!existsSync(SSHD)) {
    say("ssh: no sshd on this host: apt-get install openssh-server, then run `npm run bench -- ssh` again");
    return [];
  }
  const preflight = await import("../test/harness/host-check.js");
  const problems = preflight.preflightProblems(preflight.observeHost());
  if (problems.length) {
    say(`ssh: needs network namespaces: ${problems.join("; ")}`);
    return [];
  }
  const work = mkdtempSync(join(tmpdir(), "fleetgate-bench-ssh-"));
  const removeWork = cleanup.add(`remove ${work}`, () => rmSync(work, { recursive: true, force: true }));
  try {
    for (const key of ["host_ed25519", "client_ed25519"]) {
      await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `fleetgate-bench-${key}`, "-f", join(work, key)]);
    }
    writeFileSync(join(work, "authorized_keys"), readFileSync(join(work, "client_ed25519.pub")));
    const batsFile = join(work, "checks.bats");
    writeFileSync(batsFile, BATS);
    // The same file for the agents; every namespace host shares this filesystem.
    writeFileSync(join(work, "bench-ssh.suite.yaml"), `suite: bench-ssh\nchecks:\n  - id: bats\n    bats: { file: ${batsFile} }\n`);
    const plan = join(work, "bench-ssh.plan.yaml");
    writeFileSync(plan, "plan: bench-ssh\nstages:\n  - id: fleet\n    kind: fleet\n    suite: bench-ssh.suite.yaml\n    nodes: { role: fleet }\n");
    // sshd refuses to start without its privilege separation directory (the package makes it at boot).
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

    const { createNetnsFleet } = await import("../test/harness/netns.js");
    const { inNodeArgv } = await import("../test/harness/node-process.js");
    say(`ssh: building ${NODES} network-namespace hosts with an agent each (test/harness/netns.ts)`);
    const fleet = await createNetnsFleet({ nodes: Array.from({ length: NODES }, () => ({ labels: { role: "fleet" } })), onlineTimeoutMs: 60_000 });
    const removeFleet = cleanup.add("remove the netns fleet", () => fleet.cleanup());
    const sshds: number[] = [];
    const stopSshds = cleanup.add("stop the sshds", async () => {
      for (const pgid of sshds) {
        try {
          process.kill(-pgid, "SIGKILL");
        } catch {
          // gone already
        }
      }
    });
    try {
      const hostKey = readFileSync(join(work, "host_ed25519.pub"), "utf8").trim();
      const remote = join(work, "remote");
      mkdirSync(remote);
      for (const n of fleet.nodes) {
        const config = join(work, `sshd-${n.name}.conf`);
        writeFileSync(config, sshdConfig(work, n.address));
        const [file, ...args] = inNodeArgv(n, [SSHD, "-D", "-e", "-f", config]) as [string, ...string[]];
        // Its own process group, so the stop above takes ip, unshare and sshd's sessions with it.
        const child = execa(file, args, { reject: false, stdin: "ignore", detached: true });
        if (child.pid === undefined) throw new Error(`sshd did not start on ${n.name}`);
        sshds.push(child.pid);
      }
      writeFileSync(join(work, "known_hosts"), fleet.nodes.map((n) => `${n.address} ${hostKey}\n`).join(""));
      const sshOpts = [
        "-F", "/dev/null", "-i", join(work, "client_ed25519"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", `UserKnownHostsFile=${join(work, "known_hosts")}`, "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
      ];
      const hosts = fleet.nodes.map((n) => n.address);
      await waitFor("every sshd to accept a login", async () => {
        const r = await Promise.all(hosts.map((h) => execa("ssh", [...sshOpts, `root@${h}`, "true"], { reject: false, timeout: 15_000 })));
        return r.every((x) => x.exitCode === 0) ? true : undefined;
      }, 30_000);
      await fleet.waitOnline(undefined, 60_000);

      const viaSsh = async (): Promise<number> => {
        const t0 = performance.now();
        const r = await execa("bash", ["-c", SSH_LOOP, "ssh-loop", ...sshOpts], {
          reject: false,
          timeout: 120_000,
          env: { HOSTS: hosts.join(" "), BATS_FILE: batsFile, REMOTE_DIR: remote },
        });
        const ms = since(t0);
        if (r.exitCode !== 0) throw new Error(`the ssh loop failed (exit ${r.exitCode}):\n${r.stderr}`);
        return ms;
      };
      const viaFleet = async (): Promise<number> => {
        const t0 = performance.now();
        const r = await fleet.coord(["run", "fleet", "--plan", plan]);
        const ms = since(t0);
        if (r.exitCode !== 0) throw new Error(`coord run fleet failed (exit ${r.exitCode}):\n${r.stderr}`);
        return ms;
      };
      say("ssh: one warm-up of each");
      await viaSsh();
      await viaFleet();
      const ssh: number[] = [];
      const fleetMs: number[] = [];
      const ratios: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const t: Record<string, number> = {};
        for (const way of order(rep)) t[way] = way === "ssh" ? await viaSsh() : await viaFleet();
        ssh.push(t.ssh as number);
        fleetMs.push(t.fleet as number);
        ratios.push((t.fleet as number) / (t.ssh as number));
        say(`ssh: ${rep + 1}/${REPS}: ssh loop ${((t.ssh as number) / 1000).toFixed(2)} s, coord run fleet ${((t.fleet as number) / 1000).toFixed(2)} s`);
      }
      // The floors under both: bats itself with no transport, and the coord CLI starting and exiting.
      const timed = async (argv: [string, ...string[]]): Promise<number> => {
        const t0 = performance.now();
        const r = await execa(argv[0], argv.slice(1), { reject: false, timeout: 60_000 });
        const ms = since(t0);
        if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.exitCode}):\n${r.stderr}`);
        return ms;
      };
      const batsAlone: number[] = [];
      const cliStart: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        batsAlone.push(await timed(["bats", "--tap", batsFile]));
        cliStart.push(await timed([process.execPath, COORD_BIN, "--version"]));
      }
      const s = (ms: number[]) => summarize(ms.map((x) => x / 1000));
      const ratio = summarize(fleetMs).median / summarize(ssh).median;
      /** Median in seconds, less `minus` seconds, to 2 decimals. */
      const m = (ms: number[]) => summarize(ms).median / 1000;
      const med = (ms: number[], minus = 0) => (m(ms) - minus).toFixed(2);
      return [
        {
          title: "Fleet vs ssh",
          method:
            `${NODES} network-namespace hosts built by \`test/harness/netns.ts\`, each running an agent and a real \`sshd\` (OpenSSH, ` +
            `ed25519 host and client keys made for the run, no PAM) on its own address. The same bats file (3 tests, each \`sleep 0.2\` and ` +
            `a look at the node's files) runs on all ${NODES} nodes two ways: (a) as archy's ssh loop does it: per node \`scp\` the file, then ` +
            `\`ssh root@node bats --tap file\`, every node in the background with \`&\`, then \`wait\` (pdsh is not used); ` +
            `(b) \`coord run fleet\` on a plan of one fleet stage whose suite is one \`bats\` check on that file, ` +
            `timed from the CLI's start to its exit (connect, run, every node's report stored). One warm-up of each, then ${REPS} ` +
            `repetitions, the two alternating which goes first. The ratio row is (b) ÷ (a) per repetition. The two floors, ${REPS} times each afterwards: \`bats\` on the file with no transport, and the coord CLI starting and exiting.`,
          rows: [
            { measure: "(a) scp + ssh bats, 5 nodes in parallel", unit: "s", better: "lower", summary: s(ssh) },
            { measure: "(b) `coord run fleet`, one bats check on 5 nodes", unit: "s", better: "lower", summary: s(fleetMs) },
            { measure: "(b) ÷ (a)", unit: "×", better: "lower", summary: summarize(ratios) },
            { measure: "floor: `bats --tap` on the file, on this host, no transport", unit: "s", better: "lower", summary: s(batsAlone) },
            { measure: "floor: `coord --version` (the CLI's start and exit)", unit: "s", better: "lower", summary: s(cliStart) },
          ],
          bound:
            `bats itself (median ${med(batsAlone)} s for the file, ${med(batsAlone, 0.6)} s of it beyond its sleeps) is in both; above it (a) pays ` +
            `${med(ssh, m(batsAlone))} s for two ssh handshakes and logins per node (scp, then ssh) and (b) ${med(fleetMs, m(batsAlone))} s, ` +
            `of which the coord CLI's own start is ${med(cliStart)} s, the rest its connection and the run (agents already connected). ` +
            `Goal (b) ≤ ${GOAL_RATIO}× (a): ${ratio <= GOAL_RATIO ? "held" : "NOT held"} (medians: ${ratio.toFixed(2)}×); ` +
            `with bats' own time in both, ${GOAL_RATIO}× leaves (b) ${(GOAL_RATIO * m(ssh) - m(batsAlone)).toFixed(2)} s for everything but bats.`,
        },
      ];
    } finally {
      await stopSshds();
      await removeFleet();
    }
  } finally {
    await removeWork();
  }
}
