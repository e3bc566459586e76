// What a dry run says each kind of check will observe: the agent's exact argv where the kind runs
// one process, a description where it runs none or several.
import { describe, expect, it } from "vitest";
import { plannedObservation } from "../../shared/model/kinds/observation.js";
import { CheckSchema } from "../../shared/model/suite.js";
import { resolveCheck } from "../../shared/model/suite.js";

/** A check block through the suite schema, so defaults (systemd scope, state) are applied as in a real suite. */
function seen(block: Record<string, unknown>, timeout = "60s") {
  const check = resolveCheck(CheckSchema.parse({ id: "c", timeout, ...block }), false);
  return plannedObservation(check.kind, check.spec, check.timeoutMs);
}

describe("plannedObservation", () => {
  it.each([
    ["command", { command: { argv: ["archy-ctl", "apps", "--json"] } }, ["archy-ctl", "apps", "--json"]],
    ["command shell:", { command: { shell: "ls | wc -l" } }, ["/bin/sh", "-c", "ls | wc -l"]],
    ["http", { http: { url: "http://h/x", method: "POST", insecure: true } }, ["curl", "-sS", "--max-time", "60", "-w", "\n%{http_code} %{time_total}\n", "-X", "POST", "-k", "--", "http://h/x"]],
    ["bats", { bats: { file: "tests/apps.bats", filter: "^lnd" } }, ["bats", "--tap", "--filter", "^lnd", "tests/apps.bats"]],
    ["nginx", { nginx: { location: "/app/", proxy_pass: "http://127.0.0.1:1/", config: "/etc/nginx/nginx.conf" } }, ["nginx", "-T", "-c", "/etc/nginx/nginx.conf"]],
    ["podman container", { podman: { container: "lnd", restarts: 0 } }, ["podman", "inspect", "--type", "container", "lnd"]],
    ["podman running", { podman: { running: ["lnd", "electrumx"] } }, ["podman", "ps", "-a", "--format", "json"]],
    ["bitcoin", { bitcoin: { rpc: "getblockhash", args: ["0"], cli_args: ["-datadir=/data"] } }, ["bitcoin-cli", "-datadir=/data", "getblockhash", "0"]],
    ["systemd (system scope by default)", { systemd: { unit: "bitcoind.service" } }, ["systemctl", "show", "bitcoind.service", "-p", "Result,NRestarts,ExecMainStatus,LoadState,ActiveState,SubState,UnitFileState"]],
  ])("gives the exact argv for %s", (_name, block, argv) => {
    expect(seen(block).argv).toEqual(argv);
  });

  it("passes curl the check's own timeout, as the agent does", () => {
    expect(seen({ http: { url: "http://h/" } }, "10s").argv?.slice(2, 4)).toEqual(["--max-time", "10"]);
  });

  it("keeps a command's cwd and env beside its argv", () => {
    expect(seen({ command: { argv: ["cargo", "test"], cwd: "/srv/p", env: { A: "1" } } })).toEqual({ argv: ["cargo", "test"], cwd: "/srv/p", env: { A: "1" } });
  });

  it.each([
    ["quadlet", { quadlet: { scope: "user", orphans: "none" } }, ".container units in Quadlet's user search paths; then podman ps -a --format json and, per unit, systemctl --user show UNIT -p ActiveState,SubState"],
    ["tcp", { tcp: { address: "127.0.0.1:50001", expect_closed: true } }, "TCP connect to 127.0.0.1:50001 (expected closed)"],
    ["file", { file: { path: "/etc/app.conf", exists: true } }, "stat /etc/app.conf"],
    ["disk", { disk: { path: "/var/lib", free: { gte: "10GiB" } } }, "statfs /var/lib"],
    ["memory", { memory: { available: { gte: "1GiB" } } }, "/proc/meminfo"],
    ["load", { load: { load1: { lte: 4 } } }, "load averages (/proc/loadavg)"],
  ])("describes what %s observes, with no argv", (_name, block, observes) => {
    const o = seen(block);
    expect(o.argv).toBeUndefined();
    expect(o.observes).toBe(observes);
  });
});
