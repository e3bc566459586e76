import { FleetgateError } from "../errors.js";

/** Values `${scope.name}` can refer to: `vars`, `env`, and, in cross stages, role captures. */
export type ExpansionScope = Record<string, Record<string, string | undefined>>;

const REF = /\$\{([A-Za-z_][\w-]*)\.([A-Za-z_][\w.-]*)\}/g;

function expandString(text: string, scope: ExpansionScope, where: string): string {
  return text.replace(REF, (_all, ns: string, name: string) => {
    const value = scope[ns]?.[name];
    if (value === undefined) {
      const known = scope[ns] ? Object.keys(scope[ns]).filter((k) => scope[ns]?.[k] !== undefined) : [];
      const hint =
        ns === "env"
          ? "set it in the agent's environment"
          : ns === "vars"
            ? `define it under vars:${known.length ? ` (defined: ${known.join(", ")})` : ""}`
            : `no step captured ${ns}.${name}`;
      throw new FleetgateError("bad_input", `${where}: \${${ns}.${name}} is undefined; ${hint}`);
    }
    return value;
  });
}

/** Deep-copies `value`, replacing every `${ns.name}` in its strings. Throws on an undefined one. */
export function expandVariables<T>(value: T, scope: ExpansionScope, where: string): T {
  if (typeof value === "string") return expandString(value, scope, where) as T;
  if (Array.isArray(value)) return value.map((v) => expandVariables(v, scope, where)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandVariables(v, scope, where)])) as T;
  }
  return value;
}

/**
 * Like expandVariables, but a reference with no value is left as written. For showing what will
 * run before it runs: `${env.X}` is the agent's environment and `${role.name}` a value captured
 * during the run, neither known yet.
 */
export function expandKnownVariables<T>(value: T, scope: ExpansionScope): T {
  if (typeof value === "string") return value.replace(REF, (all, ns: string, name: string) => scope[ns]?.[name] ?? all) as T;
  if (Array.isArray(value)) return value.map((v) => expandKnownVariables(v, scope)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandKnownVariables(v, scope)])) as T;
  }
  return value;
}
