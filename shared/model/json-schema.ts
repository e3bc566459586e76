// JSON Schema for suites and plans, generated from the same zod definitions the parser uses,
// so editors (yaml-language-server) validate and complete exactly what the agent accepts.
// Refinements do not carry over; the ones JSON Schema can say are added here (one kind per
// check, a precondition neither destructive nor followed by then:), the rest only the parser
// enforces (test/unit/malformed-suites.test.ts lists which).
import { z } from "zod";
import { ThenSchema } from "./check-schema.js";
import { KIND_NAMES } from "./kinds/index.js";
import { PlanSchema } from "./plan.js";
import { CheckSchema, SuiteSchema } from "./suite.js";

export const SCHEMA_TARGETS = { suite: SuiteSchema, plan: PlanSchema } as const;

const ONE_KIND = KIND_NAMES.map((k) => ({ required: [k] }));

/** A precondition only observes: `destructive: true` and `then:` are refused (suite.ts preconditionRules). */
function preconditionsObserveOnly(schema: Record<string, unknown>): void {
  const pre = (schema.properties as Record<string, Record<string, unknown>> | undefined)?.preconditions;
  if (pre?.items) pre.items = { allOf: [pre.items, { properties: { destructive: { const: false }, then: false } }] };
}

export function jsonSchemaFor(target: keyof typeof SCHEMA_TARGETS): Record<string, unknown> {
  const schema = z.toJSONSchema(SCHEMA_TARGETS[target], {
    io: "input",
    unrepresentable: "any",
    cycles: "ref",
    override: (ctx) => {
      if (ctx.zodSchema === CheckSchema || ctx.zodSchema === ThenSchema) ctx.jsonSchema.oneOf = ONE_KIND;
    },
  });
  if (target === "suite") preconditionsObserveOnly(schema as Record<string, unknown>);
  return { ...schema, title: `fleetgate ${target}` };
}
