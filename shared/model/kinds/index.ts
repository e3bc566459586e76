// Every check kind's declared-expectation schema, by the key that names it in a suite.
// Observing and evaluating live in agent/checks/, one file per kind.
import { BatsSpecSchema } from "./bats.js";
import { BitcoinSpecSchema } from "./bitcoin.js";
import { CommandSpecSchema } from "./command.js";
import { DiskSpecSchema } from "./disk.js";
import { FileSpecSchema } from "./file.js";
import { HttpSpecSchema } from "./http.js";
import { LoadSpecSchema } from "./load.js";
import { MemorySpecSchema } from "./memory.js";
import { NginxSpecSchema } from "./nginx.js";
import { PodmanSpecSchema } from "./podman.js";
import { QuadletSpecSchema } from "./quadlet.js";
import { SystemdSpecSchema } from "./systemd.js";
import { TcpSpecSchema } from "./tcp.js";

export const KIND_SCHEMAS = {
  command: CommandSpecSchema,
  http: HttpSpecSchema,
  systemd: SystemdSpecSchema,
  quadlet: QuadletSpecSchema,
  bats: BatsSpecSchema,
  tcp: TcpSpecSchema,
  file: FileSpecSchema,
  disk: DiskSpecSchema,
  memory: MemorySpecSchema,
  load: LoadSpecSchema,
  bitcoin: BitcoinSpecSchema,
  nginx: NginxSpecSchema,
  podman: PodmanSpecSchema,
} as const;

export type KindName = keyof typeof KIND_SCHEMAS;
export const KIND_NAMES = Object.keys(KIND_SCHEMAS) as KindName[];
