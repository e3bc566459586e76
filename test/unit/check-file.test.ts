import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDeadline } from "../../agent/checks/deadline.js";
import { fileCheck, MAX_CONTENT_BYTES } from "../../agent/checks/file.js";
import { FileSpecSchema, type FileSpec } from "../../shared/model/kinds/file.js";

const SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-file-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `content` to a fresh file in the temp dir with `mode`, returning its path. */
function file(name: string, content: string | Buffer, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

const check = async (spec: FileSpec) => fileCheck.evaluate(spec, await fileCheck.observe(spec, { timeoutMs: 5000, maxOutputBytes: 4096 }));

describe("fileCheck on real files", () => {
  it("passes when the file contains the text, as the nested-KVM probe asks", async () => {
    const path = file("nested-y", "Y\n", 0o444);
    expect(await check({ path, contains: "Y" })).toEqual({ passed: true, summary: `${path}: exists, contains "Y"` });
  });

  it("fails with what the file holds when the text is missing", async () => {
    const path = file("nested-n", "N\n", 0o444);
    expect(await check({ path, contains: "Y" })).toEqual({ passed: false, summary: `expected ${path} to contain "Y", saw "N\\n"` });
  });

  it("compares permission bits written as octal", async () => {
    const path = file("secret", "k", 0o600);
    expect((await check({ path, mode: "0600" })).passed).toBe(true);
    expect((await check({ path, mode: "600" })).passed).toBe(true);
    expect(await check({ path, mode: "0644" })).toEqual({ passed: false, summary: `expected ${path} mode 0644, saw 0600` });
  });

  it("matches a regex line by line", async () => {
    const path = file("conf", "a=1\nnested=1\nb=2\n");
    expect((await check({ path, matches: "^nested=1$" })).passed).toBe(true);
    expect((await check({ path, matches: "^nested=0$" })).summary).toBe(`expected ${path} to match /^nested=0$/, saw "a=1\\nnested=1\\nb=2\\n"`);
  });

  it("compares the sha256 of the content, in either case of hex", async () => {
    const path = file("abc", "abc");
    expect((await check({ path, sha256: SHA256_ABC.toUpperCase() })).passed).toBe(true);
    const other = file("abd", "abd");
    expect((await check({ path: other, sha256: SHA256_ABC })).summary).toMatch(new RegExp(`^expected ${other} sha256 ${SHA256_ABC}, saw [0-9a-f]{64}$`));
  });

  it("fails on a missing path, and with exists: false passes on it and fails on a present one", async () => {
    const missing = join(dir, "no-such-file");
    expect(await check({ path: missing })).toEqual({ passed: false, summary: `expected ${missing} to exist, it does not` });
    expect(await check({ path: missing, exists: false })).toEqual({ passed: true, summary: `${missing} is absent` });
    const present = file("present", "");
    expect(await check({ path: present, exists: false })).toEqual({ passed: false, summary: `expected ${present} to be absent, it exists` });
  });

  it("counts a path below a regular file as absent", async () => {
    const path = join(file("plain", "x"), "child");
    expect((await check({ path, exists: false })).passed).toBe(true);
  });

  it("fails to read the content of a directory with the error code", async () => {
    const path = join(dir, "a-dir");
    mkdirSync(path);
    expect(await check({ path, contains: "x" })).toEqual({ passed: false, summary: `cannot read ${path}: EISDIR` });
  });

  it("reads at most MAX_CONTENT_BYTES for contains and says so, but hashes the whole file", async () => {
    const big = Buffer.concat([Buffer.alloc(MAX_CONTENT_BYTES, "a"), Buffer.from("NEEDLE")]);
    const path = file("big", big);
    expect((await check({ path, contains: "NEEDLE" })).summary).toMatch(/ \(read the first 4 MiB\)$/);
    expect((await check({ path, sha256: createHash("sha256").update(big).digest("hex") })).passed).toBe(true);
  });

  it("keeps metadata, never the content, as evidence", async () => {
    const path = file("token", "s3cret\n", 0o600);
    const seen = await fileCheck.observe({ path, contains: "s3cret" }, { timeoutMs: 5000, maxOutputBytes: 4096 });
    expect(JSON.parse(fileCheck.evidence(seen).stdout)).toEqual({ path, exists: true, mode: "0600", truncated: false });
  });
});

describe("file timeouts", () => {
  it("reports a path that could not be examined in time as an error, not as absent", () => {
    const v = fileCheck.evaluate({ path: "/mnt/nfs/flag", exists: false }, { path: "/mnt/nfs/flag", exists: false, error: "timed out after 5000 ms" });
    expect(v).toEqual({ passed: false, summary: "cannot examine /mnt/nfs/flag: timed out after 5000 ms" });
  });

  it("withDeadline settles with the late value when the work never finishes", async () => {
    expect(await withDeadline(new Promise<string>(() => {}), 20, () => "late")).toBe("late");
    expect(await withDeadline(Promise.resolve("done"), 1000, () => "late")).toBe("done");
  });
});

describe("file schema", () => {
  it("refuses an unquoted mode, which YAML reads as a decimal number", () => {
    const r = FileSpecSchema.safeParse({ path: "/x", mode: 600 });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('write mode as a quoted octal string, like \\"0600\\"');
    expect(FileSpecSchema.safeParse({ path: "/x", mode: "0800" }).success).toBe(false);
  });

  it("refuses a bad regex, a sha256 that is not 64 hex digits, and fields it does not know (owner)", () => {
    expect(FileSpecSchema.safeParse({ path: "/x", matches: "(" }).success).toBe(false);
    expect(FileSpecSchema.safeParse({ path: "/x", sha256: "abc" }).success).toBe(false);
    expect(FileSpecSchema.safeParse({ path: "/x", owner: "root" }).success).toBe(false);
  });
});
