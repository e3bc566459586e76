// What the coordinator alerts on (issue 17, after the cc-ci nightly sweep that alerts when
// something regresses). Each kind is keyed by a subject (a plan, a node, a directory…): an alert
// is (kind, subject), raised once while open and resolved when its condition clears.

export const ALERT_KINDS = [
  /** A run ended NO-GO; subject: the plan name. Resolved by the plan's next GO run. */
  "run_no_go",
  /** A scheduled run ended INCOMPLETE (a bound, a lost node, a skip…); subject: the schedule name. */
  "scheduled_run_incomplete",
  /** A node with an agent went offline; subject: the node. Resolved when it is back. */
  "node_offline",
  /** The fleet declared a node lost; subject: the node. Resolved when it is back. */
  "node_lost",
  /** A run was flagged not valid for sign-off by attestation (clone, coordinator host); subject: the run. */
  "attestation_flag",
  /** A check that passed in the plan's known-good run fails now; subject: the plan name. */
  "known_good_regression",
  /** Less free space under the evidence dir than a run needs; subject: the directory. */
  "evidence_disk_low",
  /** A tagged fleet machine (Tailscale) with no registered agent; subject: the machine. */
  "fleet_machine_without_agent",
  /** A rollout holds a node for approval (major bump, manual migration); subject: ROLLOUT/NODE. Resolved by approve or abort. */
  "rollout_held",
  /** A rollout rolled a node back (or failed to); subject: ROLLOUT/NODE. */
  "rollout_rolled_back",
  /** A node lost (or its run cancelled) after a change began: what it runs is unknown; subject: ROLLOUT/NODE. */
  "rollout_unknown_state",
  /** A rollout stopped before changing a node (its facts or snapshot failed); subject: ROLLOUT/NODE. */
  "rollout_stopped",
] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];

/** How urgent a kind is, for webhooks that rank messages (ntfy Priority). */
export function alertPriority(kind: AlertKind): "high" | "default" {
  return kind === "run_no_go" || kind === "node_lost" || kind === "known_good_regression" || kind === "evidence_disk_low" || kind === "rollout_rolled_back" || kind === "rollout_unknown_state" ? "high" : "default";
}
