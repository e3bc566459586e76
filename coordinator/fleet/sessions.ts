// The fleet as the coordinator sees it: the one place that knows which agents are connected now,
// since when a node has been away, and when it is lost (away longer than --lost-after). The
// sequencer hears online/offline/lost as events and keeps no clock of its own. Each connection,
// disconnection (with why), lost verdict and refusal also goes to a LivenessSink: the node's
// timeline in the evidence.
import { EventEmitter } from "node:events";
import { humanDuration } from "../../shared/durations.js";
import type { Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { AgentHealth } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { LivenessKind, LivenessSink } from "./liveness-events.js";

export interface AgentSession {
  node: string;
  machineId: string;
  /** The kernel boot id the agent reported: two at once under one name means two machines. */
  bootId: string;
  /** Random per agent process (Hello.agent_instance; "" from older agents): two at once from one boot is a copied state dir. */
  instance?: string;
  /** The agent's IP address as this coordinator sees the stream come in. */
  address: string;
  send(task: Task): void;
  /** Tells the agent to stop a task of a cancelled run. */
  cancel(taskId: string): void;
  /** Ends the stream, e.g. when the same node connects again. */
  close(reason: string): void;
  /** What the agent last said of itself (hello, then each heartbeat): degraded, warnings. */
  health?: AgentHealth;
}

export interface SessionEvents {
  online: [node: string];
  offline: [node: string, at: number];
  /** The node has been unheard for `lostAfterMs`, or keeps reconnecting without delivering: work due on it is lost. */
  lost: [node: string, why: string];
  /** Two machines answered as the node at once (a cloned image, a copied state dir): no run touching it is signable. */
  cloned: [node: string, why: string];
}

/** The default --lost-after: with 5 s heartbeats a dead agent or a cut link is lost within 30 s. */
export const DEFAULT_LOST_AFTER_MS = 25_000;

/**
 * Connections without a single event delivered in between, within lostAfterMs, that make a node
 * lost although it keeps coming back: an agent that can never deliver its result (issue 12: 1,473
 * reconnects, the task running for ever) must not hold a run open.
 */
export const UNPRODUCTIVE_RECONNECTS = 10;

/** How recently the old stream must have been heard for a new one from another boot to be a clone, not a reboot. */
export const DEFAULT_CLONE_WINDOW_MS = 7_500;

/** Why a node's earlier stream ended when it connected again. */
export const REPLACED = "replaced by a newer connection from the same node";

export class AgentSessions extends EventEmitter<SessionEvents> {
  private readonly byNode = new Map<string, AgentSession>();
  private readonly awaySince = new Map<string, number>();
  private readonly lostTimers = new Map<string, NodeJS.Timeout>();
  /** When each node was last heard from (any message on its stream). */
  private readonly lastHeard = new Map<string, number>();
  /** Connections since the node last delivered an event, with when the first of them came. */
  private readonly fruitless = new Map<string, { count: number; since: number }>();
  /** The address each node last connected from: where a lost node was last seen. */
  private readonly lastAddress = new Map<string, string>();
  /** Nodes two machines answered as at once, with why; kept while this coordinator runs. */
  private readonly clones = new Map<string, string>();

  /**
   * `lostAfterMs`: how long a node may go unheard while it has work before it is lost.
   * `record`: where liveness events go (guardedSink over the store in `coord serve`).
   */
  constructor(
    private readonly lostAfterMs = DEFAULT_LOST_AFTER_MS,
    private readonly record: LivenessSink = () => {},
    /** About 1.5 heartbeats: a live agent was heard this recently; a rebooted one was not. */
    private readonly cloneWindowMs = DEFAULT_CLONE_WINDOW_MS,
  ) {
    super();
  }

  private note(node: string, kind: LivenessKind, why: string, at: number, address = this.lastAddress.get(node) ?? ""): void {
    this.record({ node, at, kind, why, address });
  }

  /** The node said something (a heartbeat, an event): its lost clock starts from here. */
  heard(node: string, at = Date.now()): void {
    this.lastHeard.set(node, at);
  }

  /** The node delivered an event that was committed: it is doing its work, however its link flaps. */
  delivered(node: string): void {
    this.fruitless.delete(node);
  }

  add(session: AgentSession, at = Date.now()): void {
    const old = this.byNode.get(session.node);
    this.byNode.set(session.node, session);
    this.awaySince.delete(session.node);
    clearTimeout(this.lostTimers.get(session.node));
    this.lostTimers.delete(session.node);
    const recentlyHeard = at - (this.lastHeard.get(session.node) ?? -Infinity) < this.cloneWindowMs;
    if (old && recentlyHeard && old.bootId !== session.bootId) {
      // The old agent was heard a moment ago and the new one booted another kernel: two machines
      // share this identity. A genuine reboot is silent for longer than the window first.
      const why = `two machines answered as node ${session.node} at once: boot ${old.bootId.slice(0, 8)} from ${old.address || "?"} and boot ${session.bootId.slice(0, 8)} from ${session.address || "?"} (a cloned image or a copied state dir)`;
      this.markCloned(session.node, why, session.address, at);
    } else if (old && recentlyHeard && old.instance && session.instance && old.instance !== session.instance) {
      // Same boot, another agent process, the first still connected and heard: two agents run on
      // one state dir's identity on this machine. An agent that restarts closes its stream first.
      const why = `two agent processes answered as node ${session.node} at once from boot ${session.bootId.slice(0, 8)} (${old.address || "?"} and ${session.address || "?"}): a copied state dir on one machine`;
      this.markCloned(session.node, why, session.address, at);
    }
    if (old) {
      // Recorded here: the old stream's own end finds itself no longer current and says nothing.
      this.note(old.node, "disconnected", REPLACED, at, old.address);
      old.close(REPLACED);
    }
    this.lastAddress.set(session.node, session.address);
    this.note(session.node, "connected", "", at);
    this.heard(session.node, at);
    this.emit("online", session.node);
    this.countConnection(session.node, at);
  }

  private countConnection(node: string, at: number): void {
    const f = this.fruitless.get(node);
    const next = f && at - f.since < this.lostAfterMs ? { count: f.count + 1, since: f.since } : { count: 1, since: at };
    this.fruitless.set(node, next);
    if (next.count < UNPRODUCTIVE_RECONNECTS) return;
    this.fruitless.delete(node);
    this.declareLost(node, `node ${node} lost: connected ${next.count} times in ${humanDuration(at - next.since)} without delivering a result`, at);
  }

  private declareLost(node: string, why: string, at: number): void {
    // Before the emit: the run the verdict ends finishes after this row, so its timeline has it.
    this.note(node, "lost", why, at);
    this.emit("lost", node, why);
  }

  /** Two machines answer as `node` (seen at connect, or as a fork in its event numbers): flagged once per reason. */
  markCloned(node: string, why: string, address = "", at = Date.now()): void {
    if (this.clones.get(node) === why) return;
    this.clones.set(node, why);
    this.note(node, "cloned", why, at, address);
    this.emit("cloned", node, why);
  }

  /** Why `node` is suspected of being two machines, if it is (see add()). */
  cloneOf(node: string): string | undefined {
    return this.clones.get(node);
  }

  /** Admission refused a hello naming `node` (another machine, a bad token…): recorded, nothing else changes. */
  refused(node: string, address: string, why: string, at = Date.now()): void {
    this.note(node, "refused", why, at, address);
  }

  /**
   * Removes `session` only if it is still the node's current one. The node is away since it was
   * last heard from, not since its stream was dropped: a cut cable is noticed only after a few
   * silent heartbeats, and those count towards lost. `why`: how the stream ended, for the timeline.
   */
  remove(session: AgentSession, why: string, at = Date.now()): void {
    if (this.byNode.get(session.node) !== session) return;
    this.byNode.delete(session.node);
    this.note(session.node, "disconnected", why, at, session.address);
    const since = Math.min(this.lastHeard.get(session.node) ?? at, at);
    this.awaySince.set(session.node, since);
    this.armLost(session.node, since);
    this.emit("offline", session.node, since);
  }

  /**
   * The engine has work for `node`: if it is away and its clock has not started (not seen since
   * this coordinator started), it starts now. Returns the node's liveness: online, away, or lost.
   */
  awaitNode(node: string, now = Date.now()): "online" | "offline" | "lost" {
    if (this.byNode.has(node)) return "online";
    if (!this.awaySince.has(node)) {
      this.awaySince.set(node, now);
      this.armLost(node, now);
    }
    return this.lostReason(node, now) ? "lost" : "offline";
  }

  /** Why `node` is lost at `now`, or undefined while it is online or away for less than lostAfterMs. */
  lostReason(node: string, now = Date.now()): string | undefined {
    const since = this.byNode.has(node) ? undefined : this.awaySince.get(node);
    if (since === undefined || now - since < this.lostAfterMs) return undefined;
    return `node ${node} lost: not heard from for ${humanDuration(now - since)}`;
  }

  /** Emits `lost` once the node has been away lostAfterMs since `since`, unless it is back by then. */
  private armLost(node: string, since: number): void {
    clearTimeout(this.lostTimers.get(node));
    const timer = setTimeout(() => {
      this.lostTimers.delete(node);
      const now = Date.now();
      const why = this.lostReason(node, now);
      if (why) this.declareLost(node, why, now);
    }, Math.max(0, since + this.lostAfterMs - Date.now()));
    // A pending verdict must not keep a stopping coordinator alive.
    timer.unref();
    this.lostTimers.set(node, timer);
  }

  isOnline(node: string): boolean {
    return this.byNode.has(node);
  }

  /** The connected node's last word on its health; undefined while it is away. */
  healthOf(node: string): AgentHealth | undefined {
    return this.byNode.get(node)?.health;
  }

  addressOf(node: string): string | undefined {
    return this.byNode.get(node)?.address;
  }

  send(node: string, task: Task): boolean {
    const s = this.byNode.get(node);
    if (!s) return false;
    s.send(task);
    return true;
  }

  /** False when the node is not connected: it drops the task by itself when told it is over. */
  sendCancel(node: string, taskId: string): boolean {
    const s = this.byNode.get(node);
    if (!s) return false;
    s.cancel(taskId);
    return true;
  }

  closeAll(reason: string): void {
    for (const timer of this.lostTimers.values()) clearTimeout(timer);
    this.lostTimers.clear();
    for (const s of this.byNode.values()) s.close(reason);
  }
}

/** "ipv4:10.0.0.5:41234", "[::1]:5000", "10.0.0.5:41234" → the bare address. */
export function peerAddress(peer: string): string {
  const bare = peer.replace(/^ipv[46]:/, "");
  const v6 = /^\[([^\]]+)\]/.exec(bare);
  if (v6) return v6[1] as string;
  const colon = bare.lastIndexOf(":");
  return colon > 0 && bare.indexOf(":") === colon ? bare.slice(0, colon) : bare;
}
