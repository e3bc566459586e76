// Every refusal the coordinator makes, in one place: a hello refused (credential, conflict, limits),
// an event for a task not sent to that node, a control call with a bad or too weak token, bytes
// that were not gRPC, a message over the size limit. Each is one pino warn line, a count by kind,
// and a row of the recent ones; `coord refusals` shows both. Bounded, so a flood cannot fill the
// disk: rows are written at most once a second in one transaction and only the newest
// REFUSALS_KEPT are kept, and log lines are capped per kind and minute (the rest only counted).
import type { ErrorCode } from "../../shared/errors.js";
import type { Logger } from "../../shared/logging.js";
import { REFUSAL_LOG_LINES_PER_MINUTE, REFUSAL_TEXT_BYTES, REFUSALS_KEPT } from "../../shared/model/limits.js";
import { keepHead } from "../../shared/model/text-cut.js";

/** Where a refusal happened: the agent stream, the control port, or below gRPC (HTTP/2, TLS). */
export type RefusalSide = "agent" | "control" | "wire";

/** Each kind of refusal and its side: the kind is what `coord refusals` counts by. */
export const REFUSAL_KINDS = {
  /** A stream that never said hello within HELLO_TIMEOUT_MS. */
  no_hello: "agent",
  /** More streams waiting for their hello than MAX_PENDING_HELLOS(_PER_ADDRESS). */
  too_many_pending: "agent",
  /** A first message that is no hello, or a hello with no name or a malformed identity. */
  bad_hello: "agent",
  /** A hello whose token (or certificate) is missing, unknown, expired, used up or revoked. */
  bad_credential: "agent",
  /** Another machine claiming a registered node's name. */
  conflict: "agent",
  /** An agent speaking a protocol this coordinator does not serve (shared/protocol.ts: N and N-1 only). */
  protocol_version: "agent",
  /** Hellos beyond HELLOS_PER_MINUTE_PER_(NODE|ADDRESS). */
  registration_rate: "agent",
  /** An event for a task not sent to that node (another node's, or none at all): acked, not applied. */
  foreign_event: "agent",
  /** A result for the node's own task from another machine-id: acked, not applied, the run unsignable. */
  wrong_host: "agent",
  /** A node sending events faster than EVENTS_PER_MINUTE_PER_NODE: its stream is read more slowly (nothing is lost). */
  event_rate: "agent",
  /** A control call with no token, or one this coordinator does not know or no longer accepts. */
  unauthenticated: "control",
  /** A control call whose token's role does not allow it. */
  permission_denied: "control",
  /** A message over MAX_GRPC_MESSAGE_BYTES, refused by grpc-js before any handler saw it. */
  too_large: "wire",
  /** Bytes on the port that are not HTTP/2 (garbage, HTTP/1, a port scanner). */
  not_http2: "wire",
  /** A TLS handshake that failed: not TLS, or a client certificate this coordinator does not trust. */
  bad_tls: "wire",
  /** A message whose bytes are not the call's protobuf message: answered INVALID_ARGUMENT before any handler saw it. */
  undecodable: "wire",
} as const satisfies Record<string, RefusalSide>;

export type RefusalKind = keyof typeof REFUSAL_KINDS;

/** The kind of a refused hello, by the error's code (admission, TLS and the agent gate throw FleetgateErrors). */
export function helloRefusalKind(code: ErrorCode): RefusalKind {
  switch (code) {
    case "unauthenticated":
    case "permission_denied":
      return "bad_credential";
    case "conflict":
      return "conflict";
    case "exhausted":
      return "registration_rate";
    default:
      return "bad_hello";
  }
}

export interface Refusal {
  kind: RefusalKind;
  /** What the peer was told: a gRPC status name ("UNAUTHENTICATED"), or "ignored" (acked, not applied), "slowed", "closed". */
  code: string;
  /** The peer's address as the coordinator saw it. */
  peer: string;
  /** Who the peer said it was: a node name, a person's token id; "" when it said nothing. */
  claimed: string;
  message: string;
  /** Already logged where it was decided, with more detail (authorize(): who, role, what was needed): count and keep it only. */
  logged?: boolean;
}

export interface StoredRefusal extends Refusal {
  at: number;
  side: RefusalSide;
}

export interface RefusalTotal {
  kind: RefusalKind;
  side: RefusalSide;
  count: number;
  firstAt: number;
  lastAt: number;
}

/** Where refusals are kept (store/refusals.ts over coord.db): written in batches, read newest first. */
export interface RefusalStore {
  save(rows: StoredRefusal[], totals: RefusalTotal[]): void;
  read(limit: number): { recent: StoredRefusal[]; totals: RefusalTotal[] };
}

/** How often pending rows and counts are written (at most), in ms. */
export const REFUSAL_FLUSH_MS = 1_000;

interface LogWindow {
  start: number;
  logged: number;
  unlogged: number;
}

function addTo(totals: Map<RefusalKind, RefusalTotal>, r: StoredRefusal): void {
  const t = totals.get(r.kind);
  if (t) {
    t.count++;
    t.lastAt = Math.max(t.lastAt, r.at);
  } else totals.set(r.kind, { kind: r.kind, side: r.side, count: 1, firstAt: r.at, lastAt: r.at });
}

export class RefusalLog {
  /** Rows and count increments not yet written, newest last; at most REFUSALS_KEPT rows. */
  private pendingRows: StoredRefusal[] = [];
  private pendingTotals = new Map<RefusalKind, RefusalTotal>();
  /** Since this coordinator started: what `read` answers when there is no store. */
  private readonly recentHere: StoredRefusal[] = [];
  private readonly totalsHere = new Map<RefusalKind, RefusalTotal>();
  private readonly windows = new Map<RefusalKind, LogWindow>();
  private timer: NodeJS.Timeout | undefined;
  private storeFailing = false;

  constructor(
    private readonly log: Logger,
    private readonly store?: RefusalStore,
    private readonly limits = { kept: REFUSALS_KEPT, linesPerMinute: REFUSAL_LOG_LINES_PER_MINUTE, textBytes: REFUSAL_TEXT_BYTES },
  ) {}

  /** Records one refusal: a log line (within the per-minute budget), a count, a row. Never throws. */
  record({ logged, ...r }: Refusal, at = Date.now()): void {
    const side = REFUSAL_KINDS[r.kind];
    const row: StoredRefusal = {
      ...r,
      at,
      side,
      claimed: keepHead(r.claimed, this.limits.textBytes),
      message: keepHead(r.message, this.limits.textBytes),
      peer: keepHead(r.peer, 256),
    };
    if (!logged) this.logLine(row);
    addTo(this.totalsHere, row);
    this.recentHere.push(row);
    if (this.recentHere.length > this.limits.kept) this.recentHere.shift();
    if (!this.store) return;
    addTo(this.pendingTotals, row);
    this.pendingRows.push(row);
    if (this.pendingRows.length > this.limits.kept) this.pendingRows.shift();
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, REFUSAL_FLUSH_MS).unref();
  }

  private logLine(r: StoredRefusal): void {
    let w = this.windows.get(r.kind);
    if (!w || r.at - w.start >= 60_000) {
      if (w?.unlogged) this.log.warn({ refusal: r.kind, side: r.side, unlogged: w.unlogged }, `${w.unlogged} more ${r.kind} refusals in the minute before were counted, not logged one by one (coord refusals)`);
      w = { start: r.at, logged: 0, unlogged: 0 };
      this.windows.set(r.kind, w);
    }
    if (w.logged < this.limits.linesPerMinute) {
      w.logged++;
      this.log.warn({ refusal: r.kind, side: r.side, code: r.code, peer: r.peer, claimed: r.claimed || undefined }, `refused: ${r.message}`);
      if (w.logged === this.limits.linesPerMinute) {
        this.log.warn({ refusal: r.kind, side: r.side }, `${this.limits.linesPerMinute} ${r.kind} refusals this minute: more are counted (coord refusals), not logged one by one, until the minute is over`);
      }
    } else w.unlogged++;
  }

  /** Writes what is pending. A failed write (a full disk) is logged once and retried with the next flush; counts are never lost while this coordinator runs. */
  flush(): void {
    if (!this.store || (!this.pendingRows.length && !this.pendingTotals.size)) return;
    const rows = this.pendingRows;
    const totals = [...this.pendingTotals.values()];
    try {
      this.store.save(rows, totals);
      this.pendingRows = [];
      this.pendingTotals = new Map();
      this.storeFailing = false;
    } catch (err) {
      if (!this.storeFailing) this.log.warn({ err }, "could not store refusals; they stay counted in memory and are written when the store works again");
      this.storeFailing = true;
    }
  }

  /** Totals by kind (most first) and the newest `limit` refusals (newest first): stored ones when there is a store. */
  read(limit: number): { recent: StoredRefusal[]; totals: RefusalTotal[] } {
    if (this.store) {
      this.flush();
      if (!this.storeFailing) return this.store.read(limit);
    }
    const totals = [...this.totalsHere.values()].sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
    return { recent: this.recentHere.slice(-limit).reverse(), totals };
  }

  /** Flushes and stops the timer (coordinator shutting down). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
