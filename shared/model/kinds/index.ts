// Every check kind's declared-expectation schema, by the key that names it in a suite.
// Observing and evaluating live in agent/checks/, one file per kind.
import { CommandSpecSchema } from "./command.js";
import { HttpSpecSchema } from "./http.js";
import { QuadletSpecSchema } from "./quadlet.js";
import { SystemdSpecSchema } from "./systemd.js";

export const KIND_SCHEMAS = {
  command: CommandSpecSchema,
  http: HttpSpecSchema,
  systemd: SystemdSpecSchema,
  quadlet: QuadletSpecSchema,
} as const;

export type KindName = keyof typeof KIND_SCHEMAS;
export const KIND_NAMES = Object.keys(KIND_SCHEMAS) as KindName[];
