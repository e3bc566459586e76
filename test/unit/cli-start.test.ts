// `coord` defines every command up front but imports what a command does when it runs, so a client
// command (or --help) does not load the server, the stores' drivers or the certificate code. This
// proves it by listing every module the ESM loader resolves while `coord` runs.
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { moduleTracer } from "../support/modules-loaded.js";

const COORD = resolve("bin/coord.js");
const tracer = moduleTracer();
afterAll(() => tracer.remove());

// Commands that cannot reach a coordinator exit non-zero; what they loaded is what counts.
const modulesLoadedBy = (args: string[]) => tracer.modulesLoadedBy(COORD, args);

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
