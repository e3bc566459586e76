// A suite's `vars:` and the values given for them at run time (`--var k=v`, `--vars-file F`).
// A var is a plain value, or `{ value: …, secret: true }`: a secret one is redacted (***) from
// every result on the agent, like an `${env.X}` value. A secret is best left out of the suite
// (`token: { secret: true }`) and given at run time.
import { z } from "zod";
import { FleetgateError } from "../errors.js";
import { YamlSource } from "./yaml-source.js";

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const VarSchema = z.union([
  Scalar,
  z.strictObject({
    value: Scalar.optional(),
    secret: z.boolean().optional(),
    description: z.string().optional(),
  }),
]);
export const VarsSchema = z.record(z.string(), VarSchema);
export type VarsDef = z.infer<typeof VarsSchema>;

/** Values by name (a var declared with no value is absent) and the names that are secret. */
export interface ResolvedVars {
  vars: Record<string, string>;
  secretVars: string[];
}

export function resolveVars(def: VarsDef = {}): ResolvedVars {
  const vars: Record<string, string> = {};
  const secretVars: string[] = [];
  for (const [name, v] of Object.entries(def)) {
    if (typeof v === "object") {
      if (v.value !== undefined) vars[name] = String(v.value);
      if (v.secret) secretVars.push(name);
    } else vars[name] = String(v);
  }
  return { vars, secretVars };
}

/** `--var k=v` (repeatable) into `prev`; a name ending in `:secret` (`--var token:secret=…`) marks it secret. */
export function parseVarFlag(text: string, prev: ResolvedVars = { vars: {}, secretVars: [] }): ResolvedVars {
  const eq = text.indexOf("=");
  const key = eq > 0 ? text.slice(0, eq) : "";
  const secret = key.endsWith(":secret");
  const name = secret ? key.slice(0, -":secret".length) : key;
  if (!/^[A-Za-z_][\w.-]*$/.test(name)) {
    throw new FleetgateError("bad_input", `--var ${JSON.stringify(text)}: expected NAME=VALUE (or NAME:secret=VALUE), e.g. --var host=10.0.0.5`);
  }
  return { vars: { ...prev.vars, [name]: text.slice(eq + 1) }, secretVars: secret ? [...new Set([...prev.secretVars, name])] : prev.secretVars };
}

/** A `--vars-file`: a YAML map of name → value, or name → `{ value, secret: true }`. */
export function parseVarsFile(text: string, file: string): ResolvedVars {
  return resolveVars(YamlSource.parse(text, file).validate(VarsSchema));
}

/** Run-time values over the suite's own: `flags` win; secret if either says so. */
export function mergeVars(base: ResolvedVars, over: ResolvedVars): ResolvedVars {
  return { vars: { ...base.vars, ...over.vars }, secretVars: [...new Set([...base.secretVars, ...over.secretVars])] };
}

/**
 * The suite with run-time values over its own vars. Naming a var the suite does not declare is an
 * error when `strict` (a typo would otherwise change nothing, silently).
 */
export function withVars<S extends { file: string; vars: Record<string, string>; secretVars?: string[] }>(suite: S, over: ResolvedVars, strict: boolean): S {
  if (strict) {
    for (const name of Object.keys(over.vars)) {
      if (!(name in suite.vars) && !suite.secretVars?.includes(name)) {
        const known = [...new Set([...Object.keys(suite.vars), ...(suite.secretVars ?? [])])];
        throw new FleetgateError("bad_input", `--var ${name}: suite ${suite.file} declares no var "${name}"; ${known.length ? `vars: ${known.join(", ")}` : "it has no vars:"}`);
      }
    }
  }
  const merged = mergeVars({ vars: suite.vars, secretVars: suite.secretVars ?? [] }, over);
  return { ...suite, vars: merged.vars, secretVars: merged.secretVars };
}

/** What `--vars-file` and `--var` give, the flags over the file. */
export function runVars(flagVars: ResolvedVars | undefined, varsFile?: { text: string; file: string }): ResolvedVars {
  const fromFile = varsFile ? parseVarsFile(varsFile.text, varsFile.file) : { vars: {}, secretVars: [] };
  return mergeVars(fromFile, flagVars ?? { vars: {}, secretVars: [] });
}

export const VAR_FLAG_HELP = "set a var of the suite, overriding its value (repeatable); NAME:secret=VALUE also redacts it (***) from every result";
export const VARS_FILE_HELP = "YAML map of vars (NAME: VALUE, or NAME: { value: VALUE, secret: true }); --var wins over it";

/** Why `coord run` takes no secret var. */
export const RUN_VAR_SECRET_HINT =
  "a run's vars are stored with the run and shown in its reports; keep a secret on the node instead: set it in the agent's environment and use ${env.NAME}, which the agent redacts";

/**
 * Checked by the coordinator against the plan's suites: every var given is declared by a suite the
 * plan uses (a typo would change nothing, silently), and none is declared secret there.
 */
export function checkRunVars(vars: Record<string, string>, suites: Record<string, { vars: Record<string, string>; secretVars?: string[] }>): void {
  for (const name of Object.keys(vars)) {
    const declaring = Object.entries(suites).filter(([, s]) => name in s.vars || s.secretVars?.includes(name));
    if (!declaring.length) {
      const known = [...new Set(Object.values(suites).flatMap((s) => [...Object.keys(s.vars), ...(s.secretVars ?? [])]))].sort();
      throw new FleetgateError("bad_input", `--var ${name}: no suite of the plan declares a var "${name}"; ${known.length ? `vars: ${known.join(", ")}` : "its suites have no vars:"}`);
    }
    const secret = declaring.find(([, s]) => s.secretVars?.includes(name));
    if (secret) throw new FleetgateError("bad_input", `--var ${name}: suite ${secret[0]} declares it secret: ${RUN_VAR_SECRET_HINT}`);
  }
}
