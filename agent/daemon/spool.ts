// Every event is written here before it is sent and stays until the coordinator acknowledges
// it, so a dropped link or an agent restart delays results but never loses them (DESIGN rule 2).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { AgentEventSchema, type AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

interface SpoolFile {
  lastSeq: string;
  events: string[];
}

export class Spool {
  private readonly events = new Map<bigint, AgentEvent>();
  private lastSeq = 0n;

  private constructor(private readonly file: string | undefined) {}

  /** With no directory the spool lives in memory only (used by `fleetgate-agent check`). */
  static open(dir: string | undefined): Spool {
    if (!dir) return new Spool(undefined);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const spool = new Spool(join(dir, "spool.json"));
    try {
      const saved = JSON.parse(readFileSync(spool.file as string, "utf8")) as SpoolFile;
      spool.lastSeq = BigInt(saved.lastSeq);
      for (const line of saved.events) {
        const e = fromJsonString(AgentEventSchema, line);
        spool.events.set(e.seq, e);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return spool;
  }

  /** The coordinator has committed up to `seq` for this node: never number at or below it. */
  raiseFloor(seq: bigint): void {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      this.save();
    }
  }

  append(init: Pick<MessageInitShape<typeof AgentEventSchema>, "origin" | "body">): AgentEvent {
    this.lastSeq += 1n;
    const event = create(AgentEventSchema, { origin: init.origin, body: init.body, seq: this.lastSeq });
    this.events.set(event.seq, event);
    this.save();
    return event;
  }

  ack(seq: bigint): void {
    if (this.events.delete(seq)) this.save();
  }

  /** Unacknowledged events, oldest first. */
  pending(): AgentEvent[] {
    return [...this.events.values()].sort((a, b) => (a.seq < b.seq ? -1 : 1));
  }

  private save(): void {
    if (!this.file) return;
    const data: SpoolFile = { lastSeq: this.lastSeq.toString(), events: this.pending().map((e) => toJsonString(AgentEventSchema, e)) };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
