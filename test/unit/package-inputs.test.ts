import { describe, expect, it } from "vitest";
import { forbiddenInputs, forbiddenPackages, packageKeyOfInput, unloadableExternals, type Lockfile } from "../../scripts/package-inputs.js";

// A lockfile shaped like ours: better-sqlite3 shares one package with the agent's dependencies
// and needs another alone; postject (dev) carries its own older commander beside the agent's.
const LOCK: Lockfile = {
  packages: {
    "": {},
    "node_modules/commander": {},
    "node_modules/pino": { dependencies: { "safe-stable-stringify": "^2" } },
    "node_modules/safe-stable-stringify": {},
    "node_modules/better-sqlite3": { dependencies: { bindings: "^1", "safe-stable-stringify": "^2" } },
    "node_modules/bindings": { dependencies: { "file-uri-to-path": "1" } },
    "node_modules/file-uri-to-path": {},
    "node_modules/postject": { dev: true, dependencies: { commander: "^9" } },
    "node_modules/postject/node_modules/commander": { dev: true },
    "node_modules/vitest": { dev: true },
  },
};
const PKG = { dependencies: { commander: "^14", pino: "^9", "better-sqlite3": "^12" }, devDependencies: { postject: "1", vitest: "3", esbuild: "0.28" } };
const FORBIDDEN = forbiddenPackages(PKG, LOCK);

describe("what the one-file agent may contain", () => {
  it("finds each coordinator file, better-sqlite3 and what only it needs, and dev packages, saying why", () => {
    const found = forbiddenInputs(
      [
        "dist/agent/cli/main.js",
        "dist/coordinator/store/db.js",
        "node_modules/better-sqlite3/lib/index.js",
        "node_modules/file-uri-to-path/index.js",
        "node_modules/vitest/dist/index.js",
        "node_modules/esbuild/lib/main.js",
      ],
      FORBIDDEN,
    );
    expect(found).toEqual([
      "dist/coordinator/store/db.js: coordinator code",
      "node_modules/better-sqlite3/lib/index.js: better-sqlite3 is the coordinator's store",
      "node_modules/file-uri-to-path/index.js: file-uri-to-path is needed only by better-sqlite3, the coordinator's store",
      "node_modules/vitest/dist/index.js: vitest is a dev dependency",
      "node_modules/esbuild/lib/main.js: esbuild is a dev dependency",
    ]);
  });

  it("accepts the agent's own files and a package better-sqlite3 shares with the agent's dependencies", () => {
    expect(forbiddenInputs(["<stdin>", "dist/agent/cli/main.js", "dist/shared/version.js", "node_modules/pino/pino.js", "node_modules/safe-stable-stringify/index.js"], FORBIDDEN)).toEqual([]);
  });

  it("tells a production package from a dev-only copy of it nested under a dev dependency", () => {
    expect(forbiddenInputs(["node_modules/commander/index.js"], FORBIDDEN)).toEqual([]);
    expect(forbiddenInputs(["node_modules/postject/node_modules/commander/index.js"], FORBIDDEN)).toEqual([
      "node_modules/postject/node_modules/commander/index.js: commander is a dev dependency",
    ]);
  });

  it("keys an input by its innermost package's install path, scoped or not, wherever node_modules really is", () => {
    expect(packageKeyOfInput("node_modules/@grpc/grpc-js/build/src/index.js")).toBe("node_modules/@grpc/grpc-js");
    expect(packageKeyOfInput("node_modules/a/node_modules/@s/b/lib/x.js")).toBe("node_modules/a/node_modules/@s/b");
    expect(packageKeyOfInput("../../srv/checkout/node_modules/better-sqlite3/lib/index.js")).toBe("node_modules/better-sqlite3");
    expect(packageKeyOfInput("dist/agent/cli/main.js")).toBeUndefined();
  });

  it("refuses a require() left for anything but a Node built-in", () => {
    expect(unloadableExternals(["fs", "node:fs", "http2", "osx-temperature-sensor", "better-sqlite3", "pino-pretty", "fs"])).toEqual(["better-sqlite3", "osx-temperature-sensor", "pino-pretty"]);
  });
});
