import type { KindName } from "../../shared/model/kinds/index.js";
import { commandCheck } from "./command.js";
import { httpCheck } from "./http.js";
import type { CheckKind } from "./kind.js";
import { quadletCheck } from "./quadlet.js";
import { systemdCheck } from "./systemd.js";

/** Every check kind this agent can run, by the suite key that names it. */
export const CHECK_KINDS: Record<KindName, CheckKind<any, any>> = {
  command: commandCheck,
  http: httpCheck,
  systemd: systemdCheck,
  quadlet: quadletCheck,
};
