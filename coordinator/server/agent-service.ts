// AgentService.Connect: admit the hello, register the node, hand it tasks, and commit
// its events exactly once before acknowledging them.
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConnectResponseSchema, type AgentEvent, type ConnectRequest, type ConnectResponse } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import { inTransaction, type Db } from "../store/db.js";
import { bindNodeKey, committedPrefix, highestCommittedSeq, setNodeTransport, upsertNode } from "../store/nodes.js";
import { LastSeenWriter } from "../store/last-seen.js";
import { admit, recordAdmission, type Admission } from "../fleet/admission.js";
import { nodeCertificateFacts } from "../tls/node-certificate.js";
import type { NodeCertificateIssuer } from "../tls/node-issuer.js";
import type { IssuedCertificate } from "../tls/issue.js";
import { CommitQueue, type Settled } from "./commit-queue.js";
import { addRunFlag } from "../store/runs.js";
import type { RunEngine } from "../sequencer/engine.js";
import { peerAddress, type AgentSession, type AgentSessions } from "../fleet/sessions.js";
import { watchSilence } from "../fleet/silence.js";
import { boundIncomingEvent } from "./event-bounds.js";
import { EVENTS_PER_MINUTE_PER_NODE, HELLO_TIMEOUT_MS } from "../../shared/model/limits.js";
import { AgentGate } from "../fleet/agent-gate.js";
import { helloRefusalKind, RefusalLog, type RefusalKind } from "./refusals.js";
import { PROTOCOL_REFUSED_RETRY_MS, PROTOCOL_VERSION, protocolRefusal } from "../../shared/protocol.js";
import { FLEETGATE_VERSION } from "../../shared/version.js";

export interface AgentServiceDeps {
  db: Db;
  sessions: AgentSessions;
  engine: RunEngine;
  log: Logger;
  heartbeatIntervalMs: number;
  helloTimeoutMs?: number;
  /** Where every refusal is recorded (coord refusals); when not given, refusals are only logged and counted in memory. */
  refusals?: RefusalLog;
  /** Streams waiting for a hello, hello and event rates (shared/model/limits.ts); its defaults when not given. */
  gate?: AgentGate;
  /** Set when serving TLS: node client certificates are checked and issued. Unset: plaintext (--insecure). */
  certificates?: NodeCertificateIssuer;
  /** Where events wait to be committed in batches; one over `engine` with the default limits when not given. */
  commits?: CommitQueue;
  /** Writes nodes.last_seen once a heartbeat interval; `coord serve` flushes it before the store closes. */
  lastSeen?: LastSeenWriter;
}

/** The client certificate the TLS layer verified against our CA, if any, as facts. */
function verifiedPeer(call: Call) {
  const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
  return raw ? nodeCertificateFacts(raw) : undefined;
}

type Call = grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>;

/**
 * Why a stream ended when the coordinator did not end it. grpc-js shows an agent that stops, one
 * that is SIGKILLed and a host that closes the connection alike ('end', then 'cancelled'), so the
 * timeline says what is known; a cut link is told apart by the silence watch instead.
 */
export const CLOSED_BY_AGENT = "closed from the agent's side (agent stopped or killed, or its connection closed)";

export function agentServiceHandlers(deps: AgentServiceDeps) {
  // last_seen is for people reading `coord nodes`; failing to write it (a full disk) must not drop the stream.
  // The fleet keeps liveness in memory; this column only shows when an offline node was last
  // seen, so every node heard is written once a heartbeat interval, all in one commit (last-seen.ts).
  const lastSeen = deps.lastSeen ?? new LastSeenWriter(deps.db, deps.heartbeatIntervalMs, (err, nodes) => deps.log.warn({ nodes, err }, "could not record that the nodes were seen"));
  const seen = (node: string) => lastSeen.seen(node);
  /** Binds the node to its key (or records it came in plaintext); a certificate when one is due. */
  const bindKey = (identity: { name: string; machineId: string }, admission: Admission): IssuedCertificate | undefined => {
    if (!admission.key) {
      // A new enrollment in plaintext has no key; a plaintext reconnect keeps the one bound.
      if (admission.nodeToken) bindNodeKey(deps.db, identity.name, "", "plaintext");
      else setNodeTransport(deps.db, identity.name, "plaintext");
      return undefined;
    }
    bindNodeKey(deps.db, identity.name, admission.key.sha256, "tls");
    return admission.key.issue ? deps.certificates!.issue({ ...identity, publicKeyPem: admission.key.publicKeyPem }) : undefined;
  };
  const refusals = deps.refusals ?? new RefusalLog(deps.log);
  const commits = deps.commits ?? new CommitQueue((events) => deps.engine.ingestBatch(events), deps.log);
  const gate = deps.gate ?? new AgentGate();
  return {
    connect(call: Call): void {
      let session: AgentSession | undefined;
      let machineId = "";
      // Over TLS: the node's key, and when its certificate is half way through its life.
      let renewal: { publicKeyPem: string; at: number } | undefined;
      const renewIfDue = (s: AgentSession) => {
        if (!renewal || !deps.certificates || Date.now() < renewal.at) return;
        const issued = deps.certificates.issue({ name: s.node, machineId: s.machineId, publicKeyPem: renewal.publicKeyPem });
        renewal.at = deps.certificates.renewAt(issued.notAfterMs);
        call.write(create(ConnectResponseSchema, { msg: { case: "certificate", value: { certPem: issued.certPem, notAfterMs: BigInt(issued.notAfterMs) } } }));
      };
      let log = deps.log;
      const address = peerAddress(call.getPeer());
      // The name a hello claimed, for recording a refusal; and why the stream ended, for the
      // node's timeline (the first cause wins: a silent stream's error also closes it).
      let claimed = "";
      let ended: string | undefined;
      // Frees this stream's place among those waiting for a hello (AgentGate.streamOpened).
      let release = () => {};
      /** Ends the stream with `err`; before registration that is a refusal (`kind`, or one by its code), recorded once. */
      const fail = (err: unknown, kind?: RefusalKind) => {
        const e = toGrpcError(err);
        if (session) {
          ended ??= e.details;
          log.warn({ err: e.details }, "agent refused");
        } else {
          const what = kind ?? helloRefusalKind(FleetgateError.from(err).code);
          // Not a row in the node's timeline per hello of a flood: the rate limit is there to spare the disk.
          if (claimed && what !== "registration_rate") deps.sessions.refused(claimed, address, e.details ?? "refused");
          refusals.record({ kind: what, code: grpc.status[e.code ?? grpc.status.INTERNAL], peer: address, claimed, message: e.details ?? "" });
        }
        release();
        // grpc-js turns an 'error' emitted on a server stream into the call's final status.
        call.emit("error", Object.assign(new Error(e.details), e));
      };
      try {
        release = gate.streamOpened(address);
      } catch (err) {
        fail(err, "too_many_pending");
        return;
      }
      const helloTimer = setTimeout(() => fail(new FleetgateError("bad_input", "no hello within the time allowed"), "no_hello"), deps.helloTimeoutMs ?? HELLO_TIMEOUT_MS);
      const silence = watchSilence(deps.heartbeatIntervalMs, (ms) => {
        ended ??= `silent for ${ms} ms (3 heartbeats)`;
        fail(new FleetgateError("unreachable", `agent silent for ${ms} ms (3 heartbeats); dropping its stream`));
      });

      // Acks of events committed in the same batch, written as one Ack after the commit's settling
      // (a microtask later) to an agent that takes batches; one Ack per event to one that does not.
      let acksInBatches = false;
      let unsentAcks: bigint[] = [];
      const sendAcks = () => {
        const [seq, ...moreSeqs] = unsentAcks;
        unsentAcks = [];
        // A stream gone since is not written to: the agent sends those events again, repeats.
        if (seq !== undefined && !closed) call.write(create(ConnectResponseSchema, { msg: { case: "ack", value: { seq, moreSeqs } } }));
      };
      const ack = (seq: bigint) => {
        unsentAcks.push(seq);
        if (!acksInBatches) sendAcks();
        else if (unsentAcks.length === 1) queueMicrotask(sendAcks);
      };

      // Set once an event failed to commit: nothing more is taken from this stream, so no later
      // event commits past the gap (the queue drops those already taken); the agent reconnects and
      // sends again from the one that failed.
      let broken = false;
      /** An event's batch is settled: after the commit, its ack; after a failure, the end of the stream. */
      const settled = (s: AgentSession, event: AgentEvent, r: Settled) => {
        if (r.kind === "dropped") return;
        if (r.kind === "failed") {
          if (broken) return;
          broken = true;
          const err = r.error;
          log.error({ seq: event.seq, err }, "event not committed: no ack, and nothing more is taken from this stream; the agent sends it again when it reconnects");
          fail(new FleetgateError("unreachable", `event ${event.seq} could not be stored (${err instanceof Error ? err.message : String(err)}); reconnect and send it again`, undefined, { cause: err }));
          return;
        }
        const { outcome } = r;
        try {
          seen(s.node);
          if (outcome.kind !== "duplicate") deps.sessions.delivered(s.node);
          else if (outcome.forkedFrom) {
            const why = `event ${event.seq} was numbered by boot ${outcome.forkedFrom.slice(0, 8)} and again by boot ${(event.origin?.bootId ?? "").slice(0, 8)} (two machines numbering one node's events)`;
            deps.sessions.markCloned(s.node, why, s.address);
          }
          // Ack after commit, whatever the outcome: a rejected or repeated event must not be resent forever.
          ack(event.seq);
          if (outcome.kind === "rejected") {
            refusals.record({ kind: outcome.flagsRun ? "wrong_host" : "foreign_event", code: "ignored", peer: s.address, claimed: s.node, message: `event ${event.seq}: ${outcome.reason}` });
            // A node vouches for its own tasks only: a result from another host for one of them
            // makes that run unsignable; a report on another node's task changes no run at all.
            if (outcome.flagsRun) addRunFlag(deps.db, outcome.flagsRun, outcome.reason);
          }
        } catch (err) {
          fail(err);
        }
      };
      call.on("data", (req: ConnectRequest) => {
        if (broken) return;
        silence.heard();
        if (session) deps.sessions.heard(session.node);
        try {
          if (!session) {
            if (req.msg.case !== "hello") throw new FleetgateError("bad_input", "the first message on a stream must be a hello");
            clearTimeout(helloTimer);
            release();
            const hello = req.msg.value;
            claimed = hello.identity?.name ?? "";
            acksInBatches = hello.takesAckBatches;
            gate.hello(address, claimed);
            // Before admission, so a refused agent spends no enrollment token and changes no row.
            const skew = protocolRefusal({ node: claimed || "?", agentProtocol: hello.protocolVersion, agentVersion: hello.identity?.agentVersion ?? "", coordinatorProtocol: PROTOCOL_VERSION, coordinatorVersion: FLEETGATE_VERSION });
            if (skew) {
              fail(new FleetgateError("conflict", skew, undefined, { retryAfterMs: PROTOCOL_REFUSED_RETRY_MS }), "protocol_version");
              return;
            }
            // The name is bound to the machine that enrolled: no takeover, no clone (fleet/admission.ts).
            // Parsed once: admission checks it, and a certificate kept as it is sets when to renew.
            const peer = deps.certificates ? verifiedPeer(call) : undefined;
            const admission = admit(deps.db, hello, { address, tls: deps.certificates ? { peer } : undefined });
            const { nodeToken, tokenHash } = admission;
            const identity = hello.identity!;
            // The token's use, the roster row and its key in one commit: a registration costs synced
            // commits, and a fleet enrolling or reconnecting at once waits on each of them.
            const certificate = inTransaction(deps.db, () => {
              upsertNode(deps.db, identity, tokenHash);
              recordAdmission(deps.db, identity.name, admission);
              return bindKey(identity, admission);
            });
            if (admission.key) renewal = { publicKeyPem: admission.key.publicKeyPem, at: deps.certificates!.renewAt(certificate?.notAfterMs ?? peer!.notAfterMs) };
            machineId = identity.machineId;
            log = deps.log.child({ node: identity.name });
            session = {
              node: identity.name,
              machineId,
              bootId: identity.bootId,
              instance: hello.agentInstance,
              address,
              health: hello.health,
              send: (task) => call.write(create(ConnectResponseSchema, { msg: { case: "task", value: task } })),
              cancel: (taskId) => call.write(create(ConnectResponseSchema, { msg: { case: "cancel", value: { taskId } } })),
              close: (reason) => {
                ended ??= reason;
                call.emit("error", Object.assign(new Error(reason), { code: grpc.status.ABORTED, details: reason }));
              },
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
                    certificate: certificate && { certPem: certificate.certPem, notAfterMs: BigInt(certificate.notAfterMs) },
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
            renewIfDue(session);
            return;
          }
          if (req.msg.case === "event") {
            const event = boundIncomingEvent(req.msg.value, log);
            holdOffIfFlooding(session);
            const s = session;
            // Committed with whatever else arrives within a few ms (CommitQueue); acked only after.
            commits.push({ node: s.node, machineId, event, stream: call, settle: (r) => settled(s, event, r) });
          }
        } catch (err) {
          fail(err);
        }
      });
      // Beyond its event rate a node's stream is read more slowly, never refused (AgentGate.eventPause);
      // the refusal log hears of it at most once a minute per stream.
      let slowedAt = -Infinity;
      const holdOffIfFlooding = (s: AgentSession) => {
        const wait = gate.eventPause(s.node);
        if (wait <= 0) return;
        call.pause();
        setTimeout(() => call.resume(), wait).unref();
        if (Date.now() - slowedAt < 60_000) return;
        slowedAt = Date.now();
        refusals.record({ kind: "event_rate", code: "slowed", peer: s.address, claimed: s.node, message: `node ${s.node} sends events faster than ${EVENTS_PER_MINUTE_PER_NODE} a minute; its stream is read more slowly (nothing is dropped)` });
      };
      let closed = false;
      const gone = () => {
        release();
        clearTimeout(helloTimer);
        silence.stop();
        if (session && !closed) {
          closed = true;
          const why = ended ?? CLOSED_BY_AGENT;
          deps.sessions.remove(session, why);
          log.info({ why }, "agent disconnected");
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
