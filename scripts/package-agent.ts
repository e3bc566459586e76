// The one-file agent: the compiled agent CLI (dist/agent/cli/main.js, what bin/fleetgate-agent.js
// runs) and the production packages it imports, bundled by esbuild into one CommonJS file (Node's
// single executable applications run CommonJS only). The metafile proves what went in.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build, type Metafile } from "esbuild";
import { gitRevision, versionString } from "../shared/version.js";
import { forbiddenInputs, forbiddenPackages, unloadableExternals, type Lockfile, type PackageJson } from "./package-inputs.js";
import { ROOT } from "./local-fleet.js";

/** Where `npm run package` writes; the Debian package takes the agent from here. */
export const PACKAGE_DIR = join(ROOT, "dist", "package");
export const BUNDLE_NAME = "fleetgate-agent.cjs";
export const EXECUTABLE_NAME = "fleetgate-agent";
/** esbuild's metafile of the bundle: every input file and every require left for the runtime. */
export const METAFILE_NAME = "fleetgate-agent.meta.json";

/** The version the agent reports, fixed at build time: the bundle has no package.json or .git beside it. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  return versionString(pkg.version, gitRevision(ROOT));
}

// The entry is bin/fleetgate-agent.js without its top-level await, which CommonJS cannot hold;
// main() reports every failure itself (shared/cli-exit.ts) and sets the exit status.
const ENTRY = `import { main } from "./dist/agent/cli/main.js";\nvoid main(process.argv);\n`;

// import.meta is empty in CommonJS output; this gives import.meta.url its true value, the
// bundle's own file (shared/version.ts reads it only when __FLEETGATE_VERSION__ is undefined).
const IMPORT_META_URL = 'const __fleetgate_import_meta_url = require("node:url").pathToFileURL(__filename).href;';

export interface Bundle {
  file: string;
  metafile: Metafile;
  version: string;
}

/**
 * Bundles the agent into `outDir`/fleetgate-agent.cjs (and its metafile), or throws naming each
 * input that must not be there (coordinator code, better-sqlite3, dev dependencies), each require
 * a single executable could not satisfy, and any esbuild warning.
 */
export async function bundleAgent(outDir: string): Promise<Bundle> {
  mkdirSync(outDir, { recursive: true });
  const version = packageVersion();
  const file = join(outDir, BUNDLE_NAME);
  const result = await build({
    stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: "fleetgate-agent-entry.js", loader: "js" },
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    outfile: file,
    banner: { js: `#!/usr/bin/env node\n${IMPORT_META_URL}` },
    define: { __FLEETGATE_VERSION__: JSON.stringify(version), "import.meta.url": "__fleetgate_import_meta_url" },
    metafile: true,
    logLevel: "silent",
  });
  const problems = result.warnings.map((w) => `esbuild: ${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ""}`);
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as PackageJson;
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as Lockfile;
  problems.push(...forbiddenInputs(Object.keys(result.metafile.inputs), forbiddenPackages(pkg, lock)));
  const externals = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  problems.push(...unloadableExternals(externals).map((m) => `require("${m}") is left in the bundle, and a single executable can require only Node's built-in modules`));
  writeFileSync(join(outDir, METAFILE_NAME), JSON.stringify(result.metafile));
  if (problems.length) {
    rmSync(file, { force: true }); // nobody ships a bundle that failed its check
    throw new Error(`the agent bundle is not clean:\n  ${problems.join("\n  ")}`);
  }
  chmodSync(file, 0o755);
  return { file, metafile: result.metafile, version };
}
