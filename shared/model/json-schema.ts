// JSON Schema for suites and plans, generated from the same zod definitions the parser uses,
// so editors (yaml-language-server) validate and complete exactly what the agent accepts.
import { z } from "zod";
import { PlanSchema } from "./plan.js";
import { SuiteSchema } from "./suite.js";

export const SCHEMA_TARGETS = { suite: SuiteSchema, plan: PlanSchema } as const;

export function jsonSchemaFor(target: keyof typeof SCHEMA_TARGETS): Record<string, unknown> {
  const schema = z.toJSONSchema(SCHEMA_TARGETS[target], { io: "input", unrepresentable: "any", cycles: "ref" });
  return { ...schema, title: `fleetgate ${target}` };
}
