import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };
import { FLEETGATE_VERSION, gitRevision, releaseOf, versionString } from "../../shared/version.js";

describe("fleetgate's version", () => {
  it("is package.json's version, with the git revision as build metadata in a checkout", () => {
    expect(releaseOf(FLEETGATE_VERSION)).toBe(pkg.version);
    expect(FLEETGATE_VERSION).toMatch(new RegExp(`^${pkg.version.replace(/\./g, "\\.")}(\\+g[0-9a-f]{7})?$`));
  });

  it("reads a loose ref, a packed ref and a detached HEAD without running git", () => {
    const root = mkdtempSync(join(tmpdir(), "fg-version-"));
    mkdirSync(join(root, ".git/refs/heads"), { recursive: true });
    const sha = "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b";
    writeFileSync(join(root, ".git/HEAD"), "ref: refs/heads/main\n");
    writeFileSync(join(root, ".git/refs/heads/main"), `${sha}\n`);
    expect(gitRevision(root)).toBe(sha);
    writeFileSync(join(root, ".git/HEAD"), "ref: refs/heads/packed\n");
    writeFileSync(join(root, ".git/packed-refs"), `# pack-refs with: peeled\n${sha} refs/heads/packed\n`);
    expect(gitRevision(root)).toBe(sha);
    writeFileSync(join(root, ".git/HEAD"), `${sha}\n`);
    expect(gitRevision(root)).toBe(sha);
    expect(gitRevision(join(root, "nowhere"))).toBeUndefined();
    expect(versionString("0.2.0", sha)).toBe("0.2.0+g1a2b3c4");
    expect(versionString("0.2.0", undefined)).toBe("0.2.0");
  });
});
