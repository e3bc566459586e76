import { toJson } from "@bufbuild/protobuf";
import { Command } from "commander";
import { ControlService, NodeInfoSchema, TokenInfoSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { exitOnUsageErrors, runCli } from "../../shared/cli-exit.js";
import { dirname, resolve } from "node:path";
import { connected, durationFlag, nonNegativeInt, print, withClient, type ConnectionFlags } from "./kit.js";
import { formatNodes, formatTokens } from "./format.js";
import { registerNodeLifecycleCommands, showMissing } from "./node-commands.js";
import { registerEvidenceCommands } from "./evidence-commands.js";
import { registerJudgementCommands } from "./judgement-commands.js";
import { registerReportCommand } from "./report-command.js";
import { registerRefusalsCommand } from "./refusals-command.js";
import { registerRunCommands } from "./run-commands.js";
import { registerScheduleAlertCommands } from "./schedule-alert-commands.js";
import { registerRolloutCommands } from "./rollout-commands.js";
import { registerUserCommands } from "./user-commands.js";
import { registerStatusCommand } from "./status-command.js";
import { addServeOptions, DEFAULT_STATE_DIR, loadServeConfig, resolveServeSettings, rosterSettings, serveNumbers, storeSettings, type ServeFlags } from "./serve-config.js";
import { registerConfigCommand } from "./config-command.js";
import { caCertPath } from "../tls/paths.js";
import { clockFromEnv } from "../schedules/clock.js";
import { scheduleDefs } from "../schedules/config.js";
import { describeStore } from "../store/postgres-settings.js";
import { FLEETGATE_VERSION } from "../../shared/version.js";

// Every command is defined here, but the heavy parts of what it does are imported when it runs (the
// server, the stores' drivers, the certificate code): `coord --help` or `coord run` should not pay
// for `coord serve`. test/unit/cli-start.test.ts holds that a client command loads none of them.
export function buildProgram(): Command {
  const program = new Command("coord").description("The fleetgate coordinator and its command line: register nodes, run the gate, report.").version(FLEETGATE_VERSION);
  // Usage errors become exceptions, so they exit 3 (bad input) like every other input error.
  exitOnUsageErrors(program);

  addServeOptions(program.command("serve").description("run the coordinator: gRPC for agents and this CLI, state in SQLite (or PostgreSQL shared with standbys: --store)")).action(async (flags: ServeFlags) => {
    const [{ createLogger }, { startCoordinator }] = await Promise.all([import("../../shared/logging.js"), import("../server/serve.js")]);
    const config = loadServeConfig(flags.config);
    const log = createLogger("coordinator");
    // flag > env > file > default for every setting (serve-config.ts; `coord config check` shows the same).
    const s = resolveServeSettings(flags, process.env, config);
    const stateDir = s.stateDir.value;
    const store = storeSettings(s, s.listen.value);
    const coordinator = await startCoordinator({
      listen: s.listen.value,
      stateDir,
      ...serveNumbers(s),
      log,
      signingKeyPath: s.signingKey.value,
      insecure: s.insecure.value,
      tlsCertFile: s.tlsCert.value,
      tlsKeyFile: s.tlsKey.value,
      sans: s.sans,
      alerts: config.alerts,
      // Plan paths in coord.yaml are relative to it.
      schedules: scheduleDefs(config.schedules, dirname(resolve(flags.config ?? "."))),
      scheduleClock: clockFromEnv(process.env),
      metricsListen: s.metricsListen.value,
      tailscale: rosterSettings(s),
      ...store,
      evidenceDir: s.evidenceDir.value,
    });
    const security = coordinator.transport === "tls" ? `TLS, agents need --ca ${caCertPath(stateDir)}` : "INSECURE: plaintext gRPC (--insecure)";
    const where = store ? `store ${describeStore(store.postgres.url)} as ${store.ha.id} (${coordinator.role()} now)` : `state in ${stateDir}`;
    process.stderr.write(`coord: listening on ${coordinator.address}; ${security}; ${where}; admin token in ${stateDir}/admin.token\n`);
    if (coordinator.metricsAddress) process.stderr.write(`coord: /metrics, /healthz and /readyz on http://${coordinator.metricsAddress}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => void coordinator.stop().then(resolve);
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
  });

  program
    .command("ca")
    .description("the coordinator's certificate authority, which signs its server certificate and every node's client certificate")
    .command("init")
    .description("create the CA in STATE_DIR/tls (coord serve also does on first start); prints the file agents and the CLI need (--ca)")
    .option("--state-dir <dir>", `the coordinator's state dir (env FLEETGATE_STATE_DIR, default ${DEFAULT_STATE_DIR})`)
    .option("--cert <file>", "bring your own CA: its certificate (PEM), with --key")
    .option("--key <file>", "the private key of --cert (PEM)")
    .action(async (flags: { stateDir?: string; cert?: string; key?: string }) => {
      const { initCa } = await import("../tls/ca-files.js");
      const stateDir = flags.stateDir ?? process.env.FLEETGATE_STATE_DIR ?? DEFAULT_STATE_DIR;
      const { certPath, created } = initCa(stateDir, { certFile: flags.cert, keyFile: flags.key });
      print(created ? `created CA ${certPath}; copy it to each node: fleetgate-agent run --ca ${certPath} ...` : `a CA exists already: ${certPath} (kept: every node certificate hangs on it)`);
    });

  const nodes = program.command("nodes").description("the roster: list nodes (list --missing: the tailnet's fleet machines with no agent), drain and label them, hand a name to a replacement (replace), or free it (forget)");
  connected(nodes.command("list", { isDefault: true }).description("list registered nodes: identity, role, last seen, online/offline, drained, agent version (outdated: older than the coordinator) (the default)"))
    .option("--json", "print JSON")
    .option("--missing", "instead, the tailnet's fleet machines with no agent (coord serve --tailscale-tag): name, DNS name, IPs, online in tailscale, last seen; tailscaled is asked now")
    .action(async (flags: ConnectionFlags & { json?: boolean; missing?: boolean }) => {
      if (flags.missing) return showMissing(flags);
      const { nodes, transport, coordinatorVersion } = await withClient(flags, (c) => c.call(ControlService.method.listNodes, {}));
      print(flags.json ? JSON.stringify(nodes.map((n) => toJson(NodeInfoSchema, n)), null, 2) : formatNodes(nodes, Date.now(), transport, coordinatorVersion));
    });
  registerNodeLifecycleCommands(nodes);
  connected(
    nodes
      .command("forget")
      .description("free a node's name, bound to the machine that enrolled with it, so a replacement (or the same machine after losing its state dir) can enroll: its node token stops working, and its drain and coordinator labels go with it; refused while the node is connected")
      .argument("<name>", "node name"),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const { node } = await withClient(flags, (c) => c.call(ControlService.method.forgetNode, { name }));
    const id = node?.identity;
    print(`forgot node ${name} (machine-id ${id?.machineId.slice(0, 12) ?? "?"}, host ${id?.hostname || "?"}); its node token no longer works; its runs and results stay. The next agent to enroll as ${name} takes the name.`);
  });

  connected(
    nodes
      .command("replace")
      .description("hand a node's name to the other machine that claimed it (coord nodes shows CONFLICT): the old machine's credentials stop working and the claimant's next enrollment takes the name; refused while the node is connected")
      .argument("<name>", "node name"),
  ).action(async (name: string, flags: ConnectionFlags) => {
    const { claimant } = await withClient(flags, (c) => c.call(ControlService.method.replaceNode, { name }));
    print(`node ${name} goes to machine-id ${claimant?.machineId.slice(0, 12) ?? "?"} (host ${claimant?.hostname || "?"}) at its next enrollment; the old machine's token and certificate no longer work.`);
  });

  const token = program.command("token").description("enrollment tokens for agents");
  connected(token.command("create").description("create an enrollment token and print it (agents: fleetgate-agent run --token T)"))
    .option("--ttl <duration>", "how long the token may be used to enroll", "24h")
    .option("--uses <n>", "how many agents may enroll with it (default: any number until it expires)", nonNegativeInt, 0)
    .option("--description <text>", "what the token is for", "")
    .action(async (flags: ConnectionFlags & { ttl: string; uses: number; description: string }) => {
      const ttlMs = durationFlag("--ttl", flags.ttl);
      const res = await withClient(flags, (c) =>
        c.call(ControlService.method.createToken, { ttlSeconds: BigInt(Math.ceil(ttlMs / 1000)), description: flags.description, maxUses: flags.uses }),
      );
      print(res.token);
      const uses = flags.uses ? `, for ${flags.uses} enrollment${flags.uses === 1 ? "" : "s"}` : "";
      process.stderr.write(`token ${res.id}: valid until ${new Date(Number(res.expiresAtMs)).toISOString()}${uses}; revoke it with: coord token revoke ${res.id}\n`);
    });
  connected(token.command("list").description("list enrollment tokens: id, uses, expiry, revoked (the tokens themselves are shown only when created)"))
    .option("--json", "print JSON")
    .action(async (flags: ConnectionFlags & { json?: boolean }) => {
      const { tokens } = await withClient(flags, (c) => c.call(ControlService.method.listTokens, {}));
      print(flags.json ? JSON.stringify(tokens.map((t) => toJson(TokenInfoSchema, t)), null, 2) : formatTokens(tokens, Date.now()));
    });
  connected(token.command("revoke").description("revoke an enrollment token: no agent enrolls with it any more (enrolled nodes keep their own tokens)").argument("<id>", "token id from coord token list"))
    .action(async (id: string, flags: ConnectionFlags) => {
      const { token: t } = await withClient(flags, (c) => c.call(ControlService.method.revokeToken, { id }));
      print(`revoked enrollment token ${t?.id ?? id}${t?.description ? ` (${t.description})` : ""}; it was used ${t?.uses ?? 0} time${t?.uses === 1 ? "" : "s"}`);
    });

  registerRunCommands(program);
  registerScheduleAlertCommands(program);
  registerRolloutCommands(program);
  registerReportCommand(program);
  registerJudgementCommands(program);
  registerEvidenceCommands(program);
  registerRefusalsCommand(program);
  registerUserCommands(program);
  registerStatusCommand(program);
  registerConfigCommand(program);

  return program;
}

export async function main(argv: string[]): Promise<void> {
  await runCli("coord", buildProgram, argv);
}
