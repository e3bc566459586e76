// Reads `nginx -T` stdout: every config file nginx loaded, each after a
// "# configuration file PATH:" line, the main file first. Includes are followed the way nginx
// follows them, so a location kept in an included snippet still belongs to its server block.
import { dirname, join } from "node:path";
import { parseConfig, type Directive } from "./nginx-config.js";

export interface DumpedFile {
  path: string;
  text: string;
}

export interface FoundLocation {
  /** The words after `location`: ["/app/lnd/"], or ["=", "/health"]. */
  args: string[];
  proxyPass?: string;
  file: string;
  line: number;
  /** server_name values of the enclosing server; empty when nginx's main file did not reach it. */
  serverNames: string[];
}

const HEADER = /^# configuration file (.+):$/;

export function splitDump(stdout: string): DumpedFile[] {
  const files: { path: string; lines: string[] }[] = [];
  for (const line of stdout.split("\n")) {
    const header = HEADER.exec(line);
    if (header) files.push({ path: header[1] as string, lines: [] });
    else files.at(-1)?.lines.push(line);
  }
  return files.map((f) => ({ path: f.path, text: f.lines.join("\n") }));
}

interface Placed {
  directive: Directive;
  file: string;
}

interface Tree {
  parsed: Map<string, Directive[]>;
  confDir: string;
  reached: Set<string>;
}

// nginx expands `include` with glob(3), in sorted order, relative to the main file's folder.
function included(pattern: string, tree: Tree): string[] {
  const full = pattern.startsWith("/") ? pattern : join(tree.confDir, pattern);
  const source = full.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]").replace(/\[!/g, "[^");
  const re = new RegExp(`^${source}$`);
  return [...tree.parsed.keys()].filter((path) => re.test(path)).sort();
}

function expand(directives: Directive[], file: string, tree: Tree, depth = 0): Placed[] {
  return directives.flatMap((directive) => {
    if (directive.name !== "include" || directive.block || directive.args.length !== 1 || depth > 16) return [{ directive, file }];
    return included(directive.args[0] as string, tree).flatMap((path) => {
      tree.reached.add(path);
      return expand(tree.parsed.get(path) ?? [], path, tree, depth + 1);
    });
  });
}

function walk(items: Placed[], tree: Tree, serverNames: string[], out: FoundLocation[]): void {
  for (const { directive, file } of items) {
    if (!directive.block) continue;
    const children = expand(directive.block, file, tree);
    if (directive.name === "server") {
      const names = children.filter((c) => c.directive.name === "server_name").flatMap((c) => c.directive.args);
      walk(children, tree, names, out);
      continue;
    }
    if (directive.name === "location") {
      const proxyPass = children.find((c) => c.directive.name === "proxy_pass")?.directive.args[0];
      out.push({ args: directive.args, proxyPass, file, line: directive.line, serverNames });
    }
    walk(children, tree, serverNames, out);
  }
}

/** Every `location` in the dump, nested ones too; throws naming the file when one cannot be read. */
export function findLocations(files: DumpedFile[]): FoundLocation[] {
  const parsed = new Map<string, Directive[]>();
  for (const f of files) {
    try {
      parsed.set(f.path, parseConfig(f.text));
    } catch (err) {
      throw new Error(`${(err as Error).message} of ${f.path}`);
    }
  }
  const main = files[0]?.path;
  if (main === undefined) return [];
  const tree: Tree = { parsed, confDir: dirname(main), reached: new Set([main]) };
  const out: FoundLocation[] = [];
  walk(expand(parsed.get(main) ?? [], main, tree), tree, [], out);
  // A file the includes did not lead to (a prefix set with -p) is still read, server unknown.
  for (const [path, directives] of parsed) if (!tree.reached.has(path)) walk(expand(directives, path, tree), tree, [], out);
  return out;
}
