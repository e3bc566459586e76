// `${env.X}` is the node's environment: a variable unset on one node is that node's state, not a
// bad suite, so the checks using it are not ready there and the others run. This module finds
// where each check uses one, so the message can point at it.
import { isMap, isSeq, visit, type Document } from "yaml";
import type { SourceRef } from "../errors.js";

/** One `${env.NAME}` written in check `checkId`. */
export interface EnvRef {
  name: string;
  checkId: string;
  precondition: boolean;
  where: SourceRef;
}

const ENV_REF = /\$\{env\.([A-Za-z_][\w.-]*)\}/g;

/** The env names `value` (a check's spec, any depth) refers to, in order, once each. */
export function envNamesIn(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === "string") for (const m of value.matchAll(ENV_REF)) out.add(m[1] as string);
  else if (Array.isArray(value)) for (const v of value) envNamesIn(v, out);
  else if (value && typeof value === "object") for (const v of Object.values(value)) envNamesIn(v, out);
  return out;
}

function position(text: string, offset: number, file: string): SourceRef {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { file, line, col: offset - before.lastIndexOf("\n") };
}

/** Every `${env.X}` in the preconditions and checks of a parsed suite document, with its line:col. */
export function findEnvRefs(doc: Document, text: string, file: string): EnvRef[] {
  const refs: EnvRef[] = [];
  for (const list of ["preconditions", "checks"] as const) {
    const seq = doc.get(list, true);
    if (!isSeq(seq)) continue;
    for (const item of seq.items) {
      if (!isMap(item)) continue;
      const checkId = String(item.get("id") ?? "");
      visit(item, {
        Scalar(_key, node) {
          if (typeof node.value !== "string" || !node.range) return;
          const [start, end] = node.range;
          const written = text.slice(start, end);
          for (const m of node.value.matchAll(ENV_REF)) {
            // Point at the reference itself; a quoted or escaped scalar may differ from its value.
            const at = written.indexOf(m[0]);
            refs.push({ name: m[1] as string, checkId, precondition: list === "preconditions", where: position(text, at >= 0 ? start + at : start, file) });
          }
        },
      });
    }
  }
  return refs;
}
