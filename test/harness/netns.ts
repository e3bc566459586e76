// A fleet of real nodes on one machine: each node is a Linux network namespace with its own
// address, /etc/machine-id, boot id and hostname, running a real `fleetgate-agent run` that dials a
// real `coord serve` over a bridge. Tests then break the network between them on purpose.
//
// Layout (OCTET is claimed per fleet, see names.ts; ID is 5 random characters):
//
//   root namespace: coord serve on 10.231.OCTET.1:PORT, bridge fg-br-ID (10.231.OCTET.1/24)
//     fg-ID-1h ══ veth ══ eth0 10.231.OCTET.11 in namespace fg-ID-1 (agent "node-1" or its name)
//     fg-ID-2h ══ veth ══ eth0 10.231.OCTET.12 in namespace fg-ID-2
//     …
//
// Usage (vitest; runs as root, fails loudly otherwise):
//
//   let fleet: NetnsFleet;
//   beforeAll(async () => { fleet = await createNetnsFleet({ nodes: [
//     { name: "alpha", labels: { role: "primary" } },
//     { name: "beta", labels: { role: "fleet" }, env: fakes.env },   // fake tools first on PATH
//   ] }); });
//   afterEach(() => fleet.resetNetwork());   // heal, restore links, clear loss and shaping
//   afterAll(() => fleet.cleanup());         // idempotent; best effort again at process exit
//
//   await fleet.coord(["run", "fleet", "--plan", plan]);        // the coord CLI against this fleet
//   const web = fleet.exec("beta", ["python3", "-m", "http.server", "8080"]);   // a server on beta
//   await fleet.run("alpha", ["curl", "-m", "2", `http://${fleet.node("beta").address}:8080/`]);
//   await fleet.partition("alpha", "beta");         // alpha and beta no longer hear each other
//   await fleet.partition("alpha", "coordinator");  // alpha loses the coordinator, keeps its peers
//   await fleet.cutLink("beta");  await fleet.restoreLink("beta");    // unplug / replug the cable
//   await fleet.slowLink("beta", "256kbit");  await fleet.packetLoss("beta", 30);
//   await fleet.sendLoss("beta", 30);       // with packetLoss: 30 % lost both ways
//   await fleet.restartCoordinator();       // SIGKILL, then the same state dir, address and flags
//
// Several coordinators sharing one PostgreSQL store (issue 19): `coordinators: [[...flags of the
// first], [...of the second]]` starts them all in one tick, each on its own port of the bridge, and
// gives each agent every address (in `coordinatorOrder` when its spec says). `fleet.coordinator` is
// the one that answered `coord token create` (the active one); the tests move it after a failover.
//
//   await fleet.stopCoordinator(0, "SIGKILL");  await fleet.relaunchCoordinator(0);
//   await fleet.killAgent("beta");  fleet.startAgent("beta", { reboot: true });   // new boot id
//   await fleet.waitOffline(["beta"]);  await fleet.waitOnline(["beta"]);
//
// Or `withNetnsFleet(opts, async (fleet) => …)`, which cleans up even when the body throws.
//
// Faults are applied inside the node's namespace (nftables table "fleetgate-harness", tbf qdiscs)
// or on its host-side veth, never to the root namespace's firewall, so nothing outside the
// fleet is touched. Every wait is bounded and names what it waited for.
//
// Timing to plan scenarios around (measured on the 2-core CI machine):
// - killAgent: the kernel closes the agent's sockets, so the coordinator shows it offline within
//   about a second; a restarted agent is online again after 2–5 s (node start + facts).
// - cutLink / partition(node, "coordinator"): nothing closes the stream, so the coordinator only
//   notices when gRPC keepalive gives up (20 s + 10 s in shared/grpc/adapter.ts), not after
//   --heartbeat; a scenario that needs "lost" soon after a cut must wait that long today.
// - A fleet of 3 agents takes 5–15 s to come up depending on load: share one per test file
//   (beforeAll) and undo faults in afterEach with resetNetwork().
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { AGENT_BIN, coord, startCoordinator, waitFor, type CliResult, type Coordinator } from "../../scripts/local-fleet.js";
import { ADMIN_TOKEN_FILE, ensureAdminToken } from "../../coordinator/server/admin-token.js";
import { initCa } from "../../coordinator/tls/ca-files.js";
import { CA_CERT_FILE, CA_KEY_FILE, tlsDir } from "../../coordinator/tls/paths.js";
import { claimSubnet, releaseClaim, type Claim } from "./claims.js";
import { host } from "./host-commands.js";
import { bridgeAddress, fleetNames, MAX_NODES, newFleetId, NODE_LINK, nodeAddress, subnetOf, type FleetNames } from "./names.js";
import { inNodeArgv, spawnInNode, type NodeContext, type NodeProc } from "./node-process.js";
import { NetworkFaults, type FaultSide } from "./network-faults.js";
import { NFT_TABLE } from "./nft-rules.js";
import { assertNetnsPrerequisites } from "./host-check.js";
import { removeNetworkObjects, removeNetworkObjectsSync, sweepStaleFleets, WORK_DIR_PREFIX } from "./teardown.js";

export type { NodeProc } from "./node-process.js";

const PROCESS_START_MS = Date.now() - process.uptime() * 1000;
const DEFAULT_ONLINE_TIMEOUT_MS = 20_000;
const DEFAULT_RUN_TIMEOUT_MS = 10_000;
/** sendLoss's own table (netdev family, eth0's egress hook), apart from the input table nft-rules.ts renders. */
const SEND_LOSS_TABLE = `${NFT_TABLE}-send`;

export interface NodeSpec {
  /** Roster name and hostname; default node-1, node-2, … */
  name?: string;
  labels?: Record<string, string>;
  /** Added to the environment of the agent and of everything exec'd on the node (e.g. fake tools' PATH). */
  env?: Record<string, string>;
  /** Start an agent on this node (default true). */
  agent?: boolean;
  /** More `fleetgate-agent run` flags, e.g. --allow-faults for plans with fault steps. */
  agentArgs?: string[];
  /** With several coordinators: the order of their addresses in the agent's --coordinator list, as indexes into `coordinators` (default all, in order). */
  coordinatorOrder?: number[];
}

export interface NetnsFleetOptions {
  /** How many plain nodes, or one spec per node. */
  nodes: number | NodeSpec[];
  /** `coord serve --heartbeat` (default 1s: faults show up fast). */
  heartbeat?: string;
  /** `coord serve --lost-after` (default 5s). */
  lostAfter?: string;
  /** More `coord serve` flags. */
  coordinatorArgs?: string[];
  /** Run the coordinator with its own default heartbeat and lost-after (ignores the two above). */
  defaultTiming?: boolean;
  /**
   * Several coordinators sharing one store instead of one (issue 19): each one's own `coord serve`
   * flags (--store, --id …), after coordinatorArgs. Each listens on the bridge on a port chosen
   * before it starts (so its listen address is the one it advertises); all share one CA and admin
   * token, made before any of them starts, and all are started in the same tick.
   */
  coordinators?: string[][];
  /** How long to wait for every agent to be online (default 20 s). */
  onlineTimeoutMs?: number;
}

export interface NetnsNode extends NodeContext {
  /** 1-based position; names the namespace and veth. */
  index: number;
  name: string;
  address: string;
  machineId: string;
  bootId: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  agentArgs: string[];
  coordinatorOrder: number[] | undefined;
  /** The agent's --state-dir (spool, node credential). */
  stateDir: string;
  /** Root-namespace end of the node's veth: what cutLink downs. */
  hostVeth: string;
  /** The running agent, if any; replaced by startAgent. */
  agent: NodeProc | undefined;
}

/** A node, a node's name, or (in partition/heal only) "coordinator". */
export type NodeRef = NetnsNode | string;

export interface RunResult extends CliResult {
  timedOut: boolean;
}

/** `coord nodes --json`, as much of it as tests read. Proto3 JSON omits false and empty fields. */
export interface RosterEntry {
  identity: { name: string; machineId: string; bootId: string; hostname: string; labels?: Record<string, string> };
  online?: boolean;
  lastSeenMs: string;
  flags?: string[];
}

/** A TCP port free on `address` now and not in `taken` (coordinators must know their port before they start, to advertise it). */
async function freePortOn(address: string, taken: number[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once("error", reject);
      srv.listen(0, address, () => {
        const a = srv.address();
        srv.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
      });
    });
    if (!taken.includes(port)) return port;
  }
  throw new Error(`netns harness: no free port on ${address}`);
}

export class NetnsFleet {
  readonly id: string;
  readonly subnet: string;
  readonly bridge: string;
  /** Where the coordinator listens (root namespace); "coordinator" in partition() means this. */
  readonly bridgeAddress: string;
  readonly nodes: NetnsNode[] = [];
  coordinator!: Coordinator;
  /** With `coordinators`: every one of them, in the order given (a stopped one stays until relaunched). */
  readonly coordinators: Coordinator[] = [];
  /** Enrollment token every agent of this fleet uses. */
  token = "";

  private readonly names: FleetNames;
  private readonly procs: NodeProc[] = [];
  private readonly faults = new NetworkFaults();
  /** Nodes with a sendLoss() in place, for resetNetwork(). */
  private readonly sendLossy = new Set<string>();
  /** `coord serve` flags of this fleet, for restartCoordinator(). */
  private coordinatorArgs: string[] = [];
  /** With `coordinators`: each one's flags, state dir and address, for relaunchCoordinator(). */
  private coordinatorSpecs: { args: string[]; stateDir: string; address: string }[] = [];
  private cleaning: Promise<void> | undefined;
  private readonly onExit = () => this.cleanupSync();

  /** Use createNetnsFleet(); the constructor only records names, it creates nothing. */
  constructor(
    private readonly claim: Claim,
    readonly workDir: string,
    specs: NodeSpec[],
  ) {
    this.id = claim.id;
    this.names = fleetNames(claim.id);
    this.subnet = subnetOf(claim.octet);
    this.bridge = this.names.bridge;
    this.bridgeAddress = bridgeAddress(claim.octet);
    specs.forEach((spec, i) => this.nodes.push(this.describeNode(spec, i + 1)));
    process.once("exit", this.onExit);
  }

  private describeNode(spec: NodeSpec, index: number): NetnsNode {
    const name = spec.name ?? `node-${index}`;
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) throw new Error(`node name "${name}" must be a valid hostname (lowercase letters, digits, dashes)`);
    if (this.nodes.some((n) => n.name === name)) throw new Error(`two nodes are named "${name}"`);
    const dir = join(this.workDir, name);
    mkdirSync(join(dir, "state"), { recursive: true });
    const machineId = randomBytes(16).toString("hex");
    const bootId = randomUUID();
    writeFileSync(join(dir, "machine-id"), `${machineId}\n`);
    writeFileSync(join(dir, "boot_id"), `${bootId}\n`);
    return {
      index,
      name,
      hostname: name,
      netns: this.names.netns(index),
      hostVeth: this.names.hostVeth(index),
      address: nodeAddress(this.claim.octet, index),
      machineIdFile: join(dir, "machine-id"),
      bootIdFile: join(dir, "boot_id"),
      machineId,
      bootId,
      labels: spec.labels ?? {},
      env: spec.env ?? {},
      agentArgs: spec.agentArgs ?? [],
      coordinatorOrder: spec.coordinatorOrder,
      stateDir: join(dir, "state"),
      agent: undefined,
    };
  }

  /** The node called `name` (or the node itself). */
  node(ref: NodeRef): NetnsNode {
    if (typeof ref !== "string") return ref;
    const n = this.nodes.find((x) => x.name === ref);
    if (!n) throw new Error(`no node "${ref}" in fleet ${this.id}; nodes: ${this.nodes.map((x) => x.name).join(", ")}`);
    return n;
  }

  // ── building ────────────────────────────────────────────────────────────────────────────────

  async buildNetwork(): Promise<void> {
    const prefix = this.subnet.split("/")[1];
    await host(["ip", "link", "add", this.bridge, "type", "bridge"]);
    // Node-to-node frames must not go through the root namespace's iptables (br_netfilter), where
    // a host firewall (e.g. Docker's FORWARD policy) would decide our tests' outcome.
    await host(["ip", "link", "set", this.bridge, "type", "bridge", "nf_call_iptables", "0", "nf_call_ip6tables", "0"], { allowFailure: true });
    await host(["ip", "addr", "add", `${this.bridgeAddress}/${prefix}`, "dev", this.bridge]);
    await host(["ip", "link", "set", this.bridge, "up"]);
    for (const n of this.nodes) {
      await host(["ip", "netns", "add", n.netns]);
      await host(["ip", "link", "add", n.hostVeth, "type", "veth", "peer", "name", NODE_LINK, "netns", n.netns]);
      await host(["ip", "link", "set", n.hostVeth, "master", this.bridge]);
      await host(["ip", "link", "set", n.hostVeth, "up"]);
      await host(["ip", "-n", n.netns, "addr", "add", `${n.address}/${prefix}`, "dev", NODE_LINK]);
      await host(["ip", "-n", n.netns, "link", "set", NODE_LINK, "up"]);
      await host(["ip", "-n", n.netns, "link", "set", "lo", "up"]);
    }
  }

  async startCoordinator(opts: NetnsFleetOptions): Promise<void> {
    const timing = opts.defaultTiming ? [] : ["--heartbeat", opts.heartbeat ?? "1s", "--lost-after", opts.lostAfter ?? "5s"];
    const args = [...timing, ...(opts.coordinatorArgs ?? [])];
    this.coordinatorArgs = args;
    if (opts.coordinators) return this.startCoordinators(args, opts.coordinators);
    this.coordinator = await startCoordinator(join(this.workDir, "coordinator"), args, `${this.bridgeAddress}:0`);
    const r = await this.coord(["token", "create", "--description", `netns fleet ${this.id}`]);
    if (r.exitCode !== 0) throw new Error(`netns harness: coord token create failed (exit ${r.exitCode}): ${r.stderr}`);
    this.token = r.stdout.trim();
  }

  /** Coordinators sharing a store: one CA and admin token for all, every one started in the same tick. */
  private async startCoordinators(shared: string[], each: string[][]): Promise<void> {
    if (each.length < 1) throw new Error("netns harness: coordinators needs at least one entry");
    const dirs = each.map((_, i) => join(this.workDir, `coordinator-${i + 1}`));
    // What the first one would make at its first start, made before any starts and copied to the others.
    initCa(dirs[0]!);
    ensureAdminToken(dirs[0]!);
    for (const dir of dirs.slice(1)) {
      mkdirSync(tlsDir(dir), { recursive: true, mode: 0o700 });
      for (const f of [CA_CERT_FILE, CA_KEY_FILE]) copyFileSync(join(tlsDir(dirs[0]!), f), join(tlsDir(dir), f));
      copyFileSync(join(dirs[0]!, ADMIN_TOKEN_FILE), join(dir, ADMIN_TOKEN_FILE));
    }
    const ports: number[] = [];
    for (const _ of each) ports.push(await freePortOn(this.bridgeAddress, ports));
    this.coordinatorSpecs = each.map((args, i) => ({ args: [...shared, ...args], stateDir: dirs[i]!, address: `${this.bridgeAddress}:${ports[i]}` }));
    // No await between the spawns: both processes start in the same tick.
    const started = await Promise.allSettled(this.coordinatorSpecs.map((c) => startCoordinator(c.stateDir, c.args, c.address)));
    started.forEach((s) => s.status === "fulfilled" && this.coordinators.push(s.value));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    this.coordinator = this.coordinators[0]!;
    // Only the active one creates tokens; the others refuse until one has taken the lead.
    const why: string[] = [];
    this.token = await waitFor(
      "a coordinator to create the enrollment token (the active one)",
      async () => {
        for (const c of this.coordinators) {
          const r = await coord(c, ["token", "create", "--description", `netns fleet ${this.id}`]);
          if (r.exitCode === 0) {
            this.coordinator = c;
            return r.stdout.trim();
          }
          why.splice(0, why.length, `${c.address}: ${r.stderr.trim()}`);
        }
        return undefined;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last refusal: ${why.join("")}`);
    });
  }

  /** With `coordinators`: stops coordinator `index` (SIGKILL by default: no goodbye, its sockets closed by the kernel). */
  async stopCoordinator(index: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const c = this.coordinators[index];
    if (!c) throw new Error(`netns harness: no coordinator ${index}; there are ${this.coordinators.length}`);
    await c.stop(signal);
  }

  /** With `coordinators`: starts coordinator `index` again on its state dir, address and flags. */
  async relaunchCoordinator(index: number): Promise<Coordinator> {
    const spec = this.coordinatorSpecs[index];
    const old = this.coordinators[index];
    if (!spec || !old) throw new Error(`netns harness: no coordinator ${index}; there are ${this.coordinators.length}`);
    if (old.process.exitCode === null && old.process.signalCode === null) throw new Error(`coordinator ${index} still runs; stopCoordinator first`);
    const c = await startCoordinator(spec.stateDir, spec.args, spec.address);
    this.coordinators[index] = c;
    if (this.coordinator === old) this.coordinator = c;
    return c;
  }

  /**
   * SIGKILLs the coordinator (no goodbye, its sockets closed by the kernel) and, after `downMs`,
   * starts it again on the same state dir, address and flags. Agents come back with their backoff.
   */
  async restartCoordinator(downMs = 0): Promise<Coordinator> {
    const { stateDir, address } = this.coordinator;
    await this.coordinator.stop("SIGKILL");
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    this.coordinator = await startCoordinator(stateDir, this.coordinatorArgs, address);
    return this.coordinator;
  }

  // ── processes on nodes ──────────────────────────────────────────────────────────────────────

  /** Starts `fleetgate-agent run` on the node; `reboot` gives it a new boot id first. Does not wait. */
  startAgent(ref: NodeRef, opts: { reboot?: boolean } = {}): NodeProc {
    const n = this.node(ref);
    const a = n.agent?.process;
    if (a && a.exitCode === null && a.signalCode === null) throw new Error(`node ${n.name} already runs an agent; killAgent first`);
    if (opts.reboot) {
      n.bootId = randomUUID();
      writeFileSync(n.bootIdFile, `${n.bootId}\n`);
    }
    const labels = Object.entries(n.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
    const ca = this.coordinator.caFile ? ["--ca", this.coordinator.caFile] : [];
    // Several coordinators share one CA: any one's certificate file will do.
    const listed = this.coordinatorSpecs.length ? (n.coordinatorOrder ?? this.coordinatorSpecs.map((_, i) => i)).map((i) => this.coordinatorSpecs[i]!.address).join(",") : this.coordinator.address;
    const argv = [process.execPath, AGENT_BIN, "run", "--coordinator", listed, "--token", this.token, "--name", n.name, "--state-dir", n.stateDir, ...ca, ...labels, ...n.agentArgs];
    n.agent = this.track(spawnInNode(`agent ${n.name}`, n, argv, { FLEETGATE_LOG_LEVEL: "info", ...n.env }));
    return n.agent;
  }

  /** SIGKILL: no goodbye, no flush; the kernel closes its sockets. */
  async killAgent(ref: NodeRef): Promise<void> {
    await this.node(ref).agent?.stop("SIGKILL");
  }

  /** Starts a long-running program on the node (a server, a load generator); killed at cleanup. */
  exec(ref: NodeRef, argv: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): NodeProc {
    const n = this.node(ref);
    return this.track(spawnInNode(`${n.name}: ${argv.join(" ")}`, n, argv, { ...n.env, ...opts.env }, opts.cwd));
  }

  /** Runs a program on the node to completion, killed after `timeoutMs` (default 10 s). */
  async run(ref: NodeRef, argv: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
    const n = this.node(ref);
    const [file, ...args] = inNodeArgv(n, argv, { ...n.env, ...opts.env }) as [string, ...string[]];
    const r = await execa(file, args, { reject: false, stdin: "ignore", timeout: opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), timedOut: r.timedOut };
  }

  private track(p: NodeProc): NodeProc {
    this.procs.push(p);
    return p;
  }

  // ── the coordinator's view ──────────────────────────────────────────────────────────────────

  /** The `coord` CLI against this fleet's coordinator. */
  coord(args: string[]): Promise<CliResult> {
    return coord(this.coordinator, args);
  }

  async roster(): Promise<RosterEntry[]> {
    const r = await this.coord(["nodes", "--json"]);
    if (r.exitCode !== 0) throw new Error(`coord nodes --json failed (exit ${r.exitCode}): ${r.stderr}`);
    return JSON.parse(r.stdout) as RosterEntry[];
  }

  async waitOnline(names: string[] = this.nodes.map((n) => n.name), timeoutMs = DEFAULT_ONLINE_TIMEOUT_MS): Promise<void> {
    await this.waitRoster(names, true, timeoutMs);
  }

  async waitOffline(names: string[], timeoutMs = DEFAULT_ONLINE_TIMEOUT_MS): Promise<void> {
    await this.waitRoster(names, false, timeoutMs);
  }

  private async waitRoster(names: string[], online: boolean, timeoutMs: number): Promise<void> {
    const what = `${names.join(", ")} ${online ? "online" : "offline"} in coord nodes (fleet ${this.id})`;
    await waitFor(
      what,
      async () => {
        for (const n of names) {
          const agent = this.node(n).agent?.process;
          if (online && agent && (agent.exitCode !== null || agent.signalCode !== null)) {
            throw new Error(`agent on ${n} exited (${agent.exitCode ?? agent.signalCode}) while waiting for ${what}:\n${this.node(n).agent?.stderr()}`);
          }
        }
        const entries = await this.roster();
        return names.every((n) => (entries.find((e) => e.identity.name === n)?.online ?? false) === online) ? true : undefined;
      },
      timeoutMs,
    );
  }

  // ── faults (network-faults.ts) ──────────────────────────────────────────────────────────────

  /** Drops every packet between a and b, both ways, silently (connects time out). */
  partition(a: NodeRef, b: NodeRef): Promise<void> {
    return this.faults.setBlocked(this.side(a), this.side(b), true);
  }

  heal(a: NodeRef, b: NodeRef): Promise<void> {
    return this.faults.setBlocked(this.side(a), this.side(b), false);
  }

  /** Drops `percent` % of the packets arriving at the node, at random; 0 clears it. */
  packetLoss(ref: NodeRef, percent: number): Promise<void> {
    return this.faults.packetLoss(this.node(ref), percent);
  }

  /**
   * Drops `percent` % of the packets the node sends, at random, at its eth0's egress hook; 0 clears
   * it. With packetLoss() both directions lose. The sender's kernel sees each drop (TCP takes it
   * as local congestion and sends again), unlike a loss on the wire, which no namespace of ours sees.
   */
  async sendLoss(ref: NodeRef, percent: number): Promise<void> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error(`send loss must be a whole percent 0..100, got ${percent}`);
    const n = this.node(ref);
    const chain = [`chain egress {`, `  type filter hook egress device "${NODE_LINK}" priority filter; policy accept;`, `  numgen random mod 100 < ${percent} counter drop`, `}`];
    const table = percent > 0 ? [`table netdev ${SEND_LOSS_TABLE} {`, ...chain.map((l) => `  ${l}`), `}`] : [];
    const script = [`add table netdev ${SEND_LOSS_TABLE}`, `delete table netdev ${SEND_LOSS_TABLE}`, ...table, ``].join("\n");
    await host(["ip", "netns", "exec", n.netns, "nft", "-f", "-"], { input: script });
    if (percent > 0) this.sendLossy.add(n.name);
    else this.sendLossy.delete(n.name);
  }

  /** Packets sendLoss() has dropped on the node since it was last set. */
  async sendLossDrops(ref: NodeRef): Promise<number> {
    const n = this.node(ref);
    const listed = await host(["ip", "netns", "exec", n.netns, "nft", "list", "table", "netdev", SEND_LOSS_TABLE], { allowFailure: true });
    return Number(/counter packets (\d+)/.exec(listed ?? "")?.[1] ?? 0);
  }

  /** Unplugs the node's cable at the switch end (its host-side veth goes down). */
  cutLink(ref: NodeRef): Promise<void> {
    return this.faults.cutLink(this.node(ref));
  }

  restoreLink(ref: NodeRef): Promise<void> {
    return this.faults.restoreLink(this.node(ref));
  }

  /** Shapes both directions of the node's link to `rate` (tc syntax, e.g. "256kbit"). */
  slowLink(ref: NodeRef, rate: string): Promise<void> {
    return this.faults.slowLink(this.node(ref), rate);
  }

  clearSlowLink(ref: NodeRef): Promise<void> {
    return this.faults.clearSlowLink(this.node(ref));
  }

  /** Undoes every fault: partitions, loss (both ways), cut links, shaping. Agents are left as they are. */
  async resetNetwork(): Promise<void> {
    await this.faults.reset(this.nodes);
    for (const name of [...this.sendLossy]) await this.sendLoss(name, 0);
  }

  private side(ref: NodeRef): FaultSide {
    return ref === "coordinator" ? { coordinator: this.bridgeAddress } : this.node(ref);
  }

  // ── teardown ────────────────────────────────────────────────────────────────────────────────

  private allCoordinators(): Coordinator[] {
    return [...new Set([...this.coordinators, ...(this.coordinator ? [this.coordinator] : [])])];
  }

  private objects() {
    return { netns: this.nodes.map((n) => n.netns), links: [...this.nodes.map((n) => n.hostVeth), this.bridge] };
  }

  /** Kills every process, removes namespaces, veths, bridge, files and the subnet claim. Idempotent. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      process.removeListener("exit", this.onExit);
      await Promise.all([...this.procs, ...this.allCoordinators()].map((p) => p.stop("SIGKILL")));
      await removeNetworkObjects(this.objects());
      rmSync(this.workDir, { recursive: true, force: true });
      releaseClaim(this.claim);
    })();
    return this.cleaning;
  }

  /** The safety net when a test process exits without cleanup(): synchronous, best effort. */
  private cleanupSync(): void {
    if (this.cleaning) return;
    for (const p of [...this.procs, ...this.allCoordinators()]) p.process.kill("SIGKILL");
    removeNetworkObjectsSync(this.objects());
    rmSync(this.workDir, { recursive: true, force: true });
    releaseClaim(this.claim);
  }
}

/**
 * Builds the namespaces, starts the coordinator and the agents, and waits until every agent is
 * online. Throws with the reason (not root, a missing tool, a command that failed, an agent that
 * never came online) after removing whatever it had made.
 */
export async function createNetnsFleet(opts: NetnsFleetOptions): Promise<NetnsFleet> {
  assertNetnsPrerequisites();
  const specs: NodeSpec[] = typeof opts.nodes === "number" ? Array.from({ length: opts.nodes }, () => ({})) : opts.nodes;
  if (specs.length < 1 || specs.length > MAX_NODES) throw new Error(`a netns fleet has 1..${MAX_NODES} nodes, got ${specs.length}`);
  await sweepStaleFleets(PROCESS_START_MS);
  const id = newFleetId();
  const claim = claimSubnet(id);
  const workDir = mkdtempSync(join(tmpdir(), `${WORK_DIR_PREFIX}${id}-`));
  let fleet: NetnsFleet | undefined;
  try {
    fleet = new NetnsFleet(claim, workDir, specs);
    await fleet.buildNetwork();
    await fleet.startCoordinator(opts);
    const withAgent = fleet.nodes.filter((_, i) => specs[i]?.agent !== false);
    for (const n of withAgent) fleet.startAgent(n);
    if (withAgent.length) await fleet.waitOnline(withAgent.map((n) => n.name), opts.onlineTimeoutMs);
    return fleet;
  } catch (err) {
    if (fleet) await fleet.cleanup().catch((e: Error) => process.stderr.write(`netns harness: cleanup after a failed start also failed: ${e.message}\n`));
    else {
      rmSync(workDir, { recursive: true, force: true });
      releaseClaim(claim);
    }
    throw err;
  }
}

/** Runs `body` on a fresh fleet and always cleans up, also when `body` throws. */
export async function withNetnsFleet<T>(opts: NetnsFleetOptions, body: (fleet: NetnsFleet) => Promise<T>): Promise<T> {
  const fleet = await createNetnsFleet(opts);
  try {
    return await body(fleet);
  } finally {
    await fleet.cleanup();
  }
}
