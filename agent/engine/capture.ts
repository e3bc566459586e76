// capture: named values pulled from a passing check's output, for later cross-node steps.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Capture } from "../../shared/model/check-schema.js";
import { jsonPath } from "../checks/json-path.js";

/** Captured files are values, not evidence: keep them small. */
const MAX_FILE_CAPTURE = 64 * 1024;

function fromJson(stdout: string, path: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new Error(`output is not JSON`);
  }
  const value = jsonPath(doc, path);
  if (value === undefined || value === null) throw new Error(`no value at ${path}`);
  return typeof value === "string" ? value : JSON.stringify(value);
}

function fromRegex(stdout: string, pattern: string): string {
  const m = new RegExp(pattern, "m").exec(stdout);
  if (!m) throw new Error(`/${pattern}/ does not match the output`);
  return m[1] ?? m[0];
}

/** Returns every captured value, or throws naming the one that could not be taken. */
export async function captureValues(capture: Capture, stdout: string, cwd: string | undefined): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const [name, how] of Object.entries(capture)) {
    try {
      if ("json" in how) values[name] = fromJson(stdout, how.json);
      else if ("regex" in how) values[name] = fromRegex(stdout, how.regex);
      else {
        const text = await readFile(resolve(cwd ?? ".", how.file), "utf8");
        values[name] = text.length > MAX_FILE_CAPTURE ? text.slice(-MAX_FILE_CAPTURE) : text;
      }
    } catch (err) {
      throw new Error(`capture ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return values;
}
