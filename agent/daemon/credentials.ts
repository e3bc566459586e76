// The node token the coordinator hands back at registration, kept so reconnects do not need the
// (short-lived) enrollment token again; and, until then, the secret this agent enrolls with, kept
// so an enrollment whose reply was lost can be made again by the same agent (Hello.enrollment_secret).
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ENROLLMENT_SECRET_FILE = "enrollment.secret";

export class Credentials {
  private nodeToken: string | undefined;
  private secret: string | undefined;

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

  /**
   * The secret sent with an enrollment: made once and written to the state dir before the first
   * hello carries it, read back after a restart, until a node token is saved. A state dir that
   * cannot be written keeps it in memory: retries by this process still carry it.
   */
  enrollmentSecret(): string {
    if (this.secret) return this.secret;
    const file = this.stateDir && join(this.stateDir, ENROLLMENT_SECRET_FILE);
    if (file) {
      try {
        this.secret = readFileSync(file, "utf8").trim() || undefined;
      } catch {
        this.secret = undefined;
      }
    }
    if (this.secret) return this.secret;
    this.secret = randomBytes(32).toString("base64url");
    if (file) {
      try {
        mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
        writeFileSync(file, `${this.secret}\n`, { mode: 0o600 });
      } catch {
        // Kept in memory; the enrollment itself does not depend on it.
      }
    }
    return this.secret;
  }

  save(nodeToken: string): void {
    this.nodeToken = nodeToken;
    if (!this.stateDir) return;
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.stateDir, "node.token"), `${nodeToken}\n`, { mode: 0o600 });
    // Registered: the node token stands for this agent from now on.
    this.secret = undefined;
    rmSync(join(this.stateDir, ENROLLMENT_SECRET_FILE), { force: true });
  }

  /** The node token was refused (e.g. the coordinator's store was reset): fall back to enrolling. */
  forgetNodeToken(): boolean {
    if (!this.nodeToken || !this.enrollToken) return false;
    this.nodeToken = undefined;
    return true;
  }
}
