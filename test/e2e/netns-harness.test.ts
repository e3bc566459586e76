// The netns harness itself, proven against the real kernel and real processes: nodes really are
// distinct hosts to the coordinator, and each fault really does what its name says. Scenario
// tests build on these guarantees, so a harness that silently stopped isolating would fail here.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/local-fleet.js";
import { claimSubnet, readClaims } from "../harness/claims.js";
import { host } from "../harness/host-commands.js";
import { fleetNames, newFleetId, parseHarnessName } from "../harness/names.js";
import { createNetnsFleet, withNetnsFleet, type NetnsFleet, type NodeRef, type NodeProc } from "../harness/netns.js";
import { nftScript } from "../harness/nft-rules.js";
import { inNodeArgv } from "../harness/node-process.js";
import { needsNetnsHost, preflightProblems } from "../harness/preflight.js";
import { harnessObjects, WORK_DIR_PREFIX } from "../harness/teardown.js";
import { needsTool } from "../support/system-tools.js";
import { queryDb } from "./fixtures.js";

const HTTP_PORT = 8080;
const netns = needsNetnsHost();
// Run inside the nodes by the scenarios below: a web server on one node, curl on another.
const nodeTools = [needsTool("curl", "curl"), needsTool("python3", "python3")].every(Boolean);

/** curl from one node to a URL: the HTTP status ("000" when nothing answered) and curl's exit code. */
async function curl(fleet: NetnsFleet, from: NodeRef, url: string, timeoutS = 2, extra: string[] = []): Promise<{ exitCode: number; status: string; seconds: number }> {
  const r = await fleet.run(from, ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-m", String(timeoutS), ...extra, url], { timeoutMs: (timeoutS + 5) * 1000 });
  const [status = "", seconds = "NaN"] = r.stdout.trim().split(" ");
  return { exitCode: r.exitCode, status, seconds: Number(seconds) };
}

/** Does `from` get any HTTP/2 answer from the coordinator's gRPC port (TLS, checked against its CA)? */
async function reachesCoordinator(fleet: NetnsFleet, from: NodeRef, timeoutS = 5): Promise<boolean> {
  return (await curl(fleet, from, `https://${fleet.coordinator.address}/`, timeoutS, ["--http2", "--cacert", fleet.coordinator.caFile!])).status !== "000";
}

/** A python http.server on the node, serving `dir`, once it says it listens. */
async function serveHttp(fleet: NetnsFleet, on: NodeRef, dir: string): Promise<NodeProc> {
  const server = fleet.exec(on, ["python3", "-u", "-m", "http.server", String(HTTP_PORT), "--bind", "0.0.0.0", "--directory", dir]);
  await waitFor(`http.server on ${fleet.node(on).name}`, () => {
    if (server.process.exitCode !== null) throw new Error(`http.server exited: ${server.stderr()}`);
    return server.stdout().includes("Serving HTTP") ? true : undefined;
  });
  return server;
}

describe.skipIf(!netns || !nodeTools)("a netns fleet of real agents", () => {
  let fleet: NetnsFleet;
  let beta80: string;

  beforeAll(async () => {
    fleet = await createNetnsFleet({
      nodes: ["alpha", "beta", "gamma"].map((name) => ({ name, labels: { role: "fleet" } })),
      heartbeat: "1s",
      lostAfter: "3s",
    });
    const www = join(fleet.workDir, "www");
    mkdirSync(www);
    writeFileSync(join(www, "64k.bin"), Buffer.alloc(64 * 1024, 7));
    await serveHttp(fleet, "beta", www);
    beta80 = `http://${fleet.node("beta").address}:${HTTP_PORT}/64k.bin`;
  });
  afterEach(async () => fleet.resetNetwork());
  afterAll(async () => fleet?.cleanup());

  it("gives every agent its own machine-id, boot id and hostname, so the coordinator flags no node", async () => {
    const roster = await fleet.roster();
    expect(roster.map((e) => e.identity.name).sort()).toEqual(["alpha", "beta", "gamma"]);
    const hostMachineId = readFileSync("/etc/machine-id", "utf8").trim();
    const hostBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    for (const node of fleet.nodes) {
      const entry = roster.find((e) => e.identity.name === node.name);
      expect(entry?.identity).toMatchObject({ machineId: node.machineId, bootId: node.bootId, hostname: node.name });
      expect(entry?.flags ?? []).toEqual([]);
    }
    const ids = roster.map((e) => e.identity.machineId);
    expect(new Set(ids).size).toBe(3);
    expect(ids).not.toContain(hostMachineId);
    expect(roster.map((e) => e.identity.bootId)).not.toContain(hostBootId);

    // Anything else run on the node sees the same identity as its agent.
    const seen = await fleet.run("beta", ["sh", "-c", "cat /etc/machine-id; hostname"]);
    expect(seen.stdout.split("\n").slice(0, 2)).toEqual([fleet.node("beta").machineId, "beta"]);
  });

  it("records each check result with the machine-id of the node that ran it, and the run is valid for sign-off", async () => {
    const dir = join(fleet.workDir, "plan");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "ping.suite.yaml"), "suite: ping\nchecks:\n  - id: echo\n    command: { argv: [echo, hello], expect: { stdout: hello } }\n");
    writeFileSync(join(dir, "plan.yaml"), "plan: netns\nstages:\n  - id: fleet\n    kind: fleet\n    suite: ping.suite.yaml\n    nodes: { role: fleet }\n");
    const run = await fleet.coord(["run", "fleet", "--plan", join(dir, "plan.yaml")]);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toContain("not valid for sign-off");

    const origins = queryDb<{ node_name: string; origin_machine_id: string }>(
      fleet.coordinator.stateDir,
      "SELECT t.node_name, r.origin_machine_id FROM check_results r JOIN tasks t ON t.id = r.task_id ORDER BY t.node_name",
    );
    expect(origins).toEqual(fleet.nodes.map((n) => ({ node_name: n.name, origin_machine_id: n.machineId })));
    expect(queryDb<{ flags_json: string }>(fleet.coordinator.stateDir, "SELECT flags_json FROM runs")).toEqual([{ flags_json: "[]" }]);
  });

  it("drops traffic between two partitioned nodes while both still reach the coordinator, until healed", async () => {
    const url = beta80;
    expect((await curl(fleet, "alpha", url)).status).toBe("200");

    await fleet.partition("alpha", "beta");
    const cut = await curl(fleet, "alpha", url, 1);
    expect(cut.exitCode).toBe(28); // curl: operation timed out, not refused
    expect((await curl(fleet, "beta", `http://${fleet.node("alpha").address}:1/`, 1)).exitCode).toBe(28);
    expect((await curl(fleet, "gamma", url)).status).toBe("200");
    expect(await reachesCoordinator(fleet, "alpha")).toBe(true);
    expect(await reachesCoordinator(fleet, "beta")).toBe(true);

    await fleet.heal("alpha", "beta");
    expect((await curl(fleet, "alpha", url)).status).toBe("200");
  });

  it("cuts a node off the coordinator alone when partitioned from it", async () => {
    await fleet.partition("gamma", "coordinator");
    expect(await reachesCoordinator(fleet, "gamma", 1)).toBe(false);
    expect(await reachesCoordinator(fleet, "alpha")).toBe(true);
    await fleet.heal("coordinator", "gamma");
    expect(await reachesCoordinator(fleet, "gamma")).toBe(true);
  });

  it("loses about the asked share of the packets arriving at a lossy node", async () => {
    const receiver = fleet.exec("gamma", [
      "python3", "-u", "-c",
      [
        "import socket",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 9999)); print('ready')",
        "s.settimeout(5); n = 0  # 40 'end' markers follow the data: one gets through (1 - 0.5**40)",
        "try:",
        "    while s.recv(64) != b'end': n += 1",
        "except socket.timeout: pass",
        "print('received', n)",
      ].join("\n"),
    ]);
    await waitFor("the UDP receiver on gamma", () => (receiver.stdout().includes("ready") ? true : undefined));
    await fleet.packetLoss("gamma", 50);
    const send = await fleet.run("alpha", [
      "python3", "-c",
      [
        "import socket, sys, time",
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); to = (sys.argv[1], 9999)",
        "for i in range(400): s.sendto(b'x', to); time.sleep(0.0005)",
        "for i in range(40): s.sendto(b'end', to)",
      ].join("\n"),
      fleet.node("gamma").address,
    ]);
    expect(send.exitCode, send.stderr).toBe(0);
    await waitFor("the UDP receiver's count", () => /received (\d+)/.exec(receiver.stdout())?.[1], 10_000);
    const received = Number(/received (\d+)/.exec(receiver.stdout())?.[1]);
    // Binomial(400, 0.5): mean 200, sd 10; 120..280 is 8 sd either side.
    expect(received).toBeGreaterThan(120);
    expect(received).toBeLessThan(280);
  });

  it("slows a node's link to the asked rate and back", async () => {
    const url = beta80;
    await fleet.slowLink("beta", "256kbit");
    const slow = await curl(fleet, "alpha", url, 10);
    expect(slow.status).toBe("200");
    expect(slow.seconds).toBeGreaterThan(1.5); // 64 KiB at 32 KB/s, less a 2 KB burst: about 2 s
    await fleet.clearSlowLink("beta");
    const fast = await curl(fleet, "alpha", url, 10);
    expect(fast.status).toBe("200");
    expect(fast.seconds).toBeLessThan(slow.seconds / 2);
  });

  it("cuts a node's link so it reaches nothing, leaves the others connected, and restores it", async () => {
    await fleet.cutLink("gamma");
    expect(await reachesCoordinator(fleet, "gamma", 1)).toBe(false);
    expect(await reachesCoordinator(fleet, "alpha")).toBe(true);
    await fleet.restoreLink("gamma");
    await waitFor("gamma reaching the coordinator again", async () => ((await reachesCoordinator(fleet, "gamma")) ? true : undefined), 10_000);
    await fleet.waitOnline(["gamma"]);
  });

  it("shows a killed agent offline at once, and online again with a new boot id after a reboot", async () => {
    const beta = fleet.node("beta");
    const oldBoot = beta.bootId;
    await fleet.killAgent("beta");
    expect(beta.agent?.process.signalCode).toBe("SIGKILL");
    await fleet.waitOffline(["beta"], 5_000);
    expect((await fleet.roster()).filter((e) => e.online).map((e) => e.identity.name).sort()).toEqual(["alpha", "gamma"]);

    fleet.startAgent("beta", { reboot: true });
    await fleet.waitOnline(["beta"]);
    const entry = (await fleet.roster()).find((e) => e.identity.name === "beta");
    expect(entry?.identity.machineId).toBe(beta.machineId);
    expect(entry?.identity.bootId).toBe(beta.bootId);
    expect(beta.bootId).not.toBe(oldBoot);
  });
});

describe("netns fleet setup and teardown", () => {
  it.skipIf(!netns)("removes every namespace, link, process, file and claim it made, also when the test body throws", async () => {
    let seen: { id: string; pids: number[]; workDir: string } | undefined;
    const body = withNetnsFleet({ nodes: [{ name: "lone", agent: false }] }, async (f) => {
      const sleeper = f.exec("lone", ["sleep", "600"]);
      await waitFor("sleep running on lone", () => ((sleeper.process.pid ?? 0) > 0 ? true : undefined));
      seen = { id: f.id, pids: [sleeper.process.pid ?? -1, f.coordinator.process.pid ?? -1], workDir: f.workDir };
      expect(readClaims().map((c) => c.id)).toContain(f.id);
      expect(await harnessObjects(f.id)).toEqual({ netns: [`fg-${f.id}-1`], links: [`fg-${f.id}-1h`, `fg-br-${f.id}`] });
      await f.cleanup(); // idempotent: the second call, from withNetnsFleet, must not fail
      throw new Error("the scenario broke");
    });
    await expect(body).rejects.toThrow("the scenario broke");

    if (!seen) throw new Error("the fleet body never ran");
    expect(await harnessObjects(seen.id)).toEqual({ netns: [], links: [] });
    expect(existsSync(seen.workDir)).toBe(false);
    expect(readClaims().map((c) => c.id)).not.toContain(seen.id);
    for (const pid of seen.pids) {
      expect(pid).toBeGreaterThan(0);
      expect(() => process.kill(pid, 0), `pid ${pid} still alive`).toThrow();
    }
  });

  it.skipIf(!netns)("sweeps the namespaces and links of a fleet whose test process died without cleaning up", async () => {
    const exited = execa("true");
    await exited;
    const names = fleetNames(newFleetId());
    claimSubnet(names.id, undefined, exited.pid);
    await host(["ip", "netns", "add", names.netns(1)]);
    await host(["ip", "link", "add", names.bridge, "type", "bridge"]);
    await host(["ip", "link", "add", names.hostVeth(1), "type", "veth", "peer", "name", "eth0", "netns", names.netns(1)]);
    const workDir = join(tmpdir(), `${WORK_DIR_PREFIX}${names.id}-left`);
    mkdirSync(join(workDir, "coordinator"), { recursive: true });
    expect((await harnessObjects(names.id)).links).toHaveLength(2);

    await withNetnsFleet({ nodes: [{ agent: false }] }, async () => {
      expect(await harnessObjects(names.id)).toEqual({ netns: [], links: [] });
      expect(readClaims().map((c) => c.id)).not.toContain(names.id);
      expect(existsSync(workDir)).toBe(false);
    });
  });

  it("refuses to start without root or without its tools, naming each problem and the packages to install", () => {
    const problems = preflightProblems({ platform: "linux", uid: 1000, missing: ["nft", "tc"] });
    expect(problems).toEqual([
      "must run as root (ip netns, veth, nft and mount --bind need CAP_NET_ADMIN and CAP_SYS_ADMIN); uid is 1000",
      "nft not found; install it with: apt-get install -y nftables",
      "tc not found; install it with: apt-get install -y iproute2",
    ]);
    expect(preflightProblems({ platform: "darwin", uid: 0, missing: [] })).toEqual(["network namespaces need Linux; this is darwin"]);
    expect(preflightProblems({ platform: "linux", uid: 0, missing: [] })).toEqual([]);
  });
});

describe("netns harness names and rules", () => {
  it("keeps every interface name within Linux's 15 characters and recognises its own names only", () => {
    const n = fleetNames("ab12z");
    for (const name of [n.bridge, n.hostVeth(1), n.hostVeth(50)]) expect(name.length).toBeLessThanOrEqual(15);
    expect(parseHarnessName(n.netns(7))).toEqual({ id: "ab12z", kind: "netns" });
    expect(parseHarnessName(n.hostVeth(7))).toEqual({ id: "ab12z", kind: "hostVeth" });
    expect(parseHarnessName(n.bridge)).toEqual({ id: "ab12z", kind: "bridge" });
    expect(parseHarnessName("fg-test-1")).toBeUndefined();
    expect(parseHarnessName("eth0")).toBeUndefined();
    expect(() => n.netns(51)).toThrow("node index must be 1..50");
  });

  it("renders a partition as silent input drops from the peer, and loss as a random share of input", () => {
    const script = nftScript({ blockedFrom: new Set(["10.231.9.12", "10.231.9.1"]), lossPercent: 30 });
    expect(script).toContain("ip saddr { 10.231.9.1, 10.231.9.12 } drop");
    expect(script).toContain("numgen random mod 100 < 30 drop");
    expect(script).toContain("hook input");
    expect(script).not.toContain("hook output");
    expect(script.indexOf(`iifname "lo" accept`)).toBeLessThan(script.indexOf("drop"));
    expect(() => nftScript({ blockedFrom: new Set(), lossPercent: 101 })).toThrow("0..100");
  });

  it("passes node files, hostname and program arguments as separate words, never through the shell's parser", () => {
    const ctx = { netns: "fg-ab12z-1", hostname: "alpha", machineIdFile: "/tmp/it's here/machine-id", bootIdFile: "/tmp/b id" };
    const argv = inNodeArgv(ctx, ["echo", "$(reboot)", "a b"], { PATH: "/fakes:/usr/bin" });
    const script = argv[argv.indexOf("-c") + 1] ?? "";
    expect(script).not.toContain("alpha");
    expect(argv.slice(argv.indexOf("-c") + 2)).toEqual(["fleetgate-node", "/tmp/it's here/machine-id", "/tmp/b id", "alpha", "env", "PATH=/fakes:/usr/bin", "echo", "$(reboot)", "a b"]);
    expect(() => inNodeArgv(ctx, ["echo"], { "BAD KEY": "x" })).toThrow("not a valid variable name");
  });
});
