// AgentService.Connect: authenticate the hello, register the node, hand it tasks, and commit
// its events exactly once before acknowledging them.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConnectResponseSchema, type ConnectRequest, type ConnectResponse, type Hello } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import type { Db } from "../store/db.js";
import { committedPrefix, getNode, highestCommittedSeq, touchNode, upsertNode } from "../store/nodes.js";
import type { CommitOutcome } from "../store/agent-events.js";
import { addRunFlag } from "../store/runs.js";
import { hashToken, newSecret, verifyEnrollToken } from "../store/tokens.js";
import type { RunEngine } from "../sequencer/engine.js";
import { peerAddress, type AgentSession, type AgentSessions } from "../fleet/sessions.js";
import { watchSilence } from "../fleet/silence.js";
import { boundIncomingEvent } from "./event-bounds.js";

export interface AgentServiceDeps {
  db: Db;
  sessions: AgentSessions;
  engine: RunEngine;
  log: Logger;
  heartbeatIntervalMs: number;
  helloTimeoutMs?: number;
}

type Call = grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>;

const MACHINE_ID = /^[0-9a-f]{32}$/;

/** Checks the hello's credential; returns the node token to hand back ("" when it is unchanged). */
function authenticate(deps: AgentServiceDeps, hello: Hello): { nodeToken: string; tokenHash: string } {
  const id = hello.identity;
  if (!id?.name) throw new FleetgateError("bad_input", "hello has no node name");
  if (!MACHINE_ID.test(id.machineId)) throw new FleetgateError("bad_input", `hello has an invalid machine-id "${id.machineId}" (expected 32 hex digits from /etc/machine-id)`);
  const cred = hello.credential;
  if (cred.case === "enrollToken") {
    verifyEnrollToken(deps.db, cred.value);
    const nodeToken = newSecret("fgn");
    return { nodeToken, tokenHash: hashToken(nodeToken) };
  }
  if (cred.case === "nodeToken") {
    const node = getNode(deps.db, id.name);
    if (!node || node.tokenHash !== hashToken(cred.value)) {
      throw new FleetgateError("unauthenticated", `node token not valid for node ${id.name}; restart the agent with an enrollment token from: coord token create`);
    }
    return { nodeToken: "", tokenHash: node.tokenHash };
  }
  throw new FleetgateError("unauthenticated", "hello carries no token; start the agent with --token (from: coord token create)");
}

export function agentServiceHandlers(deps: AgentServiceDeps) {
  // last_seen is for people reading `coord nodes`; failing to write it (a full disk) must not drop the stream.
  const seen = (node: string) => {
    try {
      touchNode(deps.db, node);
    } catch (err) {
      deps.log.warn({ node, err }, "could not record that the node was seen");
    }
  };
  return {
    connect(call: Call): void {
      let session: AgentSession | undefined;
      let machineId = "";
      let log = deps.log;
      const fail = (err: unknown) => {
        const e = toGrpcError(err);
        log.warn({ err: e.details }, "agent refused");
        // grpc-js turns an 'error' emitted on a server stream into the call's final status.
        call.emit("error", Object.assign(new Error(e.details), e));
      };
      const helloTimer = setTimeout(() => fail(new FleetgateError("bad_input", "no hello within the time allowed")), deps.helloTimeoutMs ?? 15_000);
      const silence = watchSilence(deps.heartbeatIntervalMs, (ms) => fail(new FleetgateError("unreachable", `agent silent for ${ms} ms (3 heartbeats); dropping its stream`)));

      // Set once an event failed to commit: nothing more is taken from this stream, so no later
      // event commits past the gap; the agent reconnects and sends again from the one that failed.
      let broken = false;
      call.on("data", (req: ConnectRequest) => {
        if (broken) return;
        silence.heard();
        if (session) deps.sessions.heard(session.node);
        try {
          if (!session) {
            if (req.msg.case !== "hello") throw new FleetgateError("bad_input", "the first message on a stream must be a hello");
            clearTimeout(helloTimer);
            const hello = req.msg.value;
            const { nodeToken, tokenHash } = authenticate(deps, hello);
            const identity = hello.identity!;
            const previous = getNode(deps.db, identity.name);
            if (previous && previous.identity.machineId !== identity.machineId) {
              deps.log.warn({ node: identity.name, was: previous.identity.machineId, now: identity.machineId }, "node re-enrolled from a different machine-id");
            }
            upsertNode(deps.db, identity, tokenHash);
            machineId = identity.machineId;
            log = deps.log.child({ node: identity.name });
            session = {
              node: identity.name,
              machineId,
              address: peerAddress(call.getPeer()),
              health: hello.health,
              send: (task) => call.write(create(ConnectResponseSchema, { msg: { case: "task", value: task } })),
              cancel: (taskId) => call.write(create(ConnectResponseSchema, { msg: { case: "cancel", value: { taskId } } })),
              close: (reason) => call.emit("error", Object.assign(new Error(reason), { code: grpc.status.ABORTED, details: reason })),
            };
            call.write(
              create(ConnectResponseSchema, {
                msg: {
                  case: "registered",
                  value: {
                    nodeName: identity.name,
                    nodeToken,
                    lastAckedSeq: committedPrefix(deps.db, identity.name),
                    highestCommittedSeq: highestCommittedSeq(deps.db, identity.name),
                    heartbeatIntervalMs: deps.heartbeatIntervalMs,
                  },
                },
              }),
            );
            deps.sessions.add(session);
            log.info({ machineId, labels: identity.labels, enrolled: nodeToken !== "" }, "agent registered");
            return;
          }
          if (req.msg.case === "heartbeat") {
            session.health = req.msg.value.health;
            seen(session.node);
            return;
          }
          if (req.msg.case === "event") {
            const event = boundIncomingEvent(req.msg.value, log);
            let outcome: CommitOutcome;
            try {
              outcome = deps.engine.ingest(session.node, machineId, event);
            } catch (err) {
              broken = true;
              log.error({ seq: event.seq, err }, "event not committed: no ack, and nothing more is taken from this stream; the agent sends it again when it reconnects");
              throw new FleetgateError("unreachable", `event ${event.seq} could not be stored (${err instanceof Error ? err.message : String(err)}); reconnect and send it again`, undefined, { cause: err });
            }
            seen(session.node);
            if (outcome.kind !== "duplicate") deps.sessions.delivered(session.node);
            // Ack after commit, whatever the outcome: a rejected or repeated event must not be resent forever.
            call.write(create(ConnectResponseSchema, { msg: { case: "ack", value: { seq: event.seq } } }));
            if (outcome.kind === "rejected") {
              log.warn({ seq: event.seq }, outcome.reason);
              // A node vouches for its own tasks only: a result from another host for one of them
              // makes that run unsignable; a report on another node's task changes no run at all.
              if (outcome.flagsRun) addRunFlag(deps.db, outcome.flagsRun, outcome.reason);
            }
          }
        } catch (err) {
          fail(err);
        }
      });
      let closed = false;
      const gone = () => {
        clearTimeout(helloTimer);
        silence.stop();
        if (session && !closed) {
          closed = true;
          deps.sessions.remove(session);
          log.info("agent disconnected");
        }
      };
      call.on("end", () => {
        gone();
        call.end();
      });
      call.on("error", gone);
      call.on("close", gone);
    },
  };
}
