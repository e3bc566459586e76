// Pure: the files a suite ships with its task (`files:`), and the rules for them, applied where
// they are collected (coord run), received (the coordinator's StartRun) and unpacked (the agent):
// paths relative to the suite's directory that never leave it, within MAX_SUITE_FILES_BYTES.
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { z } from "zod";
import { FleetgateError, type SourceRef } from "../errors.js";
import { fieldBytes, MAX_GRPC_MESSAGE_BYTES, MAX_SUITE_FILE_PATH_BYTES, MAX_SUITE_FILES, MAX_SUITE_FILES_BYTES } from "./limits.js";
import { formatSize } from "./sizes.js";

/** One `files:` entry, a path or glob as written, and where it is written. */
export interface FilesEntry {
  pattern: string;
  where: SourceRef;
}

/** One file a suite ships: its path relative to the suite's directory, `/`-separated. */
export interface ShippedFile {
  path: string;
  content: Uint8Array;
  /** The owner's execute bit: a shipped helper script stays runnable. */
  executable: boolean;
}

/** What the evidence keeps of a shipped file: never its content, always its hash. */
export interface ShippedFileHash {
  path: string;
  sha256: string;
  bytes: number;
  executable: boolean;
}

/** Why `path` cannot name a shipped file, or undefined: relative, normalized, inside the suite's directory. */
export function shippedPathProblem(path: string): string | undefined {
  if (path === "") return "an empty path";
  if (path.includes("\0")) return "a NUL byte in the path";
  if (Buffer.byteLength(path) > MAX_SUITE_FILE_PATH_BYTES) return `a path longer than ${MAX_SUITE_FILE_PATH_BYTES} bytes`;
  if (path.startsWith("/")) return "an absolute path; files: are relative to the suite's directory";
  if (path.includes("\\")) return "a backslash; separate directories with /";
  const segments = path.split("/");
  if (segments.includes("..")) return "a path that leaves the suite's directory (..); keep the files beside the suite, or move the suite up";
  if (segments.some((s) => s === "" || s === ".")) return "a path that is not normalized (an empty or . segment)";
  return undefined;
}

/** `files:` entries as a suite writes them: `./` and `a//b` are tidied, `..` and absolute paths refused. */
export const FilesSchema = z.array(
  z
    .string()
    .min(1)
    .transform((p) => posix.normalize(p).replace(/\/$/, ""))
    .superRefine((p, ctx) => {
      const problem = shippedPathProblem(p === "." ? "" : p);
      if (problem) ctx.addIssue({ code: "custom", message: `expected a path or glob inside the suite's directory, got ${problem}` });
    }),
);

/** Bytes the files take encoded in a Task, as MAX_SUITE_FILES_BYTES counts them. */
export function shippedBytes(files: readonly ShippedFile[]): number {
  return files.reduce((n, f) => n + fieldBytes(fieldBytes(Buffer.byteLength(f.path)) + fieldBytes(f.content.length) + 2), 0);
}

export function sha256Hex(content: Uint8Array): string {
  return createHash("sha256").update(content).digest("hex");
}

export function hashShipped(files: readonly ShippedFile[]): ShippedFileHash[] {
  return files.map((f) => ({ path: f.path, sha256: sha256Hex(f.content), bytes: f.content.length, executable: f.executable }));
}

/** The refusal for files over the limit, the same wherever it is found. */
export function tooManyBytesError(suite: string, bytes: number, count: number, largest: readonly { path: string; bytes: number }[]): FleetgateError {
  const top = [...largest].sort((a, b) => b.bytes - a.bytes).slice(0, 3).map((f) => `${f.path} ${formatSize(f.bytes)}`);
  return new FleetgateError(
    "bad_input",
    `suite ${suite}: files: come to ${bytes} bytes in ${count} files, more than the ${formatSize(MAX_SUITE_FILES_BYTES)} (${MAX_SUITE_FILES_BYTES} bytes) one suite may ship with its task ` +
      `(MAX_SUITE_FILES_BYTES in shared/model/limits.ts: a task must fit in one ${formatSize(MAX_GRPC_MESSAGE_BYTES)} gRPC message)` +
      `${top.length ? `; largest: ${top.join(", ")}` : ""}; install large files on the node instead`,
  );
}

/**
 * Throws bad_input, naming the suite, unless `files` may be shipped: each path valid and unique,
 * none a directory of another, at most MAX_SUITE_FILES of them within MAX_SUITE_FILES_BYTES.
 */
export function checkShippedFiles(suite: string, files: readonly ShippedFile[]): void {
  if (files.length > MAX_SUITE_FILES) {
    throw new FleetgateError("bad_input", `suite ${suite}: files: match ${files.length} files, more than the ${MAX_SUITE_FILES} one suite may ship (MAX_SUITE_FILES in shared/model/limits.ts)`);
  }
  const paths = new Set<string>();
  for (const f of files) {
    const problem = shippedPathProblem(f.path);
    if (problem) throw new FleetgateError("bad_input", `suite ${suite}: shipped file ${JSON.stringify(f.path)}: ${problem}`);
    if (paths.has(f.path)) throw new FleetgateError("bad_input", `suite ${suite}: shipped file ${f.path} is listed twice`);
    paths.add(f.path);
  }
  for (const path of paths) {
    for (let dir = posix.dirname(path); dir !== "."; dir = posix.dirname(dir)) {
      if (paths.has(dir)) throw new FleetgateError("bad_input", `suite ${suite}: shipped file ${dir} is also the directory of ${path}`);
    }
  }
  const bytes = shippedBytes(files);
  if (bytes > MAX_SUITE_FILES_BYTES) throw tooManyBytesError(suite, bytes, files.length, files.map((f) => ({ path: f.path, bytes: f.content.length })));
}
