// Pure: the one place a check process's command line is composed from what the check asks and
// what the node has — its CPU and memory limits (prlimit) and the user it runs as (setpriv) —
// with the environment that goes with it. process.ts spawns exactly what this returns.
//
//   prlimit --cpu=… --data=… -- setpriv --reuid=… … -- ARGV
//
// prlimit outside: it sets the limits and execs setpriv, which switches user and execs the
// check, so the limits hold for the user's processes too (lowering limits needs no privilege).
import { NO_LIMITS, type ProcessLimits } from "../shared/model/check-limits.js";
import { limitedArgv } from "./limits/prlimit.js";
import type { RunAs } from "./run-as/resolve.js";
import { runAsArgv, runAsEnv } from "./run-as/setpriv.js";

export interface CommandLineInput {
  argv: string[];
  /** The check's own `env:`. */
  env?: Record<string, string>;
  limits?: ProcessLimits;
  runAs?: RunAs;
}

export interface CommandLine {
  argv: string[];
  /** The variables to add to the agent's (extendEnv), or, with extendEnv false, the whole environment. */
  env?: Record<string, string>;
  extendEnv: boolean;
  /** The limits that hold: none where prlimit is missing. */
  limits: ProcessLimits;
  /** A wrapper execs the command: its 126/127 is a failure to start (prlimit.ts wrapperExecFailure). */
  wrapped: boolean;
}

export function checkCommandLine(input: CommandLineInput, prlimit: string | null, agentEnv: NodeJS.ProcessEnv): CommandLine {
  const asUser = input.runAs?.setpriv ? runAsArgv(input.runAs.setpriv, input.runAs.user, input.argv) : input.argv;
  const limited = input.limits && prlimit ? limitedArgv(prlimit, input.limits, asUser) : asUser;
  const limits = input.limits && prlimit ? input.limits : NO_LIMITS;
  const wrapped = limited !== input.argv;
  // Run as another user: its own environment, composed whole (setpriv.ts says what it holds).
  if (input.runAs?.setpriv) return { argv: limited, env: runAsEnv(input.runAs.user, agentEnv, input.env), extendEnv: false, limits, wrapped };
  return { argv: limited, env: input.env, extendEnv: true, limits, wrapped };
}
