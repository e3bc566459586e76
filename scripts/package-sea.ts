// The agent as one executable that needs no Node on the node: Node's single executable application
// (Node 20: `node --experimental-sea-config` writes a blob, postject injects it into a copy of the
// node binary). The copy is of the Node running this build, so it is that Node's platform and
// version; it needs only the C and C++ runtime libraries every Debian system has.
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { execa } from "execa";

/** The string Node's SEA support looks for in its own binary; postject flips its ":0" to ":1". */
export const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

export interface NodeBinary {
  path: string;
  platform: NodeJS.Platform;
  /** process.config.variables.node_shared: the binary is a stub over libnode.so. */
  sharedLibnode: boolean;
  /** Whether the binary holds the unblown fuse `${SEA_FUSE}:0`. */
  hasFuse: boolean;
}

/** Why this Node cannot become the agent executable; undefined when it can. */
export function seaUnsupported(node: NodeBinary): string | undefined {
  if (node.platform !== "linux") {
    return `fleetgate nodes run Linux, and the executable is a copy of the Node building it (${node.platform} here); build on Linux`;
  }
  if (node.sharedLibnode) {
    return `${node.path} is built against libnode.so (Debian's own nodejs package is), so a copy of it would need libnode on every node; build with Node 20 from nodejs.org or NodeSource (see the README)`;
  }
  if (!node.hasFuse) return `${node.path} has no ${SEA_FUSE}: this Node was built without single executable application support`;
  return undefined;
}

/** The Node running this script, as seaUnsupported needs it. */
export function thisNode(): NodeBinary {
  const variables = process.config.variables as { node_shared?: boolean };
  let hasFuse = false;
  try {
    hasFuse = readFileSync(process.execPath).includes(`${SEA_FUSE}:0`);
  } catch {
    // unreadable: seaUnsupported says it has no fuse
  }
  return { path: process.execPath, platform: process.platform, sharedLibnode: variables.node_shared === true, hasFuse };
}

/**
 * Makes `file` from `bundle`: the SEA blob (with V8's code cache, which starts it faster), injected
 * into a copy of this node binary; the file appears whole or not at all (written beside, then renamed).
 */
export async function buildExecutable(bundle: string, file: string): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "fleetgate-sea-"));
  const partial = `${file}.partial`;
  try {
    const blob = join(work, "agent.blob");
    const config = join(work, "sea-config.json");
    writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
    await execa(process.execPath, ["--experimental-sea-config", config], { stdin: "ignore" });
    copyFileSync(process.execPath, partial);
    chmodSync(partial, 0o755);
    // Node's release binaries carry their symbol tables: ~8 MiB of the copy no node needs (and
    // Debian policy 10.1 ships binaries stripped). binutils is here wherever better-sqlite3 builds.
    const stripped = await execa("strip", [partial], { reject: false, stdin: "ignore", all: true });
    if (stripped.exitCode !== 0) throw new Error(`strip ${partial} failed (install it with: apt-get install -y binutils):\n${String(stripped.all ?? stripped.message)}`);
    // postject's CLI in a child: its ELF library warns about each of node's many .note sections
    // ("Can't find string offset for section name '.note.100'"), harmless noise kept out of our output.
    const postject = createRequire(import.meta.url).resolve("postject/dist/cli.js");
    const injected = await execa(process.execPath, [postject, partial, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], { reject: false, stdin: "ignore", all: true });
    if (injected.exitCode !== 0) throw new Error(`postject could not inject the agent into ${partial}:\n${String(injected.all)}`);
    renameSync(partial, file);
  } finally {
    rmSync(partial, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
