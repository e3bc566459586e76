// Which modules a CLI loads: a loader hook (node --import) writes each file URL the ESM loader
// resolves to stderr while the program runs. What a command loads, it pays for at start.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ModuleTracer {
  /** Every file URL resolved while `bin args…` ran (it may exit non-zero: what it loaded is what counts). */
  modulesLoadedBy(bin: string, args: string[]): string[];
  remove(): void;
}

export function moduleTracer(): ModuleTracer {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-modules-"));
  const hook = join(dir, "trace.mjs");
  writeFileSync(
    hook,
    `import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(\`
export async function resolve(s, c, next) { const r = await next(s, c); if (r.url.startsWith("file:")) process.stderr.write("LOADED " + r.url + "\\\\n"); return r; }
\`));
`,
  );
  return {
    modulesLoadedBy(bin, args) {
      const { stderr } = spawnSync(process.execPath, ["--import", hook, bin, ...args], { encoding: "utf8", timeout: 30_000 });
      return stderr
        .split("\n")
        .filter((l) => l.startsWith("LOADED "))
        .map((l) => l.slice("LOADED ".length));
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
