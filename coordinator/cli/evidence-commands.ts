// coord keygen | verify | export | prune: the evidence bundle from the operator's side.
// prune imports its store and retention when it runs: `coord` starts without SQLite's or
// PostgreSQL's driver (see main.ts). The bundle code the others use is small and loaded with them.
import { join } from "node:path";
import type { Command } from "commander";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { RUNS_DIR, safeSegment } from "../evidence/paths.js";
import { prepareTarget, receiveBundle } from "../evidence/receive.js";
import { generateSigningKey, loadVerifyKey } from "../evidence/signing.js";
import { verdictLine, verifyBundle, type VerifyResult } from "../evidence/verify.js";
import { connected, positiveInt, print, withClient, type ConnectionFlags } from "./kit.js";

/** Problems one per line, then the verdict; exit 0 intact, 1 otherwise. */
function reportVerification(dir: string, r: VerifyResult, json: boolean | undefined): void {
  if (json) {
    const { manifest, ...rest } = r;
    print(JSON.stringify({ dir, ...rest, run_id: manifest?.run_id, verdict: manifest?.verdict }, null, 2));
  } else {
    for (const p of r.problems) print(p.message);
    print(verdictLine(dir, r));
  }
  process.exitCode = r.ok ? 0 : 1;
}

export function registerEvidenceCommands(program: Command): void {
  program
    .command("keygen")
    .description("make an ed25519 key pair for signing evidence bundles (then: coord serve --signing-key DIR/fleetgate-ed25519.key)")
    .requiredOption("--out <dir>", "where to write fleetgate-ed25519.key (mode 0600) and fleetgate-ed25519.pub; never overwrites")
    .action((flags: { out: string }) => {
      const k = generateSigningKey(flags.out);
      print(`${k.keyFile}\n${k.publicKeyFile}`);
      process.stderr.write(`key ${k.fingerprint}: start the coordinator with --signing-key ${k.keyFile}; verify bundles with --key ${k.publicKeyFile}\n`);
    });

  program
    .command("verify")
    .description("check an evidence bundle: every file against manifest.json, the signature with --key (exit 0 intact, 1 anything wrong)")
    .argument("<dir>", "a bundle directory: STATE_DIR/runs/<run-id>, or one written by coord export")
    .option("--key <file>", "the coordinator's public key (fleetgate-ed25519.pub); without it the signature is not checked")
    .option("--json", "print the result as JSON")
    .action(async (dir: string, flags: { key?: string; json?: boolean }) => {
      const key = flags.key ? loadVerifyKey(flags.key) : undefined;
      reportVerification(dir, await verifyBundle(dir, key), flags.json);
    });

  connected(
    program
      .command("export")
      .description("download a finished run's evidence bundle into DIR/<run-id>/ and verify it (exit 0 intact, 1 not)")
      .argument("<run>", "run id")
      .requiredOption("--to <dir>", "parent directory; DIR/<run-id> must not exist or be empty")
      .option("--key <file>", "also check the signature with this public key (fleetgate-ed25519.pub)")
      .option("--json", "print the verification as JSON"),
  ).action(async (runId: string, flags: ConnectionFlags & { to: string; key?: string; json?: boolean }) => {
    if (safeSegment(runId) !== runId) throw new FleetgateError("bad_input", `"${runId}" is not a run id; list them with: coord runs`);
    // Load the key before downloading: a wrong --key path should not cost a transfer.
    const key = flags.key ? loadVerifyKey(flags.key) : undefined;
    const target = join(flags.to, runId);
    await prepareTarget(target);
    const { files, bytes } = await withClient(flags, (c) => receiveBundle(c.stream(ControlService.method.exportEvidence, { runId }), target));
    process.stderr.write(`exported ${files} files (${Math.ceil(bytes / 1024)} KiB) to ${target}\n`);
    reportVerification(target, await verifyBundle(target, key), flags.json);
  });

  program
    .command("prune")
    .description(
      "delete old evidence bundles, keeping the newest N; signed-off and running runs are never deleted. " +
        "Local: run it on the coordinator's host; it deletes directories under the state dir (and plans' evidence dirs) and talks to no coordinator",
    )
    .option("--state-dir <dir>", "the coordinator's state dir, holding coord.db and runs/ (env FLEETGATE_STATE_DIR)")
    .option("--store <url>", "the coordinator's PostgreSQL store, as coord serve --store (env FLEETGATE_STORE); default: STATE_DIR/coord.db")
    .option("--store-password-file <file>", "the PostgreSQL password, as coord serve takes it (default: PGPASSFILE or ~/.pgpass)")
    .option("--evidence-dir <dir>", "where the coordinator writes bundles, as coord serve --evidence-dir (default STATE_DIR/runs)")
    .requiredOption("--keep <n>", "how many of the newest bundles to keep", positiveInt)
    .option("--plan <name>", "only bundles of this plan's runs")
    .option("--dry-run", "print what would be deleted; delete nothing")
    .action(async (flags: { stateDir?: string; store?: string; storePasswordFile?: string; evidenceDir?: string; keep: number; plan?: string; dryRun?: boolean }) => {
      const stateDir = flags.stateDir ?? process.env.FLEETGATE_STATE_DIR;
      if (!stateDir) throw new FleetgateError("bad_input", "prune needs the coordinator's state dir: pass --state-dir DIR or set FLEETGATE_STATE_DIR");
      const [{ openPruneStore }, { pruneBundles }] = await Promise.all([import("./prune-store.js"), import("../evidence/retention.js")]);
      const db = openPruneStore(stateDir, flags.store ?? process.env.FLEETGATE_STORE, flags.storePasswordFile);
      try {
        const r = await pruneBundles(db, flags.evidenceDir ?? join(stateDir, RUNS_DIR), flags.keep, { stateDir, planName: flags.plan, dryRun: flags.dryRun });
        for (const b of r.deleted) print(`${flags.dryRun ? "would delete" : "deleted"} ${b.runId} ${b.dir}`);
        const newest = r.kept.length - r.spared.length;
        print(`${r.deleted.length} ${flags.dryRun ? "to delete" : "deleted"}, ${r.kept.length} kept (the newest ${newest}, and ${r.spared.length} signed off or running)`);
      } finally {
        db.close();
      }
    });
}
