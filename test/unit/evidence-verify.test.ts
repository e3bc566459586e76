import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compareFiles } from "../../coordinator/evidence/compare.js";
import { sha256 } from "../../coordinator/evidence/manifest.js";
import { loadSigningKey } from "../../coordinator/evidence/signing.js";
import { sortedJson } from "../../coordinator/evidence/sorted-json.js";
import { writeBundle } from "../../coordinator/evidence/write.js";
import { coord } from "./evidence-cli.js";
import { StateDir } from "./evidence-fixture.js";

const H = (c: string) => sha256(c);

describe("compareFiles", () => {
  const expected = { "a.txt": H("a"), "b.txt": H("b"), "c.txt": H("c") };

  it("finds nothing when every file is there with its hash", () => {
    expect(compareFiles(expected, new Map(Object.entries(expected).map(([p, h]) => [p, { sha256: h }])))).toEqual([]);
  });

  it("reports each file changed, missing or added, in path order, one line each", () => {
    const observed = new Map([
      ["a.txt", { sha256: H("A") }],
      ["c.txt", { special: "symlink" as const }],
      ["d.txt", { sha256: H("d") }],
    ]);
    expect(compareFiles(expected, observed).map((p) => p.message)).toEqual([
      `changed: a.txt (sha256 ${H("A").slice(0, 12)}… on disk, ${H("a").slice(0, 12)}… in the manifest)`,
      "missing: b.txt (in the manifest, not on disk)",
      "changed: c.txt (a symlink on disk, a file in the manifest)",
      "added: d.txt (on disk, not in the manifest)",
    ]);
  });
});

describe("coord verify, keygen", () => {
  let s: StateDir;
  let keys: string;
  let dir: string;

  beforeEach(async () => {
    s = new StateDir();
    keys = mkdtempSync(join(tmpdir(), "fleetgate-keys-"));
    expect((await coord("keygen", "--out", keys)).code).toBe(0);
    s.addRun("r1");
    ({ dir } = await writeBundle(s.db, "r1", { root: s.root, signingKey: loadSigningKey(join(keys, "fleetgate-ed25519.key")) }));
  });

  afterEach(() => {
    s.close();
    rmSync(keys, { recursive: true, force: true });
  });

  const pub = () => join(keys, "fleetgate-ed25519.pub");

  it("says an untouched signed bundle is intact and exits 0", async () => {
    const r = await coord("verify", dir, "--key", pub());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^intact: run r1, 16 files match the manifest; signature good \(key sha256:[0-9a-f]{16}\); verdict INCOMPLETE\n$/);
  });

  it("catches one changed byte in a result and exits 1", async () => {
    const file = join(dir, "tasks/smoke/prim/1/echo.stdout.txt");
    writeFileSync(file, readFileSync(file, "utf8").replace("hi", "ho"));
    const r = await coord("verify", dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `changed: tasks/smoke/prim/1/echo.stdout.txt (sha256 ${H("ho\n").slice(0, 12)}… on disk, ${H("hi\n").slice(0, 12)}… in the manifest)\n` +
        `NOT INTACT: 1 problem in run r1 (${dir})\n`,
    );
  });

  it("catches a removed file and exits 1", async () => {
    unlinkSync(join(dir, "nodes/n1.json"));
    const r = await coord("verify", dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`missing: nodes/n1.json (in the manifest, not on disk)\nNOT INTACT: 1 problem in run r1 (${dir})\n`);
  });

  it("catches an added file and exits 1", async () => {
    writeFileSync(join(dir, "tasks/smoke/prim/1/extra.txt"), "planted\n");
    const r = await coord("verify", dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`added: tasks/smoke/prim/1/extra.txt (on disk, not in the manifest)\nNOT INTACT: 1 problem in run r1 (${dir})\n`);
  });

  it("refuses the signature under another key", async () => {
    const other = mkdtempSync(join(tmpdir(), "fleetgate-keys-"));
    try {
      await coord("keygen", "--out", other);
      const r = await coord("verify", dir, "--key", join(other, "fleetgate-ed25519.pub"));
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^signature: manifest\.sig does not match manifest\.json under key sha256:[0-9a-f]{16} \(manifest altered, or signed by another key\)\nNOT INTACT: 1 problem in run r1/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("catches a manifest altered to cover a changed file: the hashes agree, the signature does not", async () => {
    const file = "tasks/fleet/n1/1/result.json";
    const forged = readFileSync(join(dir, file), "utf8").replace("STATUS_PASSED", "STATUS_FAILED");
    writeFileSync(join(dir, file), forged);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { files: Record<string, string> };
    manifest.files[file] = H(forged);
    writeFileSync(join(dir, "manifest.json"), sortedJson(manifest));

    // Without the key, a consistent forgery passes: that is what signing is for.
    expect((await coord("verify", dir)).code).toBe(0);
    const r = await coord("verify", dir, "--key", pub());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("signature: manifest.sig does not match manifest.json");
  });

  it("reports a missing signature when a key is given", async () => {
    unlinkSync(join(dir, "manifest.sig"));
    const r = await coord("verify", dir, "--key", pub());
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toBe("signature: no manifest.sig; the coordinator that wrote this bundle had no --signing-key");
  });

  it("reports a directory without manifest as not a bundle, and a path that is no directory as bad input", async () => {
    unlinkSync(join(dir, "manifest.json"));
    expect(await coord("verify", dir)).toMatchObject({ code: 1, stdout: `missing: manifest.json (not an evidence bundle, or its write never finished)\nNOT INTACT: 1 problem in ${dir}\n` });
    expect(await coord("verify", join(dir, "nope"))).toMatchObject({ code: 3, stderr: expect.stringContaining("is not a directory") });
  });

  it("keygen writes the private key 0600 as PKCS8 PEM and the public key as SPKI PEM, and never overwrites them", async () => {
    expect(statSync(join(keys, "fleetgate-ed25519.key")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(keys, "fleetgate-ed25519.key"), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readFileSync(pub(), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const before = readFileSync(join(keys, "fleetgate-ed25519.key"));
    const again = await coord("keygen", "--out", keys);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("already exists");
    expect(readFileSync(join(keys, "fleetgate-ed25519.key"))).toEqual(before);
  });

  it("refuses a key that is not ed25519, naming the file", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const rsa = join(keys, "rsa.pub");
    writeFileSync(rsa, generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }));
    const r = await coord("verify", dir, "--key", rsa);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`${rsa} is a rsa key, not ed25519`);
  });
});
