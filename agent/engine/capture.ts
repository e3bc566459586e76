// capture: named values pulled from a passing check's output, for later cross-node steps.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Capture } from "../../shared/model/check-schema.js";
import { RESULT_BUDGET } from "../../shared/model/limits.js";
import { tailWithin, utf8Bytes } from "../../shared/model/text-cut.js";
import { jsonPath } from "../checks/json-path.js";

/** Captured values are values, not evidence: keep them small (in UTF-8 bytes, as sent). */
const MAX_VALUE_BYTES = RESULT_BUDGET.capturedValueBytes;

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
        values[name] = tailWithin(text, MAX_VALUE_BYTES);
      }
      const bytes = utf8Bytes(values[name] as string);
      // A json or regex value cut short would be wrong where a later step uses it: refuse it
      // instead. (A file capture takes the end of the file, as it always has.)
      if (bytes > MAX_VALUE_BYTES) throw new Error(`value is ${bytes} bytes; a captured value may be at most ${MAX_VALUE_BYTES} (capture a narrower part)`);
    } catch (err) {
      throw new Error(`capture ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return values;
}
