import { z } from "zod";
import { DURATION_PATTERN, parseDuration } from "../durations.js";
import { KIND_NAMES, KIND_SCHEMAS, type KindName } from "./kinds/index.js";
import { YamlSource } from "./yaml-source.js";

export const DEFAULT_CHECK_TIMEOUT = "60s";

export const DurationSchema = z.string().regex(DURATION_PATTERN, { message: "expected a duration like 500ms, 30s, 5m, 1h" });
const Id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: "ids use letters, digits, '.', '_' and '-'" });

const CHECK_FIELDS = ["id", "timeout", "retry", "destructive", "tags", "hint"] as const;

const kindBlocks = Object.fromEntries(KIND_NAMES.map((k) => [k, KIND_SCHEMAS[k].optional()])) as {
  [K in KindName]: z.ZodOptional<(typeof KIND_SCHEMAS)[K]>;
};

export const CheckSchema = z
  .strictObject(
    {
      id: Id,
      timeout: DurationSchema.optional(),
      // Eventually-semantics: keep trying until it passes or the window closes.
      retry: z.strictObject({ for: DurationSchema, every: DurationSchema.optional() }).optional(),
      destructive: z.boolean().optional(),
      tags: z.array(z.string()).optional(),
      hint: z.string().optional(),
      ...kindBlocks,
    },
    {
      error: (iss) =>
        iss.code === "unrecognized_keys"
          ? `unknown check kind or field "${iss.keys[0]}"; kinds: ${KIND_NAMES.join(", ")}; fields: ${CHECK_FIELDS.join(", ")}`
          : undefined,
    },
  )
  .superRefine((check, ctx) => {
    const kinds = KIND_NAMES.filter((k) => check[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: kinds.length
          ? `a check has exactly one kind block, found ${kinds.join(" and ")}`
          : `a check needs one kind block: ${KIND_NAMES.join(", ")}`,
      });
    }
  });
export type CheckDef = z.infer<typeof CheckSchema>;

export const SuiteSchema = z
  .strictObject({
    suite: Id,
    description: z.string().optional(),
    vars: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    preconditions: z.array(CheckSchema).optional(),
    checks: z.array(CheckSchema).min(1, "a suite needs at least one check"),
  })
  .superRefine((suite, ctx) => {
    const seen = new Map<string, string>();
    for (const list of ["preconditions", "checks"] as const) {
      (suite[list] ?? []).forEach((c, i) => {
        const first = seen.get(c.id);
        if (first) ctx.addIssue({ code: "custom", path: [list, i, "id"], message: `duplicate id "${c.id}", first used at ${first}` });
        else seen.set(c.id, `${list}[${i}]`);
      });
    }
  });
export type SuiteDef = z.infer<typeof SuiteSchema>;

/** A check ready to run: its kind and block pulled out, durations in ms. */
export interface ResolvedCheck {
  id: string;
  kind: KindName;
  spec: unknown;
  precondition: boolean;
  timeoutMs: number;
  retry?: { forMs: number; everyMs: number };
  destructive: boolean;
  tags: string[];
  hint?: string;
}

export interface Suite {
  name: string;
  file: string;
  description?: string;
  vars: Record<string, string>;
  preconditions: ResolvedCheck[];
  checks: ResolvedCheck[];
}

function resolveCheck(def: CheckDef, precondition: boolean): ResolvedCheck {
  const kind = KIND_NAMES.find((k) => def[k] !== undefined) as KindName;
  return {
    id: def.id,
    kind,
    spec: def[kind],
    precondition,
    timeoutMs: parseDuration(def.timeout ?? DEFAULT_CHECK_TIMEOUT),
    retry: def.retry ? { forMs: parseDuration(def.retry.for), everyMs: parseDuration(def.retry.every ?? "5s") } : undefined,
    destructive: def.destructive ?? false,
    tags: def.tags ?? [],
    hint: def.hint,
  };
}

/** Parses and validates a suite; every problem is reported with file:line:col. */
export function parseSuite(text: string, file: string): Suite {
  const source = YamlSource.parse(text, file);
  const def = source.validate(SuiteSchema);
  return {
    name: def.suite,
    file,
    description: def.description,
    vars: Object.fromEntries(Object.entries(def.vars ?? {}).map(([k, v]) => [k, String(v)])),
    preconditions: (def.preconditions ?? []).map((c) => resolveCheck(c, true)),
    checks: def.checks.map((c) => resolveCheck(c, false)),
  };
}
