import { z } from "zod";
import { NumberBoundsSchema } from "../bounds.js";

/** `load:` — the load averages over 1, 5 and 15 minutes: `load1: { lte: 4 }`. */
export const LoadSpecSchema = z
  .strictObject({
    load1: NumberBoundsSchema.optional(),
    load5: NumberBoundsSchema.optional(),
    load15: NumberBoundsSchema.optional(),
  })
  .refine((l) => Object.values(l).some((v) => v !== undefined), { message: "a load check needs load1, load5 or load15" });
export type LoadSpec = z.infer<typeof LoadSpecSchema>;
