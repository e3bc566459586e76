import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { FileSpecSchema, type FileSpec } from "../../shared/model/kinds/file.js";
import { preview } from "../../shared/model/matchers.js";
import { formatSize } from "../../shared/model/sizes.js";
import { withDeadline } from "./deadline.js";
import type { CheckKind, Verdict } from "./kind.js";

// The files these checks read are small (/sys flags, configs); the cap keeps a mistaken path
// (a disk image) from filling the agent's memory. sha256 still hashes the whole file.
export const MAX_CONTENT_BYTES = 4 * 1024 * 1024;

export interface FileObserved {
  path: string;
  exists: boolean;
  /** Why the path could not be examined at all (EACCES, a timeout): existence unknown. */
  error?: string;
  /** Permission bits, e.g. 0o600. */
  mode?: number;
  /** The first MAX_CONTENT_BYTES, read only when contains or matches is asked. */
  content?: string;
  truncated?: boolean;
  sha256?: string;
  readError?: string;
}

const codeOf = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

async function readContent(path: string, keepText: boolean, hash: boolean): Promise<Partial<FileObserved>> {
  const digest = hash ? createHash("sha256") : undefined;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let truncated = false;
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      digest?.update(chunk);
      if (keepText) {
        const room = MAX_CONTENT_BYTES - keptBytes;
        if (chunk.length > room) truncated = true;
        kept.push(chunk.subarray(0, Math.max(0, room)));
        keptBytes += Math.min(chunk.length, Math.max(0, room));
      }
      if (truncated && !digest) break;
    }
  } catch (err) {
    return { readError: codeOf(err) };
  }
  return { content: keepText ? Buffer.concat(kept).toString("utf8") : undefined, truncated, sha256: digest?.digest("hex") };
}

async function examine(spec: FileSpec): Promise<FileObserved> {
  const path = spec.path;
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o7777;
  } catch (err) {
    const code = codeOf(err);
    return code === "ENOENT" || code === "ENOTDIR" ? { path, exists: false } : { path, exists: false, error: code };
  }
  const keepText = spec.contains !== undefined || spec.matches !== undefined;
  if (spec.exists === false || (!keepText && !spec.sha256)) return { path, exists: true, mode };
  return { path, exists: true, mode, ...(await readContent(path, keepText, spec.sha256 !== undefined)) };
}

const octal = (mode: number | undefined) => (mode ?? 0).toString(8).padStart(4, "0");
const fail = (summary: string): Verdict => ({ passed: false, summary });

function evaluateFile(spec: FileSpec, seen: FileObserved): Verdict {
  const p = spec.path;
  if (seen.error) return fail(`cannot examine ${p}: ${seen.error}`);
  if (spec.exists === false) return seen.exists ? fail(`expected ${p} to be absent, it exists`) : { passed: true, summary: `${p} is absent` };
  if (!seen.exists) return fail(`expected ${p} to exist, it does not`);
  const held = ["exists"];
  if (spec.mode !== undefined) {
    const want = parseInt(spec.mode, 8);
    if (seen.mode !== want) return fail(`expected ${p} mode ${octal(want)}, saw ${octal(seen.mode)}`);
    held.push(`mode ${octal(want)}`);
  }
  if (seen.readError) return fail(`cannot read ${p}: ${seen.readError}`);
  const content = seen.content ?? "";
  const partial = seen.truncated ? ` (read the first ${formatSize(MAX_CONTENT_BYTES)})` : "";
  if (spec.contains !== undefined) {
    if (!content.includes(spec.contains)) return fail(`expected ${p} to contain ${JSON.stringify(spec.contains)}, saw ${preview(content)}${partial}`);
    held.push(`contains ${JSON.stringify(spec.contains)}`);
  }
  if (spec.matches !== undefined) {
    if (!new RegExp(spec.matches, "m").test(content)) return fail(`expected ${p} to match /${spec.matches}/, saw ${preview(content)}${partial}`);
    held.push(`matches /${spec.matches}/`);
  }
  if (spec.sha256 !== undefined) {
    if (seen.sha256 !== spec.sha256.toLowerCase()) return fail(`expected ${p} sha256 ${spec.sha256.toLowerCase()}, saw ${seen.sha256}`);
    held.push("sha256 matches");
  }
  return { passed: true, summary: `${p}: ${held.join(", ")}` };
}

export const fileCheck: CheckKind<FileSpec, FileObserved> = {
  kind: "file",
  schema: FileSpecSchema,
  observe: (spec, ctx) => withDeadline(examine(spec), ctx.timeoutMs, () => ({ path: spec.path, exists: false, error: `timed out after ${ctx.timeoutMs} ms` })),
  evaluate: evaluateFile,
  // Metadata only: the content of a checked file (a key, a config with secrets) is not evidence.
  evidence: (seen) => ({ stdout: `${JSON.stringify({ ...seen, content: undefined, mode: seen.mode === undefined ? undefined : octal(seen.mode) })}\n`, stderr: "" }),
};
