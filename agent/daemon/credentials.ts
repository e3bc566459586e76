// The node token the coordinator hands back at registration, kept so reconnects do not need the
// (short-lived) enrollment token again.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class Credentials {
  private nodeToken: string | undefined;

  constructor(
    private readonly stateDir: string | undefined,
    readonly enrollToken: string | undefined,
  ) {
    if (stateDir) {
      try {
        this.nodeToken = readFileSync(join(stateDir, "node.token"), "utf8").trim() || undefined;
      } catch {
        this.nodeToken = undefined;
      }
    }
  }

  current(): { case: "nodeToken" | "enrollToken"; value: string } | undefined {
    if (this.nodeToken) return { case: "nodeToken", value: this.nodeToken };
    if (this.enrollToken) return { case: "enrollToken", value: this.enrollToken };
    return undefined;
  }

  save(nodeToken: string): void {
    this.nodeToken = nodeToken;
    if (!this.stateDir) return;
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.stateDir, "node.token"), `${nodeToken}\n`, { mode: 0o600 });
  }

  /** The node token was refused (e.g. the coordinator's store was reset): fall back to enrolling. */
  forgetNodeToken(): boolean {
    if (!this.nodeToken || !this.enrollToken) return false;
    this.nodeToken = undefined;
    return true;
  }
}
