// A cross step may use `${role.name}`, a value an earlier step on that role's node captured. One
// that no earlier step captures would stop the run mid-stage ("needs ${origin.doc_id}, which no
// earlier step captured"); the plan is refused for it when read, at the reference.
import type { z } from "zod";
import { KIND_NAMES } from "./kinds/index.js";
import { didYouMean } from "./suggest.js";

type Step = { on?: string; parallel?: Step[]; capture?: Record<string, unknown> } & Record<string, unknown>;
type Path = (string | number)[];

const REF = /\$\{([A-Za-z_][\w-]*)\.([A-Za-z_][\w.-]*)\}/g;

function* strings(value: unknown, path: Path): Generator<[Path, string]> {
  if (typeof value === "string") yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, i]);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}

const VAR_REF = /\$\{vars\.[A-Za-z_][\w.-]*\}/g;

/**
 * Refines a plan's inline check (a cross step, a matrix leg or probe): a plan declares no vars,
 * so a `${vars.X}` there could never be given; refused here, at the reference, rather than in
 * the one-check suite generated from it, whose lines are not the plan's.
 */
export function refuseVarRefs(block: Record<string, unknown>, path: Path, ctx: z.RefinementCtx): void {
  for (const kind of KIND_NAMES) {
    for (const [at, text] of strings(block[kind], [...path, kind])) {
      for (const [ref] of text.matchAll(VAR_REF)) {
        ctx.addIssue({ code: "custom", path: at, message: `${ref}: a plan declares no vars; use the value, \${env.NAME} on the node, or a check in a suite that declares it` });
      }
    }
  }
}

/** Refines a cross stage: every `${role.name}` a step uses was captured by a step of an earlier group. */
export function checkCaptureRefs(steps: Step[], roles: string[], ctx: z.RefinementCtx): void {
  const captured = new Set<string>();
  steps.forEach((step, i) => {
    const group: [Step, Path][] = step.parallel ? step.parallel.map((s, j) => [s, ["steps", i, "parallel", j]]) : [[step, ["steps", i]]];
    // Steps of one group start together: none can use what another of the group captures.
    for (const [s, path] of group) {
      refuseVarRefs(s, path, ctx);
      for (const kind of KIND_NAMES) {
        for (const [at, text] of strings(s[kind], [...path, kind])) {
          for (const [ref, role, name] of text.matchAll(REF)) {
            if (!roles.includes(role as string) || captured.has(`${role}.${name}`)) continue;
            const known = [...captured].filter((c) => c.startsWith(`${role}.`)).map((c) => c.slice((role as string).length + 1));
            const soFar = known.length ? `captured on ${role} so far: ${known.join(", ")}${didYouMean(name as string, known)}` : `no earlier step on ${role} captures anything`;
            ctx.addIssue({ code: "custom", path: at, message: `${ref} is not captured by an earlier step (${soFar}); add capture: { ${name}: … } to a step on ${role} before this one` });
          }
        }
      }
    }
    for (const [s] of group) for (const name of Object.keys(s.capture ?? {})) if (s.on) captured.add(`${s.on}.${name}`);
  });
}
