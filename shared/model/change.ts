// A change file (`coord rollout --change`): how to record, apply and undo one change on a node, which
// stages of the gate plan judge it, and what holds it for a person (issue 18, after the cc-ci
// seed's record last-good → snapshot → apply → health gate → keep or restore). Steps are checks
// (one kind block, timeout, capture, user…) run in order on the node; a step's captures are what
// later phases need: `${facts.NAME}` (what the node ran before), `${snapshot.NAME}` (what the
// rollback restores from). Errors name file:line:col and the field.
import { z } from "zod";
import { commonCheckFields, IdSchema, requireOneKind, unknownKeyMessage, COMMON_FIELDS } from "./check-schema.js";
import { KIND_NAMES } from "./kinds/index.js";
import { userAppliesRule } from "./run-as.js";
import { didYouMean } from "./suggest.js";
import { YamlSource } from "./yaml-source.js";

const StepSchema = z
  .strictObject({ id: IdSchema, ...commonCheckFields() }, { error: unknownKeyMessage(["id", ...COMMON_FIELDS]) })
  .superRefine((step, ctx) => {
    requireOneKind(step, ctx);
    userAppliesRule(step, ctx);
  });
export type ChangeStep = z.infer<typeof StepSchema>;

const Steps = (what: string) => z.array(StepSchema).min(1, `${what} needs at least one step`);

/** A rule that holds a node for a person before anything touches it. */
const HoldRuleSchema = z.union([
  /** Held when the change's version: has a greater major than the node's fact of this name. */
  z.strictObject({ major_bump: z.string().min(1) }),
  /** Held when release.NAME is true (e.g. manual_migration, from the release notes). */
  z.strictObject({ flag: z.string().min(1) }),
]);
export type HoldRule = z.infer<typeof HoldRuleSchema>;

export const PHASES_WITH_STEPS = ["facts", "snapshot", "apply", "rollback"] as const;
export type StepPhase = (typeof PHASES_WITH_STEPS)[number];

const REF = /\$\{([A-Za-z_][\w-]*)\.([A-Za-z_][\w.-]*)\}/g;

function* strings(value: unknown, path: (string | number)[]): Generator<[(string | number)[], string]> {
  if (typeof value === "string") yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, i]);
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}

/**
 * Each phase may use what the phases before it captured, and a step what earlier steps of its own
 * phase captured: facts ⊂ snapshot ⊂ apply, rollback. `${env.X}` is the node's; anything else
 * would reach the node unreplaced and mean nothing there.
 */
function checkRefs(change: Partial<Record<StepPhase, ChangeStep[]>>, ctx: z.RefinementCtx): void {
  const captured: Record<"facts" | "snapshot", Set<string>> = { facts: new Set(), snapshot: new Set() };
  for (const phase of PHASES_WITH_STEPS) {
    (change[phase] ?? []).forEach((step, i) => {
      for (const kind of KIND_NAMES) {
        for (const [at, text] of strings(step[kind], [phase, i, kind])) {
          for (const [ref, ns, name] of text.matchAll(REF)) {
            if (ns === "env") continue;
            if (ns !== "facts" && ns !== "snapshot") {
              ctx.addIssue({ code: "custom", path: at, message: `${ref}: a change step may use \${env.NAME}, \${facts.NAME} and \${snapshot.NAME}` });
              continue;
            }
            const usable = ns === "facts" ? phase !== "facts" || captured.facts.has(name as string) : phase !== "facts";
            const known = [...captured[ns]];
            if (!usable || !captured[ns].has(name as string)) {
              const soFar = known.length ? `captured so far: ${known.join(", ")}${didYouMean(name as string, known)}` : `no ${ns} step before it captures anything`;
              ctx.addIssue({ code: "custom", path: at, message: `${ref} is not captured by an earlier ${ns} step (${soFar}); add capture: { ${name}: … } to a step under ${ns}:` });
            }
          }
        }
      }
      if (phase === "facts" || phase === "snapshot") for (const name of Object.keys(step.capture ?? {})) captured[phase].add(name);
    });
  }
}

const ChangeSchema = z
  .strictObject({
    change: IdSchema,
    description: z.string().optional(),
    /** The version this change installs; hold rules compare it with the node's facts. */
    version: z.union([z.string().min(1), z.number()]).transform(String).optional(),
    /** The release's metadata (e.g. from its release notes): flags hold rules read. */
    release: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    facts: z.array(StepSchema).optional(),
    snapshot: Steps("snapshot:"),
    apply: Steps("apply:"),
    rollback: Steps("rollback:"),
    gate: z.strictObject({
      stages: z.array(IdSchema).min(1, "gate: names at least one stage of the plan"),
      iterations: z.number().int().min(1).max(1000).optional(),
    }),
    hold: z.array(HoldRuleSchema).optional(),
  })
  .superRefine((c, ctx) => {
    for (const phase of PHASES_WITH_STEPS) {
      const seen = new Set<string>();
      (c[phase] ?? []).forEach((step, i) => {
        if (seen.has(step.id)) ctx.addIssue({ code: "custom", path: [phase, i, "id"], message: `duplicate step id "${step.id}" under ${phase}:` });
        seen.add(step.id);
      });
    }
    checkRefs(c, ctx);
    c.hold?.forEach((rule, i) => {
      if ("major_bump" in rule) {
        if (c.version === undefined) ctx.addIssue({ code: "custom", path: ["hold", i, "major_bump"], message: "major_bump compares the node's fact with version:, which this change does not declare; add version: \"X.Y.Z\"" });
        const facts = (c.facts ?? []).flatMap((s) => Object.keys(s.capture ?? {}));
        if (!facts.includes(rule.major_bump)) {
          ctx.addIssue({ code: "custom", path: ["hold", i, "major_bump"], message: `no facts: step captures "${rule.major_bump}" (facts: ${facts.join(", ") || "none"}${didYouMean(rule.major_bump, facts)}); the rule reads the node's current version from it` });
        }
      }
    });
  });

export interface Change {
  name: string;
  file: string;
  description?: string;
  version?: string;
  release: Record<string, string | number | boolean>;
  facts: ChangeStep[];
  snapshot: ChangeStep[];
  apply: ChangeStep[];
  rollback: ChangeStep[];
  gate: { stages: string[]; iterations?: number };
  hold: HoldRule[];
}

export function parseChange(text: string, file: string): Change {
  const def = YamlSource.parse(text, file).validate(ChangeSchema);
  return {
    name: def.change,
    file,
    description: def.description,
    version: def.version,
    release: def.release ?? {},
    facts: def.facts ?? [],
    snapshot: def.snapshot,
    apply: def.apply,
    rollback: def.rollback,
    gate: def.gate,
    hold: def.hold ?? [],
  };
}

/** `${facts.X}` and `${snapshot.X}` in a step's strings replaced by the values captured on the node. */
export function fillCaptured(step: ChangeStep, values: { facts: Record<string, string>; snapshot: Record<string, string> }): ChangeStep {
  const fill = (v: unknown): unknown => {
    if (typeof v === "string") return v.replace(REF, (ref, ns: string, name: string) => (ns === "facts" || ns === "snapshot" ? (values[ns][name] ?? ref) : ref));
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
    return v;
  };
  return fill(step) as ChangeStep;
}
