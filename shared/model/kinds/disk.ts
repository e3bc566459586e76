import { z } from "zod";
import { NumberBoundsSchema } from "../bounds.js";
import { SizeBoundsSchema } from "../sizes.js";

/** `disk:` — room on the filesystem that holds a path: `free: { gte: 10GiB }`, `used_percent: { lte: 90 }`. */
export const DiskSpecSchema = z
  .strictObject({
    path: z.string().min(1),
    free: SizeBoundsSchema.optional(),
    used_percent: NumberBoundsSchema.optional(),
  })
  .refine((d) => d.free !== undefined || d.used_percent !== undefined, { message: "a disk check needs free or used_percent" });
export type DiskSpec = z.infer<typeof DiskSpecSchema>;
