// `${vars.X}` is the suite's own input: one it does not define is a mistake in the file, refused
// when the suite is read, at the reference itself (`suite.yaml:12:18 checks[0].command.argv[1]`),
// rather than when a node expands it and only the check id is left to say where.
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { closest, didYouMean } from "./suggest.js";
import type { PathKey, Problem, YamlSource } from "./yaml-source.js";

const VAR_REF = /\$\{vars\.([A-Za-z_][\w.-]*)\}/g;
// Any reference; one whose namespace is a slip for vars or env (`${var.host}`) would otherwise
// reach the node as an unknown capture, or be left as written.
const ANY_REF = /\$\{([A-Za-z_][\w-]*)\.([A-Za-z_][\w.-]*)\}/g;

/** Every string under `node`, with its path. */
function* strings(node: unknown, path: PathKey[]): Generator<[PathKey[], string]> {
  if (isScalar(node)) {
    if (typeof node.value === "string") yield [path, node.value];
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) yield* strings(item, [...path, i]);
  } else if (isMap(node)) {
    for (const pair of node.items) if (isScalar(pair.key)) yield* strings(pair.value, [...path, String(pair.key.value)]);
  }
}

/** `${vars.X}` the suite's checks use but its `vars:` does not define (and `${var.X}` slips), each where it is written. */
export function undefinedVarProblems(source: YamlSource, kinds: readonly string[], vars: Record<string, unknown>): Problem[] {
  const defined = Object.keys(vars);
  const list = defined.length ? `vars: ${defined.join(", ")}` : "the suite has no vars:";
  const problems: Problem[] = [];
  for (const section of ["preconditions", "checks"]) {
    const seq = source.doc.get(section, true);
    if (!isSeq(seq)) continue;
    seq.items.forEach((check, i) => {
      if (!isMap(check)) return;
      // Only what is expanded: the kind blocks of the check and of its `then:`.
      const blocks: [PathKey[], Node | undefined][] = kinds.map((k) => [[section, i, k], check.get(k, true) as Node | undefined]);
      const then = check.get("then", true);
      if (isMap(then)) for (const k of kinds) blocks.push([[section, i, "then", k], then.get(k, true) as Node | undefined]);
      for (const [base, block] of blocks) {
        if (!block) continue;
        for (const [path, text] of strings(block, base)) {
          for (const [ref, ns, name] of text.matchAll(ANY_REF)) {
            const meant = ns === "vars" || ns === "env" ? undefined : closest(ns as string, ["vars", "env"]);
            if (!meant) continue;
            const message = `${ref}: a suite's references are \${vars.NAME} and \${env.NAME}; did you mean \${${meant}.${name}}?`;
            problems.push({ where: source.whereIn(path, ref), path: source.problem(path, "").path, message });
          }
          for (const m of text.matchAll(VAR_REF)) {
            const name = m[1] as string;
            if (name in vars) continue;
            const where = source.whereIn(path, m[0]);
            problems.push({ where, path: source.problem(path, "").path, message: `${m[0]} is not defined (${list}${didYouMean(name, defined)})` });
          }
        }
      }
    });
  }
  return problems;
}
