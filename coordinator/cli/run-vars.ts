// `coord run --var NAME=VALUE` and `--vars-file FILE`: values over the vars of the plan's suites,
// stored with the run and sent with its tasks. The coordinator stores what it is sent, so a secret
// never goes this way: it stays on the node, as `${env.X}`, redacted there.
import { readFileSync } from "node:fs";
import { FleetgateError } from "../../shared/errors.js";
import { RUN_VAR_SECRET_HINT as SECRET_HINT, runVars, type ResolvedVars } from "../../shared/model/suite-vars.js";

export interface VarFlags {
  /** --var, parsed by parseVarFlag as commander reads them. */
  var?: ResolvedVars;
  varsFile?: string;
}

/** The vars given on the command line, `--var` over `--vars-file`; refuses secret ones. */
export function cliRunVars(flags: VarFlags): Record<string, string> {
  let file: { text: string; file: string } | undefined;
  if (flags.varsFile) {
    try {
      file = { text: readFileSync(flags.varsFile, "utf8"), file: flags.varsFile };
    } catch (err) {
      throw FleetgateError.from(err, "bad_input", `cannot read vars file ${flags.varsFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const vars = runVars(flags.var, file);
  if (vars.secretVars.length) throw new FleetgateError("bad_input", `var ${vars.secretVars.join(", ")} is marked secret: ${SECRET_HINT}`);
  return vars.vars;
}
