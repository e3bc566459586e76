// `coord` defines every command up front but imports what a command does when it runs, so a client
// command (or --help) does not load the server, the stores' drivers or the certificate code. This
// proves it by listing every module the ESM loader resolves while `coord` runs.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const COORD = resolve("bin/coord.js");
const dir = mkdtempSync(join(tmpdir(), "fleetgate-cli-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A loader hook that writes each resolved file URL to stderr (node --import runs it first).
const hook = join(dir, "trace.mjs");
writeFileSync(
  hook,
  `import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(\`
export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith("file:")) process.stderr.write("LOADED " + r.url + "\\\\n"); return r; }
\`));
`,
);

function modulesLoadedBy(args: string[]): string[] {
  // Commands that cannot reach a coordinator exit non-zero; what they loaded is what counts.
  const { stderr } = spawnSync(process.execPath, ["--import", hook, COORD, ...args], { encoding: "utf8", timeout: 30_000 });
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("LOADED "))
    .map((l) => l.slice("LOADED ".length));
}

// What only `coord serve` (or prune, keygen, report's renderers) needs.
const SERVER_ONLY = [/\/node_modules\/better-sqlite3\//, /\/node_modules\/pg\//, /\/node_modules\/node-forge\//, /\/node_modules\/pino\//, /\/node_modules\/prom-client\//, /\/node_modules\/execa\//, /\/node_modules\/fast-xml-parser\//, /\/dist\/coordinator\/server\/serve\.js$/, /\/dist\/coordinator\/store\/db\.js$/];

describe("coord's start", () => {
  it("loads the CLI's own modules and no server-only module for --version, --help and a client command", () => {
    for (const args of [["--version"], ["--help"], ["nodes", "list", "--coordinator", "127.0.0.1:1", "--insecure", "--token", "t"]]) {
      const loaded = modulesLoadedBy(args);
      expect(loaded.length, `coord ${args.join(" ")} loaded nothing the hook saw`).toBeGreaterThan(10);
      expect(loaded.some((u) => u.endsWith("/dist/coordinator/cli/main.js"))).toBe(true);
      const serverOnly = loaded.filter((u) => SERVER_ONLY.some((p) => p.test(u)));
      expect(serverOnly, `coord ${args.join(" ")}`).toEqual([]);
    }
  });
});
