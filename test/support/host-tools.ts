// Whether a program is on this host, and how to say it is missing. No test framework here: the
// multi-host harness and the bench use it outside vitest too.
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/** The executable `tool` names: itself when it is a path, else the first match on PATH. */
export function toolPath(tool: string, pathEnv = process.env.PATH ?? ""): string | undefined {
  const candidates = tool.includes("/") ? [tool] : pathEnv.split(delimiter).filter(isAbsolute).map((dir) => join(dir, tool));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The line for a missing program: what is missing and the package that ships it. */
export function missingTool(tool: string, debianPackage: string): string {
  return `${tool} not found; install it with: apt-get install -y ${debianPackage}`;
}
