// The agent↔coordinator protocol version, and which versions a coordinator serves. A fleet is
// never upgraded at once: the coordinator goes first, then a node at a time, so a coordinator
// serves agents of its own protocol and of the one before it, and refuses the rest with the
// release to install. Pure: no clock, no I/O.
import { releaseOf } from "./version.js";

/**
 * What this release speaks on AgentService (Hello.protocol_version). Bump it when one side comes to
 * rely on something the previous release does not send or understand (a message it must answer,
 * a field it must set, a meaning that changed); then the coordinator must still serve the previous
 * protocol for one release. Adding a field the other side may ignore is no bump (buf breaking
 * guards the rest). 0 is what agents from before the field send.
 */
export const PROTOCOL_VERSION = 1;

/**
 * How long an agent refused for its protocol waits before it asks again: nothing on the node
 * changes by itself, but an upgraded coordinator takes a newer agent within this, and 50 refused
 * nodes make under one refusal a second.
 */
export const PROTOCOL_REFUSED_RETRY_MS = 60_000;

/** The protocols a coordinator speaking `protocol` serves: its own and the one before. */
export function servedProtocols(protocol: number = PROTOCOL_VERSION): { oldest: number; newest: number } {
  return { oldest: Math.max(0, protocol - 1), newest: protocol };
}

export interface ProtocolSkew {
  node: string;
  agentProtocol: number;
  /** NodeIdentity.agent_version, "" when the agent sent none. */
  agentVersion: string;
  coordinatorProtocol: number;
  coordinatorVersion: string;
}

/** "0.2.0+g1a2b3c4" → "0.2.x": the line of releases an agent should come from. */
function releaseLine(version: string): string {
  const [major, minor] = releaseOf(version).split(".");
  return minor === undefined ? releaseOf(version) : `${major}.${minor}.x`;
}

/** Why the coordinator will not serve this agent, with what to install; undefined when it serves it. */
export function protocolRefusal(s: ProtocolSkew): string | undefined {
  const { oldest, newest } = servedProtocols(s.coordinatorProtocol);
  if (s.agentProtocol >= oldest && s.agentProtocol <= newest) return undefined;
  const agent = `agent ${s.node} speaks protocol ${s.agentProtocol} (${s.agentVersion ? `fleetgate ${s.agentVersion}` : "fleetgate version not sent"})`;
  const coordinator = `this coordinator (fleetgate ${s.coordinatorVersion}) speaks ${oldest === newest ? `${newest}` : `${oldest}–${newest}`}`;
  const install = `install fleetgate-agent ${releaseLine(s.coordinatorVersion)} on ${s.node}`;
  const upgrade = `upgrade the coordinator${s.agentVersion ? ` to ${releaseLine(s.agentVersion)}` : ""} (coordinator first, then the nodes)`;
  if (s.agentProtocol > newest) return `${agent}; ${coordinator}: ${install} or ${upgrade}`;
  return `${agent}; ${coordinator}: ${install} (a coordinator serves agents one release back at most)`;
}
