// npm run package:deb [-- --agent-dir DIR --out-dir DIR]: the two Debian packages, built with
// dpkg-deb from what `npm run package` (the one-file agent, in DIR, default dist/package) and
// `npm run build` (the coordinator, in dist/) made:
//
//   fleetgate-agent_<version>_<arch>.deb  /usr/lib/fleetgate/fleetgate-agent, /usr/bin link, its
//                                         units, /etc/fleetgate/agent.yaml; needs no Node
//   fleetgate-coord_<version>_<arch>.deb  /usr/lib/fleetgate/coord/ (dist/ and the production
//                                         node_modules, better-sqlite3 compiled), /usr/bin/coord,
//                                         its unit, /etc/fleetgate/coord.yaml; needs nodejs 20
//
// Maintainer scripts are deploy/debian/<package>/; the units deploy/systemd/.
import { createHash } from "node:crypto";
import { chmodSync, closeSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { execa } from "execa";
import { changelogText, conffilesFile, controlFile, copyrightText, md5sumsFile, PACKAGES, type PackageSpec } from "./deb-control.js";
import { debianVersion } from "./deb-version.js";
import { ROOT } from "./local-fleet.js";
import { EXECUTABLE_NAME, PACKAGE_DIR, packageVersion } from "./package-agent.js";

const say = (text: string) => process.stdout.write(`package:deb: ${text}\n`);
const UNITS = join(ROOT, "deploy/systemd");
const SCRIPTS = join(ROOT, "deploy/debian");
const EXAMPLES = join(ROOT, "deploy/examples");
const MAINTAINER_SCRIPTS = ["postinst", "prerm", "postrm"];
/** What the coordinator runs: bin/coord.js imports dist/coordinator, which imports dist/shared only. */
const COORD_DIST = ["coordinator", "shared"];

/** Files a dev tree carries that a package must not: source maps of sources not shipped, types. */
const notShipped = (path: string) => /\.(map|d\.ts)$/.test(path);

/**
 * What npm packages carry for their authors, not for running them (lintian's errors about npm
 * ignore files, linter configs and VCS files; their docs load scripts off the web).
 */
const notRuntime = (path: string) => /^\.(npmignore|eslintrc.*|eslintignore|gitattributes|gitignore|github|travis\.yml|editorconfig|prettierrc.*|nycrc.*|taprc)$|\.(md|markdown|html)$/i.test(basename(path)) && !/^licen[cs]e/i.test(basename(path));

/** better-sqlite3 keeps its sources, the SQLite amalgamation and object files beside the addon it loads. */
const BETTER_SQLITE3_KEEP = ["package.json", "lib", "LICENSE", "build/Release/better_sqlite3.node"];

function writeFile(root: string, path: string, text: string | Buffer, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
}

function install(root: string, from: string, path: string, mode = 0o644): void {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  copyFileSync(from, file);
  chmodSync(file, mode);
}

function link(root: string, path: string, target: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(target, join(root, path));
}

/** Whether a file is a program: an ELF binary or a script with a #! line (a .node addon is a library). */
function isProgram(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.toString("latin1") === "\x7fELF" || head.subarray(0, 2).toString() === "#!";
  } finally {
    closeSync(fd);
  }
}

/**
 * Modes as Debian expects them, whatever npm or the umask left: directories 0755, programs that
 * were executable 0755, everything else 0644. Returns the regular files for md5sums.
 */
function normalizeTree(root: string, dir = root): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      chmodSync(path, 0o755);
      if (relative(root, path) !== "DEBIAN") files.push(...normalizeTree(root, path));
    } else if (entry.isFile()) {
      const executable = (statSync(path).mode & 0o111) !== 0 && !/\.(node|so)$/.test(path) && isProgram(path);
      chmodSync(path, executable ? 0o755 : 0o644);
      files.push(path);
    }
  }
  return files;
}

/** The production dependencies npm installed, as npm itself lists them (no devDependencies). */
async function productionModules(): Promise<string[]> {
  const r = await execa("npm", ["ls", "--omit=dev", "--all", "--parseable"], { cwd: ROOT, reject: false, stdin: "ignore" });
  if (r.exitCode !== 0) throw new Error(`npm ls --omit=dev failed (exit ${r.exitCode}); run npm ci first:\n${r.stderr}`);
  return String(r.stdout)
    .split("\n")
    .filter((p) => p && resolve(p) !== ROOT)
    .map((p) => relative(ROOT, p));
}

async function stageCoordinator(root: string, version: string): Promise<void> {
  const app = join(root, "usr/lib/fleetgate/coord");
  for (const part of COORD_DIST) {
    const from = join(ROOT, "dist", part);
    if (!existsSync(from)) throw new Error(`${from} is missing: run npm run build first`);
    cpSync(from, join(app, "dist", part), { recursive: true, filter: (src) => !notShipped(src) });
  }
  install(root, join(ROOT, "bin/coord.js"), "usr/lib/fleetgate/coord/bin/coord.js", 0o755);
  // shared/version.ts reads the version from here: give it the whole build's version, since
  // the installed tree has no .git to add the revision from.
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  const shipped = { name: pkg.name, version, description: pkg.description, type: pkg.type, license: pkg.license, private: true, engines: pkg.engines, dependencies: pkg.dependencies };
  writeFile(app, "package.json", `${JSON.stringify(shipped, null, 2)}\n`);
  for (const module of await productionModules()) {
    const from = join(ROOT, module);
    const to = join(app, module);
    if (module === "node_modules/better-sqlite3") {
      for (const keep of BETTER_SQLITE3_KEEP) cpSync(join(from, keep), join(to, keep), { recursive: true, filter: (src) => !notRuntime(src) });
      // The addon is built with debug symbols; the package ships it stripped (Debian policy 10.1).
      await execa("strip", ["--strip-unneeded", join(to, "build/Release/better_sqlite3.node")], { stdin: "ignore" });
      continue;
    }
    // Nested node_modules are listed (and copied) on their own.
    cpSync(from, to, { recursive: true, filter: (src) => src === from || (!relative(from, src).split("/").includes("node_modules") && !notRuntime(src)) });
  }
  link(root, "usr/bin/coord", "../lib/fleetgate/coord/bin/coord.js");
}

async function stageAgent(root: string, agentDir: string): Promise<void> {
  const exe = join(agentDir, EXECUTABLE_NAME);
  if (!existsSync(exe)) throw new Error(`${exe} is missing: npm run package makes it (it says why when this Node cannot make a single executable)`);
  // A stale executable from another commit must not go out under this commit's version.
  const built = String((await execa(exe, ["--version"], { stdin: "ignore", env: {}, extendEnv: false })).stdout).trim();
  if (built !== packageVersion()) throw new Error(`${exe} is agent ${built}, but this checkout is ${packageVersion()}: run npm run package again`);
  install(root, exe, "usr/lib/fleetgate/fleetgate-agent", 0o755);
  link(root, "usr/bin/fleetgate-agent", "../lib/fleetgate/fleetgate-agent");
  install(root, join(SCRIPTS, "fleetgate-agent/lintian-overrides"), "usr/share/lintian/overrides/fleetgate-agent");
}

/** The tree of one package in `root` (files, then DEBIAN/); returns the .deb's path. */
async function buildPackage(spec: PackageSpec, opts: { version: string; architecture: string; outDir: string; agentDir: string; now: Date }): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), `${spec.name}-`));
  try {
    if (spec.name === "fleetgate-agent") await stageAgent(root, opts.agentDir);
    else await stageCoordinator(root, packageVersion());
    const units = readdirSync(UNITS).filter((u) => u.startsWith(`${spec.name}.`) && /\.(service|path)$/.test(u));
    for (const unit of units) install(root, join(UNITS, unit), `lib/systemd/system/${unit}`);
    for (const conffile of spec.conffiles) install(root, join(EXAMPLES, conffile.split("/").pop()!), conffile);
    const doc = `usr/share/doc/${spec.name}`;
    writeFile(root, `${doc}/copyright`, copyrightText(spec, opts.now.getUTCFullYear()));
    writeFile(root, `${doc}/changelog.gz`, gzipSync(changelogText(spec, opts.version, opts.now), { level: 9 }));
    chmodSync(root, 0o755); // the package's "./": mkdtemp made it 0700
    const files = normalizeTree(root);
    const sums = files.map((f) => ({ path: relative(root, f), md5: createHash("md5").update(readFileSync(f)).digest("hex") }));
    const installedKiB = Math.ceil(files.reduce((n, f) => n + lstatSync(f).size, 0) / 1024);
    writeFile(root, "DEBIAN/control", controlFile(spec, opts.version, opts.architecture, installedKiB));
    writeFile(root, "DEBIAN/conffiles", conffilesFile(spec));
    writeFile(root, "DEBIAN/md5sums", md5sumsFile(sums));
    for (const script of MAINTAINER_SCRIPTS) install(root, join(SCRIPTS, spec.name, script), `DEBIAN/${script}`, 0o755);
    chmodSync(join(root, "DEBIAN"), 0o755);
    const deb = join(opts.outDir, `${spec.name}_${opts.version}_${opts.architecture}.deb`);
    // gzip: the agent is a 100 MB executable; xz (dpkg-deb's default) took 53 s of CPU to pack
    // it here, gzip 3.5 s, and the package build runs in the tests.
    await execa("dpkg-deb", ["--root-owner-group", "-Zgzip", "-z6", "--build", root, deb], { stdin: "ignore" });
    return deb;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function buildDebs(opts: { outDir: string; agentDir: string }): Promise<string[]> {
  mkdirSync(opts.outDir, { recursive: true });
  const version = debianVersion(packageVersion());
  const architecture = String((await execa("dpkg", ["--print-architecture"])).stdout).trim();
  const now = new Date();
  const debs: string[] = [];
  for (const spec of Object.values(PACKAGES)) debs.push(await buildPackage(spec, { ...opts, version, architecture, now }));
  return debs;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { "out-dir": { type: "string" }, "agent-dir": { type: "string" } } });
  const outDir = resolve(values["out-dir"] ?? join(ROOT, "dist", "deb"));
  const agentDir = resolve(values["agent-dir"] ?? PACKAGE_DIR);
  for (const deb of await buildDebs({ outDir, agentDir })) {
    say(`wrote ${relative(process.cwd(), deb) || deb} (${(statSync(deb).size / 1024 ** 2).toFixed(1)} MiB)`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: Error) => {
    process.stderr.write(`package:deb: ${err.message}\n`);
    process.exit(1);
  });
}
