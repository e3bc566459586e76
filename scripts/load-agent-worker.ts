// A worker process of the load tool (scripts/load-agents.ts): holds many simulated agent streams
// (load-agent-sim.ts) and reports to its parent over IPC, in batches so the parent's own
// bookkeeping stays small next to the coordinator being measured.
import { createRequire } from "node:module";
import { SimAgent, type SimOptions } from "./load-agent-sim.js";

export interface WorkerConfig extends Omit<SimOptions, "name"> {
  names: string[];
  /** First two octets' third byte: this worker's simulated nodes dial from 127.<subnet>.x.y. */
  subnet: number;
  /** Hellos this worker has in flight at once (the coordinator refuses more than 100 waiting per address, 1,000 in all). */
  helloWindow: number;
}

export type WorkerReport =
  | { kind: "progress"; registered: number; retried: number; lastRegisteredAt: number; taskMs: number[]; failed: { name: string; why: string }[] }
  | { kind: "ready" };

/**
 * Each simulated node connects from its own loopback address, as nodes of a fleet come from their
 * own hosts: the coordinator limits hellos per address (300 a minute), and one address for 1,000
 * nodes would measure that limit instead of the coordinator. grpc-js dials with net.connect and
 * has no option for a source address, so this process gives every new connection the next one.
 */
function bindSourceAddresses(subnet: number): void {
  const net = createRequire(import.meta.url)("node:net") as typeof import("node:net");
  const connect = net.connect;
  let next = 0;
  (net as { connect: unknown }).connect = (options: unknown, listener?: () => void) => {
    if (typeof options !== "object" || options === null || !("port" in options)) return (connect as (...a: unknown[]) => unknown)(options, listener);
    next++;
    const localAddress = `127.${subnet}.${Math.floor(next / 250) % 250}.${(next % 250) + 1}`;
    return connect({ ...(options as object), localAddress } as unknown as import("node:net").NetConnectOpts, listener);
  };
}

function run(config: WorkerConfig): void {
  bindSourceAddresses(config.subnet);
  let registered = 0;
  let retried = 0;
  let lastRegisteredAt = 0;
  let taskMs: number[] = [];
  let failed: { name: string; why: string }[] = [];
  let inFlight = 0;
  const waiting = [...config.names];
  const agents: SimAgent[] = [];
  const startNext = () => {
    while (inFlight < config.helloWindow && waiting.length) {
      const name = waiting.shift()!;
      inFlight++;
      let waitingForHello = true;
      const helloSettled = () => {
        if (!waitingForHello) return;
        waitingForHello = false;
        inFlight--;
        startNext();
      };
      const agent = new SimAgent({ ...config, name }, {
        registered: () => {
          registered++;
          lastRegisteredAt = Date.now();
          helloSettled();
        },
        retried: () => retried++,
        taskDone: (_n, ms) => taskMs.push(ms),
        failed: (n, why) => {
          failed.push({ name: n, why });
          helloSettled();
        },
      });
      agents.push(agent);
      agent.start();
    }
  };
  startNext();
  const report = setInterval(() => {
    if (!process.connected) return;
    // The parent may be gone between the check and the send: nothing to report to then.
    process.send!({ kind: "progress", registered, retried, lastRegisteredAt, taskMs, failed } satisfies WorkerReport, undefined, {}, () => undefined);
    registered = 0;
    retried = 0;
    taskMs = [];
    failed = [];
  }, 100);
  process.on("disconnect", () => {
    clearInterval(report);
    for (const a of agents) a.stop();
    process.exit(0);
  });
}

process.once("message", (config: WorkerConfig) => run(config));
process.send?.({ kind: "ready" } satisfies WorkerReport);
