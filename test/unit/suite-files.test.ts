// Suite files (`files:`): collected beside the suite by coord run, checked again on both ends,
// unpacked into a per-task work dir on the node, where relative paths resolve.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectSuiteFiles, globMatches } from "../../shared/collect-suite-files.js";
import { MAX_SUITE_FILES_BYTES } from "../../shared/model/limits.js";
import { checkShippedFiles, sha256Hex, type ShippedFile } from "../../shared/model/suite-files.js";
import { parseSuite } from "../../shared/model/suite.js";
import { resolvePathsAt } from "../../agent/engine/relative-paths.js";
import { createWorkDir, removeStaleWorkDirs, removeWorkDir } from "../../agent/engine/work-dir.js";
import { refusal } from "../support/refusal.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fg-suite-files-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function put(rel: string, text: string, mode = 0o644): void {
  const path = join(dir, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
  chmodSync(path, mode);
}

function suiteWith(files: string): { file: string; text: string } {
  const text = `suite: s\nfiles: ${files}\nchecks:\n  - id: a\n    command: { argv: ["true"] }\n`;
  const file = join(dir, "gate.suite.yaml");
  writeFileSync(file, text);
  return { file, text };
}

function collect(files: string): ShippedFile[] {
  const { file, text } = suiteWith(files);
  return collectSuiteFiles(parseSuite(text, file), file);
}


describe("collecting a suite's files:", () => {
  beforeEach(() => {
    put("tests/lifecycle/apps.bats", "@test x { true; }\n");
    put("tests/lifecycle/helpers/common.bash", "h() { :; }\n");
    put("tests/lifecycle/.env", "A=1\n");
    put("tests/other/notes.txt", "n\n");
    put("bin/probe.sh", "#!/bin/sh\n", 0o755);
  });

  it("ships everything under a directory named by ** (dotfiles too), sorted, relative to the suite", () => {
    expect(collect("[tests/lifecycle/**]").map((f) => f.path)).toEqual(["tests/lifecycle/.env", "tests/lifecycle/apps.bats", "tests/lifecycle/helpers/common.bash"]);
  });

  it("matches * within one segment and ** across several", () => {
    expect(collect("['tests/*/*.bats']").map((f) => f.path)).toEqual(["tests/lifecycle/apps.bats"]);
    expect(collect("['tests/**/*.bash', 'tests/**/n?tes.txt']").map((f) => f.path)).toEqual(["tests/lifecycle/helpers/common.bash", "tests/other/notes.txt"]);
    expect(globMatches(["a", "**", "b"], ["a", "b"])).toBe(true);
    expect(globMatches(["a", "*"], ["a", "b", "c"])).toBe(false);
  });

  it("ships a plain directory whole and a plain file alone, keeping contents and the execute bit", () => {
    const files = collect("[tests/other, ./bin/probe.sh]");
    expect(files.map((f) => [f.path, f.executable])).toEqual([
      ["bin/probe.sh", true],
      ["tests/other/notes.txt", false],
    ]);
    expect(Buffer.from(files[1]?.content ?? []).toString()).toBe("n\n");
  });

  it("refuses a path that leaves the suite's directory, with its location, before reading anything", () => {
    const err = refusal(() => collect("[tests/lifecycle/**, ../etc/passwd]"));
    expect(err.message).toMatch(/gate\.suite\.yaml:2:\d+ files\[1\]: expected a path or glob inside the suite's directory, got a path that leaves the suite's directory \(\.\.\)/);
    expect(refusal(() => collect("[tests/../../x]")).message).toMatch(/leaves the suite's directory/);
    expect(refusal(() => collect("[/etc/hosts]")).message).toMatch(/files\[0\]: .*an absolute path/);
  });

  it("refuses an entry that matches nothing, naming it and where it is written", () => {
    const err = refusal(() => collect("[tests/lifecycle/**, tests/lifecycel/**]"));
    expect(err.message).toMatch(/gate\.suite\.yaml:2:\d+ files: tests\/lifecycel\/\*\* matches no file in /);
  });

  it("refuses files over MAX_SUITE_FILES_BYTES naming the suite and the limit", () => {
    put("big/blob.bin", "x".repeat(MAX_SUITE_FILES_BYTES));
    const err = refusal(() => collect("[big/**]"));
    expect(err.code).toBe("bad_input");
    expect(err.message).toMatch(/^suite .*gate\.suite\.yaml: files: come to \d+ bytes in 1 files, more than the 1\.5 MiB \(1572864 bytes\) one suite may ship with its task \(MAX_SUITE_FILES_BYTES in shared\/model\/limits\.ts.*largest: big\/blob\.bin 1\.5 MiB/);
  });
});

describe("checking files received (coordinator and agent trust no sender)", () => {
  const file = (path: string): ShippedFile => ({ path, content: new TextEncoder().encode("x"), executable: false });

  it("refuses escaping, absolute, unnormalized and duplicate paths, and a file that is another's directory", () => {
    expect(refusal(() => checkShippedFiles("s.yaml", [file("../x")])).message).toMatch(/suite s\.yaml: shipped file "\.\.\/x": a path that leaves/);
    expect(refusal(() => checkShippedFiles("s.yaml", [file("a/../../x")])).message).toMatch(/leaves/);
    expect(refusal(() => checkShippedFiles("s.yaml", [file("/etc/x")])).message).toMatch(/absolute/);
    expect(refusal(() => checkShippedFiles("s.yaml", [file("a//b")])).message).toMatch(/not normalized/);
    expect(refusal(() => checkShippedFiles("s.yaml", [file("a"), file("a")])).message).toMatch(/listed twice/);
    expect(refusal(() => checkShippedFiles("s.yaml", [file("a"), file("a/b")])).message).toMatch(/a is also the directory of a\/b/);
  });
});

describe("the work dir a task unpacks its files into", () => {
  const files: ShippedFile[] = [
    { path: "tests/lifecycle/apps.bats", content: new TextEncoder().encode("@test x { true; }\n"), executable: false },
    { path: "bin/probe.sh", content: new TextEncoder().encode("#!/bin/sh\necho ok\n"), executable: true },
  ];

  it("is a fresh 0700 dir holding each file with its content and execute bit", () => {
    const work = createWorkDir(join(dir, "work"), "s.yaml", files);
    expect(statSync(work).mode & 0o777).toBe(0o700);
    expect(statSync(join(work, "tests/lifecycle")).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(work, "tests/lifecycle/apps.bats"), "utf8")).toBe("@test x { true; }\n");
    expect(sha256Hex(readFileSync(join(work, "bin/probe.sh")))).toBe(sha256Hex(files[1]?.content ?? new Uint8Array()));
    expect(statSync(join(work, "bin/probe.sh")).mode & 0o777).toBe(0o700);
    expect(statSync(join(work, "tests/lifecycle/apps.bats")).mode & 0o777).toBe(0o600);
    const second = createWorkDir(join(dir, "work"), "s.yaml", []);
    expect(second).not.toBe(work);
    removeWorkDir(work);
    expect(existsSync(work)).toBe(false);
  });

  it("refuses a path that would land outside it, and leaves nothing behind", () => {
    const bad = [...files, { path: "../../escaped", content: new Uint8Array([1]), executable: false }];
    expect(() => createWorkDir(join(dir, "work"), "s.yaml", bad)).toThrow(/leaves the suite's directory/);
    expect(existsSync(join(dir, "escaped"))).toBe(false);
    expect(existsSync(join(dir, "work")) ? removeStaleWorkDirs(join(dir, "work")) : 0).toBe(0);
  });

  it("removes work dirs left by a killed agent when the next one starts", () => {
    createWorkDir(join(dir, "work"), "s.yaml", files);
    createWorkDir(join(dir, "work"), "s.yaml", files);
    expect(removeStaleWorkDirs(join(dir, "work"))).toBe(2);
    expect(removeStaleWorkDirs(join(dir, "work"))).toBe(0);
    expect(removeStaleWorkDirs(join(dir, "missing"))).toBe(0);
  });
});

describe("relative paths resolve against the base dir (the suite's dir, or the task's work dir)", () => {
  it("puts processes in cwd: under the base and opens relative paths from it; absolute paths stay", () => {
    const suite = parseSuite(
      `suite: s
checks:
  - id: bats
    bats: { file: tests/lifecycle/apps.bats }
  - id: cmd
    command: { argv: [./bin/probe.sh], cwd: sub }
    then: { file: { path: out.txt } }
  - id: abs
    command: { argv: ["true"], cwd: /srv }
  - id: f
    file: { path: conf/app.conf }
`,
      "s.yaml",
    );
    const [bats, cmd, abs, f] = suite.checks.map((c) => resolvePathsAt(c, "/w"));
    expect(bats?.spec).toMatchObject({ cwd: "/w", file: "tests/lifecycle/apps.bats" });
    expect(cmd?.spec).toMatchObject({ cwd: "/w/sub" });
    expect(cmd?.then?.spec).toMatchObject({ path: "/w/out.txt" });
    expect(abs?.spec).toMatchObject({ cwd: "/srv" });
    expect(f?.spec).toMatchObject({ path: "/w/conf/app.conf" });
  });
});

describe("coord run refuses a run request larger than one gRPC message before sending it", () => {
  it("names the limit and what takes the room", async () => {
    const { checkRequestSize, startRunRequest } = await import("../../coordinator/cli/run-flags.js");
    const big = (n: number): ShippedFile => ({ path: `data/${n}.bin`, content: new Uint8Array(1024 * 1024), executable: false });
    const files = { planYaml: "plan: p", suites: { "a.yaml": "suite: a", "b.yaml": "suite: b", "c.yaml": "suite: c" }, suiteFiles: { "a.yaml": [big(1), big(2)], "b.yaml": [big(3)], "c.yaml": [big(4)] } };
    const req = startRunRequest(["all"], { plan: "gate.yaml", node: [] }, files);
    const err = refusal(() => checkRequestSize(req, files));
    expect(err.message).toMatch(/^the plan, its suites and their files: come to \d+ bytes, more than the 4 MiB \(4194304 bytes\) one run request may carry \(MAX_GRPC_MESSAGE_BYTES .*largest: files of a\.yaml 2 MiB/);
    const small = { ...files, suiteFiles: { "a.yaml": [big(1)] } };
    expect(() => checkRequestSize(startRunRequest(["all"], { plan: "gate.yaml", node: [] }, small), small)).not.toThrow();
  });
});

describe("StartRun checks the files it is sent, whoever sent them", () => {
  const load = async () => {
    const { sentSuiteFiles } = await import("../../coordinator/runs/run-request.js");
    const { parsePlan } = await import("../../shared/model/plan.js");
    const plan = parsePlan("plan: p\nstages:\n  - { id: fleet, kind: fleet, suite: gate.yaml, nodes: { role: fleet } }\n", "p.yaml");
    const suites = { "gate.yaml": parseSuite("suite: g\nfiles: [tests/**]\nchecks:\n  - id: a\n    command: { argv: [\"true\"] }\n", "gate.yaml") };
    const sent = (path: string, files: ShippedFile[]) => ({ [path]: { $typeName: "fleetgate.v1.SuiteFiles" as const, files: files.map((f) => ({ $typeName: "fleetgate.v1.SuiteFile" as const, ...f })) } });
    return { sentSuiteFiles, plan, suites, sent };
  };
  const f = (path: string): ShippedFile => ({ path, content: new TextEncoder().encode("x"), executable: false });

  it("keeps the files of each suite the plan names, paths checked", async () => {
    const { sentSuiteFiles, plan, suites, sent } = await load();
    expect(Object.keys(sentSuiteFiles(plan, suites, sent("gate.yaml", [f("tests/a.bats")])))).toEqual(["gate.yaml"]);
    expect(() => sentSuiteFiles(plan, suites, sent("gate.yaml", [f("../../etc/cron.d/x")]))).toThrow(/suite gate\.yaml: shipped file "\.\.\/\.\.\/etc\/cron\.d\/x": a path that leaves the suite's directory/);
    expect(() => sentSuiteFiles(plan, suites, { ...sent("gate.yaml", [f("tests/a.bats")]), ...sent("other.yaml", [f("a")]) })).toThrow(/files were sent for suite other\.yaml, which plan p\.yaml does not name/);
  });

  it("refuses a suite that lists files: sent without them, instead of failing on every node", async () => {
    const { sentSuiteFiles, plan, suites } = await load();
    expect(() => sentSuiteFiles(plan, suites, {})).toThrow(/suite gate\.yaml lists files: but none were sent with the run/);
  });
});
