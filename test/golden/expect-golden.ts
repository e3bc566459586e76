// Golden files: a report must match test/golden/NAME byte for byte. When a change to a report is
// intended, rewrite them with `UPDATE_GOLDEN=1 npx vitest run test/unit/reports-*.test.ts` and
// review the diff like code.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

const DIR = fileURLToPath(new URL(".", import.meta.url));

export function expectGolden(name: string, actual: string): void {
  const file = join(DIR, name);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
  if (!existsSync(file)) throw new Error(`no golden file ${file}; create it with: UPDATE_GOLDEN=1 npx vitest run test/unit/reports-*.test.ts`);
  expect(actual, `differs from ${file}; if intended: UPDATE_GOLDEN=1 npx vitest run test/unit/reports-*.test.ts`).toBe(readFileSync(file, "utf8"));
}
