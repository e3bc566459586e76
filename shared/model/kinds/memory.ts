import { z } from "zod";
import { NumberBoundsSchema } from "../bounds.js";
import { SizeBoundsSchema } from "../sizes.js";

/** `memory:` — the node's RAM: `available: { gte: 1GiB }`, `free`, `used_percent`. */
export const MemorySpecSchema = z
  .strictObject({
    available: SizeBoundsSchema.optional(),
    free: SizeBoundsSchema.optional(),
    used_percent: NumberBoundsSchema.optional(),
  })
  .refine((m) => Object.values(m).some((v) => v !== undefined), { message: "a memory check needs available, free or used_percent" });
export type MemorySpec = z.infer<typeof MemorySpecSchema>;
