import { z } from "zod";
import { RegexSchema } from "../regex.js";

/** `file:` — a path's existence, permission bits and content. */
export const FileSpecSchema = z.strictObject({
  path: z.string().min(1),
  /** false asserts the path is absent. */
  exists: z.boolean().optional(),
  // A string, because YAML reads an unquoted 0600 as the decimal number 600.
  mode: z
    .string({ error: 'write mode as a quoted octal string, like "0600"' })
    .regex(/^[0-7]{3,4}$/, { message: 'expected an octal mode like "0600" or "644"' })
    .optional(),
  contains: z.string().optional(),
  matches: RegexSchema.optional(),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, { message: "expected 64 hex digits" }).optional(),
});
export type FileSpec = z.infer<typeof FileSpecSchema>;
