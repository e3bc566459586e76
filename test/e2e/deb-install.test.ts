// Boot registration from the Debian packages (issue 15, part 7), as far as a machine without
// systemd as PID 1 allows: build both .debs once, install them into a temp root (dpkg-deb -x, then
// the maintainer scripts with DPKG_ROOT as dpkg --root runs them), start the agent exactly as its
// unit's ExecStart= would (the unit file in the root gives argv, user, working dir, environment)
// on a network-namespace node whose /etc, /usr and /var/lib are the host's with the root laid
// over them, see it registered, "reboot" it (new boot id) and see the same node again; then
// remove and purge, and nothing of fleetgate is left in the root. The host's dpkg database, /etc
// and /var/lib are never touched.
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, waitFor } from "../../scripts/local-fleet.js";
import { debianVersion } from "../../scripts/deb-version.js";
import { createNetnsFleet, type NetnsFleet, type NodeProc, type RosterEntry } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";
import { pathConditionsHold, serviceStart } from "../harness/unit-exec.js";
import { prepareVerifyRoot, verifyUnits } from "../support/systemd-analyze.js";
import { needsTool, toolPath } from "../support/system-tools.js";
import { readUnitFile } from "../support/unit-file.js";

const AGENT = "fleetgate-agent";
const COORD = "fleetgate-coord";
const NODE = "debnode";
const ready = [needsTool("dpkg-deb", "dpkg"), needsTool("deb-systemd-helper", "init-system-helpers"), needsTool("strip", "binutils"), needsTool("systemd-analyze", "systemd"), needsNetnsHost()].every(Boolean);
// lintian takes over a minute to install, so CI does not have it (.ci/run): where it is
// installed, the packages are linted too; elsewhere one line says so, also under FLEETGATE_TEST_STRICT.
const lintian = toolPath("lintian");
if (!lintian) process.stderr.write("skipped: linting the .debs needs lintian (apt-get install lintian); CI leaves it out, it takes over a minute to install\n");

/** The host paths a package install could touch: they must look the same after this file as before. */
const HOST_PATHS = ["/etc/fleetgate", "/var/lib/fleetgate-agent", "/var/lib/fleetgate", "/lib/systemd/system/fleetgate-agent.service", "/etc/systemd/system/multi-user.target.wants/fleetgate-agent.service", "/etc/systemd/system/paths.target.wants/fleetgate-agent.path", "/var/lib/systemd/deb-systemd-helper-enabled/fleetgate-agent.service.dsh-also", "/usr/bin/fleetgate-agent", "/usr/bin/coord"];
const hostBefore = HOST_PATHS.map((p) => [p, existsSync(p)] as const);

/**
 * Lays the package root over the node's own filesystem, in the private mount namespace the node's
 * program already has: /etc and /usr read-only (the unit makes them read-only anyway), /var/lib
 * writable into the root (so the state dir is the root's). The node's machine-id is bound again
 * on top, since the /etc overlay hides the harness's bind mount. Then cd to the unit's working dir
 * and exec the rest. Paths come in as "$1".."$4": the script text is constant.
 */
const ENTER_ROOT = [
  'root=$1 work=$2 mid=$3 cwd=$4; shift 4',
  'mount -t overlay overlay -o "lowerdir=$root/etc:/etc" /etc',
  'mount -t overlay overlay -o "lowerdir=$root/usr:/usr" /usr',
  'mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$root/var/lib,workdir=$work" /var/lib',
  'mount --bind "$mid" /etc/machine-id',
  'cd "$cwd"',
  'exec "$@"',
].join(" && ");

interface Built {
  deb: string;
  /** Every path in the package, as dpkg-deb -c lists it ("/usr/bin/coord"). */
  paths: string[];
  control: string;
}

describe.skipIf(!ready)("Debian packages: install into a temp root, register at boot, purge", () => {
  let work: string;
  let root: string;
  let arch: string;
  const built: Record<string, Built> = {};
  let fleet: NetnsFleet | undefined;
  let agentVersion = "";

  /** A maintainer script of `pkg` run as dpkg --root runs it (DPKG_ROOT and dpkg's other variables). */
  async function maintainerScript(pkg: string, script: string, ...args: string[]): Promise<void> {
    const r = await execa("sh", [join(work, "control", pkg, script), ...args], {
      env: { DPKG_ROOT: root, DPKG_MAINTSCRIPT_PACKAGE: pkg, DPKG_MAINTSCRIPT_NAME: script, DPKG_MAINTSCRIPT_ARCH: arch },
      reject: false,
      stdin: "ignore",
      all: true,
      timeout: 30_000,
    });
    expect(r.exitCode, `${pkg} ${script} ${args.join(" ")}:\n${r.all}`).toBe(0);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "fleetgate-deb-"));
    root = join(work, "root");
    mkdirSync(root);
    arch = String((await execa("dpkg", ["--print-architecture"])).stdout).trim();
    // Built once for the file: npm run package's script, then package:deb's, on the compiled tree.
    const started = Date.now();
    const limits = { stdin: "ignore" as const, timeout: 150_000 };
    await execa(process.execPath, [join(ROOT, "dist/scripts/package.js"), "--out-dir", join(work, "agent")], limits);
    await execa(process.execPath, [join(ROOT, "dist/scripts/package-deb.js"), "--agent-dir", join(work, "agent"), "--out-dir", join(work, "debs")], limits);
    process.stderr.write(`deb-install: npm run package + package:deb took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    for (const name of readdirSync(join(work, "debs"))) {
      const pkg = name.split("_")[0]!;
      const deb = join(work, "debs", name);
      const listing = String((await execa("dpkg-deb", ["-c", deb])).stdout);
      const paths = listing.split("\n").map((l) => /^\S+ \S+ +\d+ \S+ \S+ \.(\/.*?)\/?(?: -> .*)?$/.exec(l)?.[1]).filter((p): p is string => !!p && p !== "/");
      mkdirSync(join(work, "control", pkg), { recursive: true });
      await execa("dpkg-deb", ["-e", deb, join(work, "control", pkg)]);
      await execa("dpkg-deb", ["-x", deb, root]);
      built[pkg] = { deb, paths, control: readFileSync(join(work, "control", pkg, "control"), "utf8") };
    }
    agentVersion = String((await execa(join(root, "usr/bin/fleetgate-agent"), ["--version"])).stdout).trim();
  }, 300_000);

  afterAll(async () => {
    await fleet?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("builds fleetgate-agent and fleetgate-coord for this architecture, versioned from package.json", () => {
    expect(Object.keys(built).sort()).toEqual([AGENT, COORD]);
    const version = debianVersion(agentVersion);
    for (const pkg of [AGENT, COORD]) {
      expect(built[pkg]!.deb.endsWith(`/${pkg}_${version}_${arch}.deb`)).toBe(true);
      expect(built[pkg]!.control).toContain(`\nVersion: ${version}\n`);
    }
    const pkgJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(agentVersion.split("+")[0]).toBe(pkgJson.version);
  });

  it("the agent package is the one-file agent (no Node, no node_modules), its units and its config as a conffile", () => {
    const { paths, control } = built[AGENT]!;
    expect(paths).toEqual(expect.arrayContaining(["/usr/lib/fleetgate/fleetgate-agent", "/usr/bin/fleetgate-agent", "/lib/systemd/system/fleetgate-agent.service", "/lib/systemd/system/fleetgate-agent.path", "/etc/fleetgate/agent.yaml"]));
    expect(paths.filter((p) => p.startsWith("/usr/lib/fleetgate/"))).toEqual(["/usr/lib/fleetgate/fleetgate-agent"]);
    expect(readlinkSync(join(root, "usr/bin/fleetgate-agent"))).toBe("../lib/fleetgate/fleetgate-agent");
    expect(readFileSync(join(work, "control", AGENT, "conffiles"), "utf8")).toBe("/etc/fleetgate/agent.yaml\n");
    expect(control).not.toMatch(/nodejs/);
  });

  it("the coordinator package is dist/ and the production node_modules (better-sqlite3 compiled), nothing of the dev tree", () => {
    const { paths, control } = built[COORD]!;
    const app = "/usr/lib/fleetgate/coord/";
    expect(paths).toEqual(expect.arrayContaining([`${app}bin/coord.js`, `${app}dist/coordinator/cli/main.js`, `${app}node_modules/better-sqlite3/build/Release/better_sqlite3.node`, "/usr/bin/coord", "/lib/systemd/system/fleetgate-coord.service", "/etc/fleetgate/coord.yaml"]));
    const tree = paths.filter((p) => p.startsWith(app)).map((p) => p.slice(app.length));
    for (const dev of ["node_modules/vitest", "node_modules/typescript", "node_modules/esbuild", "node_modules/@bufbuild/buf", "dist/agent", "dist/test", "dist/scripts", "test/", ".git", "node_modules/better-sqlite3/deps", "node_modules/better-sqlite3/src"]) {
      expect(tree.filter((p) => p.startsWith(dev)), dev).toEqual([]);
    }
    expect(tree.filter((p) => p.startsWith("dist/") && /\.(map|d\.ts)$/.test(p))).toEqual([]);
    expect(readFileSync(join(work, "control", COORD, "conffiles"), "utf8")).toBe("/etc/fleetgate/coord.yaml\n");
    expect(control).toMatch(/^Depends: nodejs \(>= 20\.5\)/m);
  });

  it("the installed coordinator serves: coord serve and coord token create from the package, on loopback", async () => {
    const bin = join(root, "usr/lib/fleetgate/coord/bin/coord.js");
    const stateDir = join(work, "coord-state");
    // Its own process group, killed whole whatever happens.
    const serve = execa(process.execPath, [bin, "serve", "--listen", "127.0.0.1:0", "--state-dir", stateDir], { detached: true, reject: false, stdin: "ignore", buffer: false, env: { FLEETGATE_LOG_LEVEL: "info" } });
    let err = "";
    serve.stderr?.on("data", (c: Buffer) => (err += c.toString()));
    serve.stdout?.resume();
    try {
      const address = await waitFor("the packaged coordinator to listen", () => {
        if (serve.exitCode !== null) throw new Error(`packaged coordinator exited (${serve.exitCode}):\n${err}`);
        return /listening on (\S+);/.exec(err)?.[1];
      }, 30_000);
      const cli = (args: string[]) => execa(process.execPath, [bin, ...args], { env: { FLEETGATE_COORDINATOR: address, FLEETGATE_STATE_DIR: stateDir }, reject: false, stdin: "ignore", timeout: 30_000 });
      const token = await cli(["token", "create", "--description", "deb-install"]);
      expect(token.exitCode, String(token.stderr)).toBe(0);
      expect(String(token.stdout).trim()).not.toBe("");
      const version = await cli(["--version"]);
      expect(String(version.stdout).trim()).toBe(agentVersion);
    } finally {
      if (serve.pid) process.kill(-serve.pid, "SIGKILL");
      await serve;
    }
  });

  it("postinst enables the agent and its path unit, and starts nothing: no token, no state", async () => {
    await maintainerScript(AGENT, "postinst", "configure");
    await maintainerScript(COORD, "postinst", "configure");
    expect(readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/fleetgate-agent.service"))).toBe("/lib/systemd/system/fleetgate-agent.service");
    expect(readlinkSync(join(root, "etc/systemd/system/paths.target.wants/fleetgate-agent.path"))).toBe("/lib/systemd/system/fleetgate-agent.path");
    expect(readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/fleetgate-coord.service"))).toBe("/lib/systemd/system/fleetgate-coord.service");
    expect(existsSync(join(root, "var/lib/fleetgate-agent"))).toBe(false);
    // Not enrolled yet: systemd would skip the agent's start (its conditions fail).
    expect(pathConditionsHold(readUnitFile(join(root, "lib/systemd/system/fleetgate-agent.service")), root)).toBe(false);
  });

  it("the installed units pass systemd-analyze verify against the installed programs", async () => {
    const verifyRoot = join(work, "verify");
    mkdirSync(verifyRoot);
    for (const pkg of [AGENT, COORD]) await execa("dpkg-deb", ["-x", built[pkg]!.deb, verifyRoot]);
    prepareVerifyRoot(verifyRoot);
    const r = await verifyUnits(verifyRoot, ["/lib/systemd/system/fleetgate-agent.service", "/lib/systemd/system/fleetgate-agent.path", "/lib/systemd/system/fleetgate-coord.service"]);
    expect(r).toEqual({ exitCode: 0, output: "" });
  });

  it("started as its unit starts it, the agent registers with the enrollment token; after a reboot it is the same node", async () => {
    fleet = await createNetnsFleet({ nodes: [{ name: NODE, agent: false }] });
    const node = fleet.node(NODE);
    const unit = readUnitFile(join(root, "lib/systemd/system/fleetgate-agent.service"));

    // What the admin does (README): point agent.yaml at the coordinator, give it the CA and a token.
    const config = join(root, "etc/fleetgate/agent.yaml");
    writeFileSync(config, readFileSync(config, "utf8").replace(/^coordinator: .*$/m, `coordinator: ${fleet.coordinator.address}`));
    copyFileSync(fleet.coordinator.caFile!, join(root, "etc/fleetgate/ca.crt"));
    const created = await fleet.coord(["token", "create", "--description", "deb-install node"]);
    expect(created.exitCode, created.stderr).toBe(0);
    writeFileSync(join(root, "etc/fleetgate/enroll.token"), `${created.stdout.trim()}\n`);
    chmodSync(join(root, "etc/fleetgate/enroll.token"), 0o600);
    expect(pathConditionsHold(unit, root)).toBe(true);

    const overlayWork = join(work, "overlay-work");
    const startAsUnit = (): NodeProc => {
      const s = serviceStart(unit, root);
      // systemd makes StateDirectory= before ExecStart= runs.
      for (const dir of s.stateDirs) mkdirSync(join(root, dir), { recursive: true, mode: 0o755 });
      rmSync(overlayWork, { recursive: true, force: true });
      mkdirSync(overlayWork);
      const asUser = s.user ? ["setpriv", `--reuid=${s.user.uid}`, `--regid=${s.user.gid}`, "--init-groups"] : [];
      const env = Object.entries(s.env).map(([k, v]) => `${k}=${v}`);
      return fleet!.exec(node, ["sh", "-c", ENTER_ROOT, "fleetgate-root", root, overlayWork, node.machineIdFile, s.cwd, "env", "-i", ...env, ...asUser, ...s.argv]);
    };
    const entries = async (): Promise<RosterEntry[]> => (await fleet!.roster()).filter((e) => e.identity.name === NODE);
    const online = (agent: NodeProc, bootId: string) =>
      waitFor(`${NODE} online with boot id ${bootId}`, async () => {
        if (agent.process.exitCode !== null || agent.process.signalCode !== null) throw new Error(`the packaged agent exited (${agent.process.exitCode ?? agent.process.signalCode}):\n${agent.stderr()}`);
        const e = (await entries())[0];
        return e?.online && e.identity.bootId === bootId ? e : undefined;
      }, 30_000);

    const first = startAsUnit();
    const seen = await online(first, node.bootId);
    expect(seen.identity.machineId).toBe(node.machineId);
    expect((seen.identity as { agentVersion?: string }).agentVersion).toBe(agentVersion);
    const listed = await fleet.coord(["nodes"]);
    expect(listed.stdout).toMatch(new RegExp(`^${NODE} .*online`, "m"));
    // The node token landed in the unit's state dir inside the root, as on a real node.
    expect(existsSync(join(root, "var/lib/fleetgate-agent/node.token"))).toBe(true);

    // Shut down as systemd stops it (SIGTERM), reboot (new boot id); the admin has deleted the
    // enrollment token meanwhile: the node token alone lets the unit start.
    await first.stop("SIGTERM");
    expect(first.process.exitCode).toBe(0);
    node.bootId = randomUUID();
    writeFileSync(node.bootIdFile, `${node.bootId}\n`);
    unlinkSync(join(root, "etc/fleetgate/enroll.token"));
    expect(pathConditionsHold(unit, root)).toBe(true);

    const second = startAsUnit();
    const again = await online(second, node.bootId);
    expect(again.identity.machineId).toBe(node.machineId);
    expect((await entries()).length).toBe(1);
    expect(again.flags ?? []).toEqual([]);
    const after = await fleet.coord(["nodes"]);
    expect(after.stdout).not.toMatch(/CONFLICT/);
    await second.stop("SIGTERM");
    expect(second.process.exitCode).toBe(0);
  }, 120_000);

  it("remove and purge leave nothing of fleetgate in the root", async () => {
    for (const pkg of [AGENT, COORD]) {
      await maintainerScript(pkg, "prerm", "remove");
      // dpkg removes the package's files (conffiles stay until purge), then runs postrm remove.
      const conffiles = readFileSync(join(work, "control", pkg, "conffiles"), "utf8").split("\n").filter(Boolean);
      removeListed(root, built[pkg]!.paths.filter((p) => !conffiles.includes(p)));
      await maintainerScript(pkg, "postrm", "remove");
      removeListed(root, conffiles);
      await maintainerScript(pkg, "postrm", "purge");
    }
    for (const pkg of [AGENT, COORD]) removeListed(root, built[pkg]!.paths); // directories shared by both, now empty
    const left = walk(root);
    expect(left.filter((e) => e.type !== "dir")).toEqual([]);
    expect(left.filter((e) => /fleetgate/i.test(e.path))).toEqual([]);
  });

  it("the host's own /etc, /var/lib and units are as they were", () => {
    expect(HOST_PATHS.map((p) => [p, existsSync(p)] as const)).toEqual(hostBefore);
  });

  it.skipIf(!lintian)("lintian finds no error in either package", async () => {
    const r = await execa("lintian", ["--fail-on", "error", "--tag-display-limit", "0", ...[AGENT, COORD].map((p) => built[p]!.deb)], { reject: false, all: true, timeout: 240_000 });
    expect(r.exitCode, String(r.all)).toBe(0);
    expect(String(r.all).split("\n").filter((l) => l.startsWith("E:"))).toEqual([]);
  }, 300_000);
});

/** Removes what dpkg would for these package paths: files and links, then directories left empty. */
function removeListed(root: string, paths: string[]): void {
  for (const p of [...paths].sort().reverse()) {
    const file = join(root, p);
    let stat;
    try {
      stat = lstatSync(file);
    } catch {
      continue;
    }
    if (!stat.isDirectory()) unlinkSync(file);
    else if (readdirSync(file).length === 0) rmdirSync(file);
  }
}

function walk(dir: string, base = dir): { path: string; type: "dir" | "file" | "link" }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    const rel = path.slice(base.length);
    if (e.isDirectory()) return [{ path: rel, type: "dir" as const }, ...walk(path, base)];
    return [{ path: rel, type: e.isSymbolicLink() ? ("link" as const) : ("file" as const) }];
  });
}
