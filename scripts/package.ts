// npm run package [-- --out-dir DIR]: the one-file agent. Writes dist/package/fleetgate-agent.cjs
// (runs with any Node >= 20) and, where this Node can make a single executable application,
// dist/package/fleetgate-agent (needs no Node). Each is run once (--version) before it is announced.
import { rmSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { BUNDLE_NAME, bundleAgent, EXECUTABLE_NAME, PACKAGE_DIR } from "./package-agent.js";
import { buildExecutable, seaUnsupported, thisNode } from "./package-sea.js";

const say = (text: string) => process.stdout.write(`package: ${text}\n`);
const shown = (file: string) => relative(process.cwd(), file) || file;
const megabytes = (file: string) => `${(statSync(file).size / 1024 ** 2).toFixed(1)} MiB`;

/**
 * Runs `command --version` with an empty environment (no PATH: it finds nothing it was not built
 * with) and throws unless it prints `version`: a build that cannot start is not shipped.
 */
async function expectVersion(command: string, args: string[], version: string, file: string): Promise<void> {
  const r = await execa(command, [...args, "--version"], { reject: false, stdin: "ignore", env: {}, extendEnv: false });
  if (r.exitCode !== 0 || String(r.stdout).trim() !== version) {
    rmSync(file, { force: true });
    throw new Error(`${shown(file)} --version printed ${JSON.stringify(String(r.stdout).trim())} (exit ${r.exitCode}), expected ${version}:\n${String(r.stderr)}`);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { "out-dir": { type: "string" } } });
  const outDir = resolve(values["out-dir"] ?? PACKAGE_DIR);
  const bundle = await bundleAgent(outDir);
  await expectVersion(process.execPath, [bundle.file], bundle.version, bundle.file);
  say(`wrote ${shown(bundle.file)} (${megabytes(bundle.file)}, ${Object.keys(bundle.metafile.inputs).length} files, agent ${bundle.version}): run it with node >= 20`);

  const exe = join(outDir, EXECUTABLE_NAME);
  // A stale executable from an earlier build must not be shipped beside a newer bundle.
  rmSync(exe, { force: true });
  const why = seaUnsupported(thisNode());
  if (why) {
    say(`did not build ${shown(exe)}, the single executable: ${why}. Ship ${BUNDLE_NAME} with Node 20 instead.`);
    return 0;
  }
  await buildExecutable(bundle.file, exe);
  await expectVersion(exe, [], bundle.version, exe);
  say(`wrote ${shown(exe)} (${megabytes(exe)}, Node ${process.version} ${process.platform}-${process.arch} with the agent inside): copy it to a node, nothing else needed`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`package: failed: ${err.message}\n`);
    process.exit(1);
  },
);
