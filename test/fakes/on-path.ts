// Fake tools first on this process's PATH, for checks whose observe() starts the real program
// name: call onPathEachTest() in a describe block, then install fakes in a test or beforeEach.
// After each test the fakes are removed and PATH is put back.
import { afterEach } from "vitest";
import { mergeIntoProcessEnv } from "./process-env.js";
import { fakeTools, type FakeTools, type ReplayRule } from "./scenario.js";

export function onPathEachTest(): (tools: string[], rules: ReplayRule[]) => FakeTools {
  const undo: (() => void)[] = [];
  afterEach(() => {
    for (const u of undo.splice(0).reverse()) u();
  });
  return (tools, rules) => {
    const fakes = fakeTools(tools, rules);
    undo.push(() => fakes.cleanup(), mergeIntoProcessEnv(fakes.env));
    return fakes;
  };
}
