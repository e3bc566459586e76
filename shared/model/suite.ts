import { z } from "zod";
import { parseDuration } from "../durations.js";
import { FleetgateError } from "../errors.js";
import { resolveLimits, type CheckLimits, type LimitsDef } from "./check-limits.js";
import { COMMON_FIELDS, commonCheckFields, DurationSchema, IdSchema, kindsOf, requireOneKind, ThenSchema, unknownKeyMessage, type Capture } from "./check-schema.js";
import { KIND_NAMES, type KindName } from "./kinds/index.js";
import { findEnvRefs, type EnvRef } from "./env-refs.js";
import { resolveVars, VarsSchema } from "./suite-vars.js";
import { MAX_CHECKS_PER_SUITE, MAX_SUITE_CONCURRENCY } from "./limits.js";
import { FilesSchema, type FilesEntry } from "./suite-files.js";
import { findRefs, undefinedVarProblems, type VarRef } from "./var-refs.js";
import { problemsError, YamlSource } from "./yaml-source.js";
import { runsPrograms, userAppliesRule, userKey, UserSchema, type UserDef } from "./run-as.js";

export const DEFAULT_CHECK_TIMEOUT = "60s";

export { DurationSchema };

const CHECK_FIELDS = ["id", ...COMMON_FIELDS, "serial", "then"] as const;

export const CheckSchema = z
  .strictObject(
    {
      id: IdSchema,
      ...commonCheckFields(),
      /** Runs alone, at its place in the declared order: nothing else of the suite runs while it does. */
      serial: z.boolean().optional(),
      then: ThenSchema.optional(),
    },
    { error: unknownKeyMessage(CHECK_FIELDS) },
  )
  .superRefine((check, ctx) => {
    requireOneKind(check, ctx);
    userAppliesRule(check, ctx);
  });
export type CheckDef = z.infer<typeof CheckSchema>;

export const SuiteSchema = z
  .strictObject({
    suite: IdSchema,
    description: z.string().optional(),
    /** Paths or globs beside the suite, shipped with its task to the node (shared/model/suite-files.ts). */
    files: FilesSchema.optional(),
    /** name: value, or name: { value, secret: true } (shared/model/suite-vars.ts). */
    vars: VarsSchema.optional(),
    /** The user the programs of its checks run as, unless a check says its own (shared/model/run-as.ts). */
    user: UserSchema.optional(),
    /** At most this many of its checks run at once (the agent's --concurrency may lower it); 1: one after the other. */
    concurrency: z
      .number({ error: (iss) => (typeof iss.input === "string" ? `expected a whole number of checks, like 4, got "${iss.input}"` : undefined) })
      .int({ message: "expected a whole number of checks, like 4" })
      .min(1, { message: `expected 1 to ${MAX_SUITE_CONCURRENCY} (1 runs the checks one after the other)` })
      .max(MAX_SUITE_CONCURRENCY, { message: `expected 1 to ${MAX_SUITE_CONCURRENCY} (1 runs the checks one after the other)` })
      .optional(),
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
    preconditionRules(suite.preconditions ?? [], ctx);
  });
export type SuiteDef = z.infer<typeof SuiteSchema>;

/** A precondition only asks whether the node can be judged: it changes nothing and has no follow-up. */
function preconditionRules(preconditions: CheckDef[], ctx: z.RefinementCtx): void {
  preconditions.forEach((c, i) => {
    if (c.destructive) {
      ctx.addIssue({ code: "custom", path: ["preconditions", i, "destructive"], message: "a precondition only observes and cannot be destructive: true; move this check under checks:" });
    }
    if (c.then) {
      ctx.addIssue({ code: "custom", path: ["preconditions", i, "then"], message: "then: follows a check that changed something; a precondition only observes, so move this check under checks:" });
    }
  });
}

/** A follow-up or retried block, ready to run: kind and spec pulled out, durations in ms. */
export interface ResolvedBlock {
  kind: KindName;
  spec: unknown;
  timeoutMs: number;
  retry?: { forMs: number; everyMs: number };
  /** CPU and memory limits of its processes where the block sets them; the agent's default otherwise. */
  limits?: CheckLimits;
  /**
   * The user its programs run as: its check's user:, else its suite's. Only on kinds that run a
   * program (run-as.ts PROGRAM_KINDS); absent, they run as the agent.
   */
  user?: string;
}

/** A check ready to run. */
export interface ResolvedCheck extends ResolvedBlock {
  id: string;
  precondition: boolean;
  destructive: boolean;
  /** Runs alone: nothing else of its suite in flight while it runs. Absent: false. */
  serial?: boolean;
  tags: string[];
  hint?: string;
  capture?: Capture;
  then?: ResolvedBlock;
}

export interface Suite {
  name: string;
  file: string;
  description?: string;
  /** `concurrency:` as written; absent: the agent's bound (agent/engine/run-suite.ts suiteConcurrency). */
  concurrency?: number;
  vars: Record<string, string>;
  preconditions: ResolvedCheck[];
  checks: ResolvedCheck[];
  /** `files:` as written, each with where it is written; absent or empty: the suite ships none. */
  files?: FilesEntry[];
  /** Where each check uses `${env.X}`: an unset one makes that check not ready on the node, with this location. */
  envRefs?: EnvRef[];
  /** Where each check uses a `${ns.X}`: a var given no value is refused with this location. */
  varRefs?: VarRef[];
  /** Vars whose values are redacted (***) from every result, like ${env.X} values. */
  secretVars?: string[];
}

type BlockDef = { timeout?: string; retry?: { for: string; every?: string }; limits?: LimitsDef } & Partial<Record<KindName, unknown>>;

/** `user` is the one the block inherits (its check's, else its suite's); kept only where it applies. */
export function resolveBlock(def: BlockDef, user?: UserDef): ResolvedBlock {
  const kind = kindsOf(def)[0] as KindName;
  return {
    ...(user !== undefined && runsPrograms(kind) ? { user: userKey(user) } : {}),
    kind,
    spec: def[kind],
    timeoutMs: parseDuration(def.timeout ?? DEFAULT_CHECK_TIMEOUT),
    retry: def.retry ? { forMs: parseDuration(def.retry.for), everyMs: parseDuration(def.retry.every ?? "5s") } : undefined,
    ...(def.limits ? { limits: resolveLimits(def.limits) } : {}),
  };
}

/** `suiteUser`: the suite's user:, which the check's own replaces (and its then: inherits). */
export function resolveCheck(def: CheckDef, precondition: boolean, suiteUser?: UserDef): ResolvedCheck {
  const user = def.user ?? suiteUser;
  return {
    ...resolveBlock(def, user),
    id: def.id,
    precondition,
    destructive: def.destructive ?? false,
    serial: def.serial ?? false,
    tags: def.tags ?? [],
    hint: def.hint,
    capture: def.capture,
    then: def.then ? resolveBlock(def.then, user) : undefined,
  };
}

/** Parses and validates a suite; every problem is reported with file:line:col. */
export function parseSuite(text: string, file: string): Suite {
  const source = YamlSource.parse(text, file);
  const def = source.validate(SuiteSchema);
  const varRefs = findRefs(source, KIND_NAMES);
  const undefinedVars = undefinedVarProblems(varRefs, def.vars ?? {});
  if (undefinedVars.length) throw problemsError(undefinedVars);
  const count = (def.preconditions?.length ?? 0) + def.checks.length;
  if (count > MAX_CHECKS_PER_SUITE) {
    throw new FleetgateError("bad_input", `${count} checks and preconditions, more than the ${MAX_CHECKS_PER_SUITE} one suite may have (shared/model/limits.ts); split it into several suites`, source.where(["checks"]));
  }
  return {
    name: def.suite,
    file,
    description: def.description,
    ...(def.concurrency !== undefined ? { concurrency: def.concurrency } : {}),
    ...resolveVars(def.vars),
    preconditions: (def.preconditions ?? []).map((c) => resolveCheck(c, true, def.user)),
    checks: def.checks.map((c) => resolveCheck(c, false, def.user)),
    files: (def.files ?? []).map((pattern, i) => ({ pattern, where: source.where(["files", i]) })),
    envRefs: findEnvRefs(source.doc, text, file),
    varRefs,
  };
}
