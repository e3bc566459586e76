import type { PgIncomingEvent } from "./agent-events.js";

// The messages between a PgSyncDb (main thread) and its worker (sync-worker.ts), one request at a
// time: the main thread waits for each answer before it sends the next.

export type PgRequest =
  | { op: "open"; connection: PgConnectionSettings }
  | { op: "migrate" }
  /** `writes`: outside a transaction, a fenced connection runs it in one of its own (below). */
  | { op: "query"; text: string; values: unknown[]; rowMode: "object" | "array"; writes: boolean }
  /** From now on every transaction first checks that `lease` is still the active one's; undefined: no check. */
  | { op: "fence"; lease: Fence | undefined }
  /** Statements without parameters, several per text allowed (PostgreSQL's simple query protocol). */
  | { op: "exec"; text: string }
  /** Agent events recorded as one batch inside the open transaction (agent-events.ts recordAgentEventsPg); rows: one outcome each. */
  | { op: "recordEvents"; events: PgIncomingEvent[]; now: number }
  | { op: "begin" }
  | { op: "commit" }
  | { op: "rollback" }
  | { op: "close" };

export type PgResponse =
  | { ok: true; rows: unknown[]; rowCount: number }
  | { ok: false; error: PgFailure };

/** The lease this coordinator holds as the active one: its id and when it took the lead (coordinator_lease). */
export interface Fence {
  holder: string;
  acquiredAt: number;
}

export interface PgFailure {
  message: string;
  /** The fence's lease is no longer the active one's: this coordinator must not write. */
  fenced?: boolean;
  /** PostgreSQL's SQLSTATE when the server refused the statement. */
  sqlstate?: string;
  /** The connection is gone or could not be made: nothing about the statement itself. */
  unavailable: boolean;
}

export interface PgConnectionSettings {
  /** postgres://… (no password in it when it came from the command line: see store-settings.ts). */
  connectionString: string;
  password?: string;
  /** Shown in pg_stat_activity. */
  applicationName: string;
  /** How long a request waits for a connection to come back after it broke (a server restart). */
  reconnectMs: number;
  /** A statement running longer than this is cancelled by the server. */
  statementTimeoutMs: number;
}
