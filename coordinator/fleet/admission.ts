// Who may register under a node name. A name is bound to the machine that first enrolled with it:
// later connections prove they are that node with its node token, from the same machine-id. An
// enrollment token cannot take over a registered name (a holder of one could otherwise kick the
// real agent off and answer its tasks with passes), and a node token copied to another machine
// (a cloned image, a copied state dir) is refused. Only `coord nodes forget NAME` frees a name.
import type { Hello } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { getNode, type NodeRow } from "../store/nodes.js";
import { hashToken, newSecret, spendEnrollToken, verifyEnrollToken } from "../store/tokens.js";

const MACHINE_ID = /^[0-9a-f]{32}$/;

export interface Admission {
  /** The node token to hand back: new on enrollment, "" when the agent keeps its own. */
  nodeToken: string;
  tokenHash: string;
}

function described(n: NodeRow): string {
  return `machine-id ${n.identity.machineId.slice(0, 12)}, host ${n.identity.hostname || "?"}`;
}

/** Checks the hello's credential against the roster; throws FleetgateError when it may not register. */
export function admit(db: Db, hello: Hello): Admission {
  const id = hello.identity;
  if (!id?.name) throw new FleetgateError("bad_input", "hello has no node name");
  if (!MACHINE_ID.test(id.machineId)) throw new FleetgateError("bad_input", `hello has an invalid machine-id "${id.machineId}" (expected 32 hex digits from /etc/machine-id)`);
  const cred = hello.credential;
  const registered = getNode(db, id.name);
  if (cred.case === "enrollToken") {
    verifyEnrollToken(db, cred.value);
    if (registered) {
      throw new FleetgateError(
        "conflict",
        `node ${id.name} is already registered (${described(registered)}); an enrollment token cannot take over a registered node. ` +
          `If this machine (machine-id ${id.machineId.slice(0, 12)}, host ${id.hostname || "?"}) is that node after losing its state dir, or its replacement, free the name first: coord nodes forget ${id.name}`,
      );
    }
    spendEnrollToken(db, cred.value);
    const nodeToken = newSecret("fgn");
    return { nodeToken, tokenHash: hashToken(nodeToken) };
  }
  if (cred.case === "nodeToken") {
    if (!registered || registered.tokenHash !== hashToken(cred.value)) {
      throw new FleetgateError("unauthenticated", `node token not valid for node ${id.name}; restart the agent with an enrollment token from: coord token create`);
    }
    if (registered.identity.machineId !== id.machineId) {
      throw new FleetgateError(
        "conflict",
        `node ${id.name}'s token was presented by machine-id ${id.machineId.slice(0, 12)} (host ${id.hostname || "?"}), but ${id.name} is ${described(registered)}; ` +
          `a node token belongs to the machine that enrolled (a cloned image or a copied state dir?). If ${id.name} was re-installed, run: coord nodes forget ${id.name}, then enroll it again`,
      );
    }
    return { nodeToken: "", tokenHash: registered.tokenHash };
  }
  throw new FleetgateError("unauthenticated", "hello carries no token; start the agent with --token (from: coord token create)");
}
