// `${vars.X}` is the suite's own input: one it does not define is a mistake in the file, refused
// when the suite is read, at the reference itself (`suite.yaml:12:18 checks[0].command.argv[1]`),
// rather than when a node expands it and only the check id is left to say where.
import { isMap, isScalar, isSeq, type Node } from "yaml";
import { FleetgateError, type SourceRef } from "../errors.js";
import { closest, didYouMean } from "./suggest.js";
import { formatPath, type PathKey, type Problem, type YamlSource } from "./yaml-source.js";

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

/** One `${ns.name}` written in a check's kind block (or its `then:`'s), where it is written. */
export interface VarRef {
  ref: string;
  ns: string;
  name: string;
  checkId: string;
  precondition: boolean;
  /** `checks[0].command.argv[1]` */
  path: string;
  where: SourceRef;
}

/** Every reference in the suite's checks: only what is expanded, the kind blocks of a check and of its `then:`. */
export function findRefs(source: YamlSource, kinds: readonly string[]): VarRef[] {
  const refs: VarRef[] = [];
  for (const section of ["preconditions", "checks"]) {
    const seq = source.doc.get(section, true);
    if (!isSeq(seq)) continue;
    seq.items.forEach((check, i) => {
      if (!isMap(check)) return;
      const checkId = String(check.get("id") ?? "");
      const blocks: [PathKey[], Node | undefined][] = kinds.map((k) => [[section, i, k], check.get(k, true) as Node | undefined]);
      const then = check.get("then", true);
      if (isMap(then)) for (const k of kinds) blocks.push([[section, i, "then", k], then.get(k, true) as Node | undefined]);
      for (const [base, block] of blocks) {
        if (!block) continue;
        for (const [path, text] of strings(block, base)) {
          for (const [ref, ns, name] of text.matchAll(ANY_REF)) {
            const at = { where: source.whereIn(path, ref), path: formatPath(path) };
            refs.push({ ref, ns: ns as string, name: name as string, checkId, precondition: section === "preconditions", ...at });
          }
        }
      }
    });
  }
  return refs;
}

/** `${vars.X}` the suite's checks use but its `vars:` does not define (and `${var.X}` slips), each where it is written. */
export function undefinedVarProblems(refs: readonly VarRef[], vars: Record<string, unknown>): Problem[] {
  const defined = Object.keys(vars);
  const list = defined.length ? `vars: ${defined.join(", ")}` : "the suite has no vars:";
  const problems: Problem[] = [];
  for (const r of refs) {
    const meant = r.ns === "vars" || r.ns === "env" ? undefined : closest(r.ns, ["vars", "env"]);
    if (meant) problems.push({ where: r.where, path: r.path, message: `${r.ref}: a suite's references are \${vars.NAME} and \${env.NAME}; did you mean \${${meant}.${r.name}}?` });
    if (r.ns === "vars" && !(r.name in vars)) problems.push({ where: r.where, path: r.path, message: `${r.ref} is not defined (${list}${didYouMean(r.name, defined)})` });
  }
  return problems;
}

/**
 * A `${vars.X}` declared without a value (`token: { secret: true }`) and given none at run time,
 * as a located error: the first such reference in `check`, or undefined when every one has a value.
 */
export function unvaluedVarError(refs: readonly VarRef[] | undefined, vars: Record<string, string>, check: { id: string; precondition: boolean }): FleetgateError | undefined {
  const r = refs?.find((x) => x.ns === "vars" && x.checkId === check.id && x.precondition === check.precondition && vars[x.name] === undefined);
  if (!r) return undefined;
  return new FleetgateError("bad_input", `${r.path}: ${r.ref} is undefined: the suite declares it without a value; give it with --var ${r.name}=VALUE or --vars-file`, r.where);
}
