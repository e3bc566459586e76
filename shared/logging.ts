import { pino, destination, type Logger } from "pino";

/**
 * pino JSON logs on stderr (stdout belongs to human output and `--json`). Stable keys:
 * node, run, stage, check, seq — pass them in child loggers, never inside messages.
 */
export function createLogger(component: string, level = process.env.FLEETGATE_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { component } }, destination({ fd: 2, sync: true }));
}

export type { Logger };
