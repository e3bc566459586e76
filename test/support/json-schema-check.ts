// A small JSON Schema (2020-12) checker for the keywords z.toJSONSchema emits for suites and
// plans, so a test can ask "does the published schema refuse this file?" without a validator
// dependency. Keywords it does not know are ignored (accepting more, never refusing more).

type Schema = boolean | Record<string, unknown>;

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const typeMatches = (want: string, v: unknown) => want === typeOf(v) || (want === "number" && typeOf(v) === "integer");

/** True when `value` is valid against `schema`; `root` holds the $defs that $ref points into. */
export function jsonSchemaAccepts(schema: Schema, value: unknown, root: Record<string, unknown> = schema as Record<string, unknown>): boolean {
  if (typeof schema === "boolean") return schema;
  const s = schema;
  if (typeof s.$ref === "string") {
    const target = s.$ref === "#" ? root : (s.$ref.replace(/^#\//, "").split("/").reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], root) as Schema);
    if (!jsonSchemaAccepts(target, value, root)) return false;
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => typeMatches(t, value))) return false;
  }
  if (s.const !== undefined && JSON.stringify(s.const) !== JSON.stringify(value)) return false;
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return false;
  if (Array.isArray(s.anyOf) && !s.anyOf.some((o) => jsonSchemaAccepts(o as Schema, value, root))) return false;
  if (Array.isArray(s.oneOf) && s.oneOf.filter((o) => jsonSchemaAccepts(o as Schema, value, root)).length !== 1) return false;
  if (Array.isArray(s.allOf) && !s.allOf.every((o) => jsonSchemaAccepts(o as Schema, value, root))) return false;
  if (typeof value === "string") {
    if (typeof s.minLength === "number" && [...value].length < s.minLength) return false;
    if (typeof s.maxLength === "number" && [...value].length > s.maxLength) return false;
    if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(value)) return false;
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) return false;
    if (typeof s.maximum === "number" && value > s.maximum) return false;
    if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) return false;
    if (typeof s.exclusiveMaximum === "number" && value >= s.exclusiveMaximum) return false;
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) return false;
    if (typeof s.maxItems === "number" && value.length > s.maxItems) return false;
    if (s.items !== undefined && !value.every((v) => jsonSchemaAccepts(s.items as Schema, v, root))) return false;
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    if (Array.isArray(s.required) && !s.required.every((k) => k in obj)) return false;
    for (const [k, v] of Object.entries(obj)) {
      if (k in props) {
        if (!jsonSchemaAccepts(props[k] as Schema, v, root)) return false;
      } else if (s.additionalProperties !== undefined && !jsonSchemaAccepts(s.additionalProperties as Schema, v, root)) return false;
      if (s.propertyNames !== undefined && !jsonSchemaAccepts(s.propertyNames as Schema, k, root)) return false;
    }
  }
  return true;
}
