// Connected agents, by node name: the one place that knows who is online right now, and since
// when a node has been away (what the sequencer's lost timer starts from).
import { EventEmitter } from "node:events";
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
}

export class AgentSessions extends EventEmitter<SessionEvents> {
  private readonly byNode = new Map<string, AgentSession>();
  private readonly awaySince = new Map<string, number>();

  add(session: AgentSession): void {
    const old = this.byNode.get(session.node);
    this.byNode.set(session.node, session);
    this.awaySince.delete(session.node);
    if (old) old.close("replaced by a newer connection from the same node");
    this.emit("online", session.node);
  }

  /** Removes `session` only if it is still the node's current one. */
  remove(session: AgentSession, at = Date.now()): void {
    if (this.byNode.get(session.node) !== session) return;
    this.byNode.delete(session.node);
    this.awaySince.set(session.node, at);
    this.emit("offline", session.node, at);
  }

  isOnline(node: string): boolean {
    return this.byNode.has(node);
  }

  /**
   * When the node went away: its last disconnect in this process, or `now` for a node not seen
   * since this coordinator started (its clock starts when we start waiting). Undefined when online.
   */
  offlineSince(node: string, now: number): number | undefined {
    if (this.byNode.has(node)) return undefined;
    return this.awaySince.get(node) ?? now;
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
