// npm run demo: a coordinator, three agents and a small app on this machine, the demo plan,
// the report, then two rollouts of examples/rollout (one rolled back, one kept); then everything is stopped and removed.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coord, onlineNodes, ROOT, startAgent, startCoordinator, waitFor, type Proc } from "./local-fleet.js";
import { execa } from "execa";

const say = (text: string) => process.stdout.write(`\n== ${text}\n`);

const NODES = [
  { name: "alpha", role: "primary", proxy: 18083, appPort: 18091 },
  { name: "beta", role: "fleet", proxy: 18083, appPort: 18092 },
  // gamma's config still points /app/lnd/ at the old port: the gate must catch it.
  { name: "gamma", role: "fleet", proxy: 18080, appPort: 18093 },
];

/** examples/rollout's app on one node: version 1.0.0 and its data, served on the node's port. */
function startRolloutApp(dir: string, port: number): Proc {
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(join(dir, "version"), "1.0.0\n");
  writeFileSync(join(dir, "data", "marker"), "original\n");
  const child = execa(process.execPath, [join(ROOT, "examples", "rollout", "app-server.mjs"), dir, String(port)], { reject: false, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  return {
    name: `app ${dir}`,
    process: child,
    stderr: () => "",
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}

async function requireCurl(): Promise<void> {
  const r = await execa("curl", ["--version"], { reject: false });
  if (r.exitCode !== 0) throw new Error("the demo's http checks run curl on the node: install it with: apt-get install -y curl");
}

async function main(): Promise<number> {
  await requireCurl();
  const work = mkdtempSync(join(tmpdir(), "fleetgate-demo-"));
  const procs: Proc[] = [];
  const app = createServer((req, res) => {
    if (req.url === "/health") res.end("ok\n");
    else if (req.url === "/version") res.end("v0.1.0\n");
    else res.writeHead(404).end();
  });
  try {
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    const appUrl = `http://127.0.0.1:${(app.address() as { port: number }).port}`;

    say("starting the coordinator (state in a temp dir)");
    const c = await startCoordinator(join(work, "coord"));
    procs.push(c);
    console.log(`coordinator on ${c.address}`);

    const token = await coord(c, ["token", "create", "--ttl", "1h", "--description", "demo"]);
    if (token.exitCode !== 0) throw new Error(token.stderr);

    say("starting three agents: alpha (primary), beta and gamma (fleet)");
    for (const n of NODES) {
      const appDir = join(work, n.name, "app");
      procs.push(startRolloutApp(appDir, n.appPort));
      const conf = join(work, `${n.name}.conf`);
      writeFileSync(conf, `location /app/lnd/ {\n    proxy_pass http://127.0.0.1:${n.proxy}/;\n}\n`);
      procs.push(
        startAgent({
          name: n.name,
          address: c.address,
          token: token.stdout.trim(),
          stateDir: join(work, n.name),
          labels: { role: n.role },
          env: { DEMO_NODE_CONF: conf, DEMO_APP_URL: appUrl, APP_DIR: appDir, APP_PORT: String(n.appPort) },
        }),
      );
    }
    await waitFor("three agents to register", async () => ((await onlineNodes(c)).length === NODES.length ? true : undefined), 30_000);
    console.log((await coord(c, ["nodes"])).stdout);
    console.log(
      "\nNOTE: all three agents run on this one host and share its machine-id. The coordinator flags\n" +
        "this, and results from agents sharing a host are NOT valid for sign-off. Real nodes each run\n" +
        "their own agent.",
    );

    const plan = join(ROOT, "deploy", "demo", "demo.plan.yaml");
    const cli = (args: string[]) =>
      execa(process.execPath, [join(ROOT, "bin", "coord.js"), ...args], {
        env: { FLEETGATE_COORDINATOR: c.address, FLEETGATE_STATE_DIR: c.stateDir },
        stdout: "inherit",
        stderr: "pipe",
        reject: false,
      });
    const started = (stderr: unknown) => {
      const id = /run (\S+) started/.exec(String(stderr))?.[1];
      if (!id) throw new Error(`coord run did not start a run:\n${String(stderr)}`);
      return id;
    };

    say("coord run all --plan deploy/demo/demo.plan.yaml  (gamma has a stale proxy target on purpose)");
    const first = await cli(["run", "all", "--plan", plan]);
    started(first.stderr);
    console.log(`\ncoord run exited ${first.exitCode}: NO-GO, gamma failed, so the stages after fleet did not run`);

    say("run the cross-node and matrix stages anyway, skipping fleet with a reason (single's green run gates them)");
    say('coord run handover matrix --plan deploy/demo/demo.plan.yaml --skip fleet --reason "gamma proxy fix pending"');
    const second = await cli(["run", "handover", "matrix", "--plan", plan, "--skip", "fleet", "--reason", "gamma proxy fix pending"]);
    const runId = started(second.stderr);
    console.log(`\ncoord run exited ${second.exitCode}: INCOMPLETE (a skipped stage, a leg whose probe failed, agents sharing one host)`);

    say(`coord report ${runId} --format md`);
    const report = await coord(c, ["report", runId, "--format", "md"]);
    console.log(report.stdout);
    const html = join(process.cwd(), "fleetgate-demo-report.html");
    await coord(c, ["report", runId, "--format", "html", "-o", html]);
    say(`coord verify ${join(c.stateDir, "runs", runId)}`);
    const verify = await coord(c, ["verify", join(c.stateDir, "runs", runId)]);
    console.log(verify.stdout.trim());
    console.log(`\nthe HTML report is in ${html}; open it in a browser`);

    // A change guarded by the gate (examples/rollout): the broken release is rolled back on the
    // first node and goes no further; the good one goes through every node.
    const rolloutPlan = join(ROOT, "examples", "rollout", "gate.plan.yaml");
    say("coord rollout --plan examples/rollout/gate.plan.yaml --change examples/rollout/broken.change.yaml");
    const broken = await cli(["rollout", "--plan", rolloutPlan, "--change", join(ROOT, "examples", "rollout", "broken.change.yaml")]);
    console.log(`\ncoord rollout exited ${broken.exitCode}: alpha rolled back (its data restored, the gate green again), beta and gamma untouched`);
    say("coord rollout --plan examples/rollout/gate.plan.yaml --change examples/rollout/good.change.yaml");
    const good = await cli(["rollout", "--plan", rolloutPlan, "--change", join(ROOT, "examples", "rollout", "good.change.yaml")]);
    const versions = NODES.map((n) => `${n.name} ${readFileSync(join(work, n.name, "app", "version"), "utf8").trim()}`);
    console.log(`\ncoord rollout exited ${good.exitCode}: every node changed and its known-good facts advanced (${versions.join(", ")})`);
    // The demo worked if the gate reached a verdict both times, the evidence is intact, and each rollout ended as it should.
    return first.exitCode === 1 && second.exitCode === 2 && verify.exitCode === 0 && broken.exitCode === 1 && good.exitCode === 0 ? 0 : 1;
  } finally {
    say("stopping agents and coordinator, removing the temp dir");
    await Promise.all(procs.reverse().map((p) => p.stop()));
    app.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo: ${err.message}\n`);
    process.exit(1);
  },
);
