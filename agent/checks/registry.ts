import type { KindName } from "../../shared/model/kinds/index.js";
import { batsCheck } from "./bats.js";
import { bitcoinCheck } from "./bitcoin.js";
import { commandCheck } from "./command.js";
import { diskCheck } from "./disk.js";
import { fileCheck } from "./file.js";
import { httpCheck } from "./http.js";
import type { CheckKind } from "./kind.js";
import { loadCheck } from "./load.js";
import { memoryCheck } from "./memory.js";
import { nginxCheck } from "./nginx.js";
import { podmanCheck } from "./podman.js";
import { quadletCheck } from "./quadlet.js";
import { systemdCheck } from "./systemd.js";
import { tcpCheck } from "./tcp.js";

/** Every check kind this agent can run, by the suite key that names it. */
export const CHECK_KINDS: Record<KindName, CheckKind<any, any>> = {
  command: commandCheck,
  http: httpCheck,
  systemd: systemdCheck,
  quadlet: quadletCheck,
  bats: batsCheck,
  tcp: tcpCheck,
  file: fileCheck,
  disk: diskCheck,
  memory: memoryCheck,
  load: loadCheck,
  bitcoin: bitcoinCheck,
  nginx: nginxCheck,
  podman: podmanCheck,
};
