// Schema migrations, numbered from 1 and applied in order inside one transaction each.
// Never edit a released migration: add the next number.
export const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE nodes (
        name              TEXT PRIMARY KEY,
        machine_id        TEXT NOT NULL,
        boot_id           TEXT NOT NULL,
        hostname          TEXT NOT NULL,
        labels_json       TEXT NOT NULL,
        capabilities_json TEXT NOT NULL,
        facts_json        TEXT NOT NULL,
        agent_version     TEXT NOT NULL,
        tailscale_json    TEXT,
        token_hash        TEXT NOT NULL,
        registered_at     INTEGER NOT NULL,
        last_seen         INTEGER NOT NULL
      );
      CREATE TABLE enroll_tokens (
        hash        TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      );
      CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        plan_name     TEXT NOT NULL,
        plan_path     TEXT NOT NULL,
        plan_yaml     TEXT NOT NULL,
        suites_json   TEXT NOT NULL,
        stages_json   TEXT NOT NULL,
        status        TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        finished_at   INTEGER,
        flags_json    TEXT NOT NULL DEFAULT '[]'
      );
      CREATE TABLE tasks (
        id           TEXT PRIMARY KEY,
        run_id       TEXT NOT NULL REFERENCES runs(id),
        ordinal      INTEGER NOT NULL,
        stage_id     TEXT NOT NULL,
        node_name    TEXT NOT NULL,
        iteration    INTEGER NOT NULL,
        suite_path   TEXT NOT NULL,
        allow_destructive INTEGER NOT NULL,
        status       TEXT NOT NULL,
        summary      TEXT NOT NULL DEFAULT '',
        started_at   INTEGER,
        finished_at  INTEGER
      );
      CREATE INDEX tasks_by_run ON tasks(run_id, ordinal);
      CREATE TABLE check_results (
        task_id       TEXT NOT NULL REFERENCES tasks(id),
        check_id      TEXT NOT NULL,
        kind          TEXT NOT NULL,
        precondition  INTEGER NOT NULL,
        status        TEXT NOT NULL,
        summary       TEXT NOT NULL,
        reason        TEXT NOT NULL,
        hint          TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        duration_ms   INTEGER NOT NULL,
        attempts      INTEGER NOT NULL,
        stdout_tail   TEXT NOT NULL,
        stderr_tail   TEXT NOT NULL,
        origin_machine_id TEXT NOT NULL,
        origin_hostname   TEXT NOT NULL,
        origin_boot_id    TEXT NOT NULL,
        PRIMARY KEY (task_id, check_id)
      );
      -- One row per committed agent event: a repeat (same node, same seq) is recognised and acked
      -- without being applied twice.
      CREATE TABLE agent_events (
        node_name   TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (node_name, seq)
      );
    `,
  },
  {
    version: 2,
    sql: `
      -- Inner test cases, every attempt, and captured values of a check, as protobuf JSON.
      ALTER TABLE check_results ADD COLUMN cases_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE check_results ADD COLUMN attempts_json TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE check_results ADD COLUMN captured_json TEXT NOT NULL DEFAULT '{}';
    `,
  },
  {
    version: 3,
    sql: `
      -- How the run was asked for: mode (full|quick), plan revision, skips, --with, role bindings,
      -- the roster's identities at start, and why it can never be signed off.
      ALTER TABLE runs ADD COLUMN mode TEXT NOT NULL DEFAULT 'full';
      ALTER TABLE runs ADD COLUMN plan_rev TEXT NOT NULL DEFAULT '';
      ALTER TABLE runs ADD COLUMN options_json TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE runs ADD COLUMN nodes_json TEXT NOT NULL DEFAULT '[]';
      -- Cross steps and matrix legs: what the task is and what it sends.
      ALTER TABLE tasks ADD COLUMN stage_kind TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN step_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN role TEXT NOT NULL DEFAULT '';
      -- Steps of one group run together; a group starts when every earlier one passed.
      ALTER TABLE tasks ADD COLUMN grp INTEGER NOT NULL DEFAULT 0;
      -- The suite text for a step or inline leg, generated from the plan; empty: runs.suites_json.
      ALTER TABLE tasks ADD COLUMN spec_yaml TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN probes_yaml TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN only_tags_json TEXT NOT NULL DEFAULT '[]';
      -- A fault step (partition, kill_agent) instead of a suite; empty for everything else.
      ALTER TABLE tasks ADD COLUMN fault_json TEXT NOT NULL DEFAULT '';
      CREATE INDEX runs_by_plan ON runs(plan_name, plan_rev, created_at);
      CREATE TABLE signoffs (
        run_id        TEXT PRIMARY KEY REFERENCES runs(id),
        signed_by     TEXT NOT NULL,
        signed_at     INTEGER NOT NULL,
        accepted_json TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    sql: `
      -- coord run --only CHECK: the check ids a task runs (empty: all).
      ALTER TABLE tasks ADD COLUMN only_checks_json TEXT NOT NULL DEFAULT '[]';
      -- Overrides of a narrowed run (RunOptions.overrides) accepted by name at sign-off.
      ALTER TABLE signoffs ADD COLUMN accepted_overrides_json TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 5,
    sql: `
      -- Each node's liveness as the fleet saw it (coordinator/fleet/liveness-events.ts): connected,
      -- disconnected (why), lost (the verdict), refused (admission's reason). id keeps the order of
      -- events within one millisecond (a replaced stream's end, then the new one's start).
      CREATE TABLE node_events (
        id        INTEGER PRIMARY KEY,
        node_name TEXT NOT NULL,
        at        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        why       TEXT NOT NULL,
        address   TEXT NOT NULL
      );
      CREATE INDEX node_events_by_node ON node_events(node_name, at, id);
    `,
  },
  {
    version: 6,
    sql: `
      -- Enrollment tokens with a use count (0: any number until they expire) and revocation.
      ALTER TABLE enroll_tokens ADD COLUMN max_uses INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE enroll_tokens ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE enroll_tokens ADD COLUMN revoked_at INTEGER;
    `,
  },
  {
    version: 7,
    sql: `
      -- The boot id each event was numbered under: the same seq from another boot is a fork
      -- (two machines numbering one node's events), not a resend.
      ALTER TABLE agent_events ADD COLUMN origin_boot_id TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 8,
    sql: `
      -- Control tokens per person (coordinator/store/people.ts): the sha256 of the token, whose it
      -- is and the role it carries. A person has at most one live token (checked on insert); a
      -- revoked or expired row stays, so the log of who could do what is kept.
      CREATE TABLE person_tokens (
        hash        TEXT PRIMARY KEY,
        person      TEXT NOT NULL,
        role        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        created_by  TEXT NOT NULL,
        expires_at  INTEGER,
        revoked_at  INTEGER
      );
      CREATE INDEX person_tokens_by_person ON person_tokens(person, created_at);
    `,
  },
  {
    version: 9,
    sql: `
      -- mTLS (coordinator/tls/): the sha256 of the public key a node's client certificate is issued
      -- for, bound at enrollment ('' until the node first connects over TLS); how it last connected.
      ALTER TABLE nodes ADD COLUMN key_sha256 TEXT NOT NULL DEFAULT '';
      ALTER TABLE nodes ADD COLUMN transport TEXT NOT NULL DEFAULT 'plaintext';
      -- Another machine that claimed a registered name and was refused (one row a name: the latest
      -- claimant), shown by coord nodes until coord nodes replace or forget. replace sets approved_at:
      -- that machine's next enrollment takes the name.
      CREATE TABLE node_claims (
        name        TEXT PRIMARY KEY,
        machine_id  TEXT NOT NULL,
        hostname    TEXT NOT NULL,
        address     TEXT NOT NULL,
        attempts    INTEGER NOT NULL,
        first_at    INTEGER NOT NULL,
        last_at     INTEGER NOT NULL,
        approved_at INTEGER
      );
      -- What was learnt about a run after its sign-off (a signed-off run is immutable: its flags
      -- and verdict stay as signed; this is the audit trail beside them).
      CREATE TABLE run_audit (
        id     INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL,
        at     INTEGER NOT NULL,
        what   TEXT NOT NULL
      );
      CREATE INDEX run_audit_by_run ON run_audit(run_id, id);
    `,
  },
  {
    version: 10,
    sql: `
      -- Every refusal (coordinator/server/refusals.ts): counts by kind since the state dir was made,
      -- and the newest refusals one by one (bounded: the oldest rows are deleted as new ones come).
      CREATE TABLE refusal_totals (
        kind     TEXT PRIMARY KEY,
        side     TEXT NOT NULL,
        count    INTEGER NOT NULL,
        first_at INTEGER NOT NULL,
        last_at  INTEGER NOT NULL
      );
      CREATE TABLE refusals (
        id      INTEGER PRIMARY KEY,
        at      INTEGER NOT NULL,
        side    TEXT NOT NULL,
        kind    TEXT NOT NULL,
        code    TEXT NOT NULL,
        peer    TEXT NOT NULL,
        claimed TEXT NOT NULL,
        message TEXT NOT NULL
      );
    `,
  },
  {
    version: 11,
    sql: `
      -- Waivers (shared/model/waivers.ts): the waiver that covered a check result and what the check
      -- came to underneath ('' when none), and the waivers a sign-off accepted (what the signer saw).
      -- A run's waivers themselves live in runs.options_json, stored with the run.
      ALTER TABLE check_results ADD COLUMN waiver_json TEXT NOT NULL DEFAULT '';
      ALTER TABLE signoffs ADD COLUMN waivers_json TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 12,
    sql: `
      -- The files each suite of a run ships (its files:, coordinator/store/run-files.ts): sent with
      -- every task of that suite, and again after a coordinator restart; their sha256 go to the
      -- evidence bundle.
      CREATE TABLE run_files (
        run_id     TEXT NOT NULL,
        suite_path TEXT NOT NULL,
        path       TEXT NOT NULL,
        sha256     TEXT NOT NULL,
        executable INTEGER NOT NULL,
        content    BLOB NOT NULL,
        PRIMARY KEY (run_id, suite_path, path)
      );
    `,
  },
  {
    version: 13,
    sql: `
      -- The user a check's programs ran as (its suite's or its own user:), '' when the agent's own.
      ALTER TABLE check_results ADD COLUMN run_as TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 14,
    sql: `
      -- Schedules (coord.yaml schedules:, coordinator/schedules/): the schedule that started a run
      -- ('' for coord run), and each time a schedule came due: the run it started, or why it was
      -- skipped (a run of the plan still running, a node busy, a plan that does not load), and the
      -- bound (max_duration, max_checks) that ended its run, if one did.
      ALTER TABLE runs ADD COLUMN schedule TEXT NOT NULL DEFAULT '';
      CREATE TABLE schedule_fires (
        id          INTEGER PRIMARY KEY,
        schedule    TEXT NOT NULL,
        due_at      INTEGER NOT NULL,
        at          INTEGER NOT NULL,
        run_id      TEXT NOT NULL DEFAULT '',
        skip_reason TEXT NOT NULL DEFAULT '',
        bound       TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX schedule_fires_by_schedule ON schedule_fires(schedule, id);
    `,
  },
  {
    version: 15,
    sql: `
      -- Node lifecycle (coord nodes drain|undrain|label, issue 17): kept on the node's row, so a
      -- re-registration keeps them and coord nodes forget drops them with the node. Labels set here
      -- are merged over the agent's own (coordinator/fleet/node-labels.ts): this side wins.
      ALTER TABLE nodes ADD COLUMN coord_labels_json TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE nodes ADD COLUMN drained_at INTEGER;
      ALTER TABLE nodes ADD COLUMN drain_reason TEXT NOT NULL DEFAULT '';
      ALTER TABLE nodes ADD COLUMN drained_by TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    // sha256 of the secret the agent sent with its enrollment (Hello.enrollment_secret): the same
    // agent enrolling again after a lost Registered reply is known by it. "" for none.
    version: 16,
    sql: `ALTER TABLE nodes ADD COLUMN enrollment_secret_hash TEXT NOT NULL DEFAULT '';`,
  },
  {
    version: 17,
    sql: `
      -- Rollouts (coord rollout, issue 18): the request as sent (gate plan, suites, change file) and
      -- the rollout's state as coordinator/rollouts/core.ts keeps it, written whole after every
      -- step; each phase is an ordinary run. A node's known-good facts are what the facts: steps
      -- read after a full-mode gate passed on it: merged over the ones before, by fact name.
      CREATE TABLE rollouts (
        id           TEXT PRIMARY KEY,
        change_name  TEXT NOT NULL,
        plan_name    TEXT NOT NULL,
        status       TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        finished_at  INTEGER,
        started_by   TEXT NOT NULL,
        request      BLOB NOT NULL,
        state_json   TEXT NOT NULL
      );
      CREATE INDEX rollouts_by_status ON rollouts(status);
      CREATE TABLE known_good_facts (
        node         TEXT NOT NULL,
        fact         TEXT NOT NULL,
        value        TEXT NOT NULL,
        rollout_id   TEXT NOT NULL,
        change_name  TEXT NOT NULL,
        recorded_at  INTEGER NOT NULL,
        PRIMARY KEY (node, fact)
      );
    `,
  },
  {
    version: 18,
    sql: `
      -- Who the active coordinator is (issue 19, coordinator/ha/): one row, named 'active', written
      -- by the coordinator that holds the leadership advisory lock on PostgreSQL and renewed every
      -- few seconds; standbys read it for the active one's address. Unused on SQLite, where one
      -- coordinator owns coord.db; here so both engines keep one history with the same numbers.
      CREATE TABLE coordinator_lease (
        name         TEXT PRIMARY KEY,
        holder       TEXT NOT NULL,
        address      TEXT NOT NULL,
        acquired_at  INTEGER NOT NULL,
        renewed_at   INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL
      );
    `,
  },
];
