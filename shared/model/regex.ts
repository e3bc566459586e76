import { z } from "zod";

/** A regular expression, compiled when the file is read: a bad one is an error at its line, not at run time. */
export const RegexSchema = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source, "m");
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, "")}` });
  }
});
