// The fleet as the coordinator sees it: the one place that knows which agents are connected now,
// since when a node has been away, and when it is lost (away longer than --lost-after). The
// sequencer hears online/offline/lost as events and keeps no clock of its own.
import { EventEmitter } from "node:events";
import { humanDuration } from "../../shared/durations.js";
import type { Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";

export interface AgentSession {
  node: string;
  machineId: string;
  /** The agent's IP address as this coordinator sees the stream come in. */
  address: string;
  send(task: Task): void;
  /** Tells the agent to stop a task of a cancelled run. */
  cancel(taskId: string): void;
  /** Ends the stream, e.g. when the same node connects again. */
  close(reason: string): void;
}

export interface SessionEvents {
  online: [node: string];
  offline: [node: string, at: number];
  /** The node has been away `lostAfterMs`: work due on it is lost. */
  lost: [node: string, why: string];
}

export class AgentSessions extends EventEmitter<SessionEvents> {
  private readonly byNode = new Map<string, AgentSession>();
  private readonly awaySince = new Map<string, number>();
  private readonly lostTimers = new Map<string, NodeJS.Timeout>();

  /** `lostAfterMs`: how long a node may stay away while it has work before it is lost. */
  constructor(private readonly lostAfterMs = 60_000) {
    super();
  }

  add(session: AgentSession): void {
    const old = this.byNode.get(session.node);
    this.byNode.set(session.node, session);
    this.awaySince.delete(session.node);
    clearTimeout(this.lostTimers.get(session.node));
    this.lostTimers.delete(session.node);
    if (old) old.close("replaced by a newer connection from the same node");
    this.emit("online", session.node);
  }

  /** Removes `session` only if it is still the node's current one. */
  remove(session: AgentSession, at = Date.now()): void {
    if (this.byNode.get(session.node) !== session) return;
    this.byNode.delete(session.node);
    this.awaySince.set(session.node, at);
    this.armLost(session.node, at);
    this.emit("offline", session.node, at);
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
    return `node ${node} lost: not connected for ${humanDuration(now - since)}`;
  }

  /** Emits `lost` once the node has been away lostAfterMs since `since`, unless it is back by then. */
  private armLost(node: string, since: number): void {
    clearTimeout(this.lostTimers.get(node));
    const timer = setTimeout(() => {
      this.lostTimers.delete(node);
      const why = this.lostReason(node);
      if (why) this.emit("lost", node, why);
    }, Math.max(0, since + this.lostAfterMs - Date.now()));
    // A pending verdict must not keep a stopping coordinator alive.
    timer.unref();
    this.lostTimers.set(node, timer);
  }

  isOnline(node: string): boolean {
    return this.byNode.has(node);
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
