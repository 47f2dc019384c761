/**
 * Schema migrations of the embedded SQLite database, applied in order and recorded in
 * `PRAGMA user_version`. Append new migrations; never edit one that has shipped.
 */

/** Ordered migrations; index + 1 is the schema version each one produces. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE disks (
    id          TEXT PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    parent_id   TEXT REFERENCES disks(id),
    frozen      INTEGER NOT NULL DEFAULT 0,
    depth       INTEGER NOT NULL DEFAULT 0,
    size_mb     INTEGER NOT NULL,
    created_at  TEXT NOT NULL
  );
  CREATE INDEX disks_parent ON disks(parent_id);

  CREATE TABLE volumes (
    uuid            TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('block', 'managed')),
    state           TEXT NOT NULL,
    size_mb         INTEGER,
    filesystem      TEXT,
    host_path       TEXT,
    uid             INTEGER,
    gid             INTEGER,
    persistent      INTEGER NOT NULL,
    owner_uuid      TEXT,
    head_disk       TEXT REFERENCES disks(id),
    template_uuid   TEXT,
    clone           TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    delete_lock     INTEGER NOT NULL DEFAULT 0,
    populated       INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    created_at      TEXT NOT NULL
  );

  CREATE TABLE instances (
    uuid          TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL,
    image         TEXT NOT NULL,
    memory_mb     INTEGER NOT NULL,
    vcpus         INTEGER NOT NULL,
    args          TEXT NOT NULL,
    env           TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    mac           TEXT NOT NULL,
    smbios_serial TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '[]',
    annotations   TEXT NOT NULL DEFAULT '{}',
    delete_lock   INTEGER NOT NULL DEFAULT 0,
    autostart     INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    stopped_at    TEXT,
    boot_time_ms  REAL,
    exit_code     INTEGER,
    stop_reason   TEXT,
    start_count   INTEGER NOT NULL DEFAULT 0,
    accelerator   TEXT,
    snapshot_uuid TEXT,
    template      TEXT,
    branch        TEXT,
    pid           INTEGER,
    error         TEXT
  );

  CREATE TABLE attachments (
    volume_uuid   TEXT NOT NULL REFERENCES volumes(uuid),
    instance_uuid TEXT NOT NULL REFERENCES instances(uuid),
    at            TEXT NOT NULL,
    readonly      INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (volume_uuid, instance_uuid)
  );
  CREATE INDEX attachments_instance ON attachments(instance_uuid);

  CREATE TABLE ports (
    instance_uuid TEXT NOT NULL REFERENCES instances(uuid),
    guest_port    INTEGER NOT NULL,
    protocol      TEXT NOT NULL,
    host_port     INTEGER NOT NULL,
    requested     INTEGER NOT NULL,
    PRIMARY KEY (instance_uuid, guest_port, protocol)
  );
  CREATE UNIQUE INDEX ports_host ON ports(host_port, protocol);

  CREATE TABLE snapshots (
    uuid          TEXT PRIMARY KEY,
    source_uuid   TEXT NOT NULL,
    source_name   TEXT NOT NULL,
    purpose       TEXT NOT NULL CHECK (purpose IN ('branch', 'standby', 'template')),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    has_memory    INTEGER NOT NULL,
    ram_path      TEXT,
    devstate_path TEXT,
    machine       TEXT NOT NULL,
    pause_ms      REAL,
    created_at    TEXT NOT NULL
  );

  CREATE TABLE snapshot_disks (
    snapshot_uuid TEXT NOT NULL REFERENCES snapshots(uuid),
    volume_uuid   TEXT NOT NULL,
    disk_id       TEXT NOT NULL REFERENCES disks(id),
    at            TEXT NOT NULL,
    readonly      INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (snapshot_uuid, volume_uuid)
  );
  `,
  // 2: checkpoints (instances in state `checkpoint` with what they captured), delete-on-idle
  // policies of templates and checkpoints, the checkpoint lineage instances inherit, and the
  // history of state transitions. Triggers record every transition in the same transaction as the
  // change itself, whatever code path made it, and forget an instance's history with the instance.
  `
  ALTER TABLE instances ADD COLUMN checkpoint TEXT;
  ALTER TABLE instances ADD COLUMN from_checkpoint TEXT;
  ALTER TABLE instances ADD COLUMN lineage TEXT;
  ALTER TABLE instances ADD COLUMN autokill_ms INTEGER;
  ALTER TABLE instances ADD COLUMN last_used_at TEXT;

  CREATE TABLE instance_transitions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_uuid TEXT NOT NULL,
    at            TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT NOT NULL,
    stop_reason   TEXT,
    error         TEXT,
    exit_code     INTEGER,
    boot_time_ms  REAL
  );
  CREATE INDEX instance_transitions_instance ON instance_transitions(instance_uuid, id);

  CREATE TRIGGER instance_transition_created AFTER INSERT ON instances BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (new.uuid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NULL, new.state, new.stop_reason, new.error, new.exit_code, new.boot_time_ms);
  END;

  CREATE TRIGGER instance_transition_changed AFTER UPDATE OF state ON instances WHEN old.state IS NOT new.state BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (new.uuid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), old.state, new.state, new.stop_reason, new.error, new.exit_code, new.boot_time_ms);
    -- The newest 1000 transitions per instance are kept.
    DELETE FROM instance_transitions WHERE instance_uuid = new.uuid AND id <= (
      SELECT id FROM instance_transitions WHERE instance_uuid = new.uuid ORDER BY id DESC LIMIT 1 OFFSET 1000);
  END;

  CREATE TRIGGER instance_transition_forgotten AFTER DELETE ON instances BEGIN
    DELETE FROM instance_transitions WHERE instance_uuid = old.uuid;
  END;
  `,
  // 3: whether an instance's guest may open connections beyond the host (off: isolated).
  `
  ALTER TABLE instances ADD COLUMN outbound_network INTEGER NOT NULL DEFAULT 0;
  `,
  // 4: the operation journal (core/journal.ts): one row per multi-step operation in flight, written
  // before its first irreversible step and deleted after its last, so a restart finishes or undoes it.
  `
  CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    intent      TEXT NOT NULL,
    started_at  TEXT NOT NULL
  );
  `,
  // 5: instance templates are marked by their own flag, no longer by state 'template': `state` keeps
  // what the instance was when converted (stopped or standby), so every state test in core sees a
  // real state and only the template queries look at the flag. The conversion is still a recorded
  // transition (to 'template', which the API shows as the template's state): a trigger on the flag
  // writes it, as the state trigger did. Existing templates take back the state their conversion's
  // transition left (its from_state); one whose history lacks it (converted before migration 2, or
  // trimmed) is standby when it holds a memory snapshot, else stopped. The state trigger is dropped
  // around that update so it records no transition that never happened, then made again unchanged;
  // the flag's trigger is made after the update for the same reason.
  `
  ALTER TABLE instances ADD COLUMN is_template INTEGER NOT NULL DEFAULT 0;

  DROP TRIGGER instance_transition_changed;

  UPDATE instances SET is_template = 1, state = COALESCE(
    (SELECT t.from_state FROM instance_transitions t
      WHERE t.instance_uuid = instances.uuid AND t.to_state = 'template' AND t.from_state IN ('stopped', 'standby')
      ORDER BY t.id DESC LIMIT 1),
    CASE WHEN EXISTS (SELECT 1 FROM snapshots s WHERE s.uuid = instances.snapshot_uuid AND s.has_memory = 1) THEN 'standby' ELSE 'stopped' END)
  WHERE state = 'template';

  CREATE TRIGGER instance_transition_changed AFTER UPDATE OF state ON instances WHEN old.state IS NOT new.state BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (new.uuid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), old.state, new.state, new.stop_reason, new.error, new.exit_code, new.boot_time_ms);
    -- The newest 1000 transitions per instance are kept.
    DELETE FROM instance_transitions WHERE instance_uuid = new.uuid AND id <= (
      SELECT id FROM instance_transitions WHERE instance_uuid = new.uuid ORDER BY id DESC LIMIT 1 OFFSET 1000);
  END;

  CREATE TRIGGER instance_transition_templated AFTER UPDATE OF is_template ON instances WHEN new.is_template = 1 AND old.is_template = 0 BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (new.uuid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), old.state, 'template', new.stop_reason, new.error, new.exit_code, new.boot_time_ms);
    DELETE FROM instance_transitions WHERE instance_uuid = new.uuid AND id <= (
      SELECT id FROM instance_transitions WHERE instance_uuid = new.uuid ORDER BY id DESC LIMIT 1 OFFSET 1000);
  END;
  `,
  // 6: volume templates are marked by their own flag too, no longer by state 'template', so a state
  // test in core sees a real state and only the template queries and rules look at the flag. A
  // volume becomes a template only from 'available' (its own conversion requires it, and the volumes
  // an instance template takes were attached, which requires it too; 'mounted' is only shown, never
  // stored), so existing templates take that state back. Volumes keep no history: nothing to carry over.
  `
  ALTER TABLE volumes ADD COLUMN is_template INTEGER NOT NULL DEFAULT 0;

  UPDATE volumes SET is_template = 1, state = 'available' WHERE state = 'template';
  `,
  // 7: terms of office (docs/operations.md, "Terms"). Each serve that takes the state starts a new
  // term, one row with the next epoch, and writes its epoch with every journal entry it opens. A
  // journal entry of any epoch but the newest is refused here, in the database, so a serve that
  // was superseded (its session lost, a standby started since) cannot start an operation, whatever
  // it believes. Existing entries were opened by earlier serves: epoch 0, settled by the next start.
  `
  CREATE TABLE terms (
    epoch       INTEGER PRIMARY KEY,
    holder      TEXT NOT NULL,
    started_at  TEXT NOT NULL
  );

  ALTER TABLE operations ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;

  CREATE TRIGGER operation_of_current_term BEFORE INSERT ON operations
    WHEN new.epoch IS NOT (SELECT COALESCE(MAX(epoch), 0) FROM terms) BEGIN
    SELECT RAISE(ABORT, 'the operation belongs to a superseded term');
  END;
  `,
  // 8: hosts (docs/cluster.md, "Hosts"): the machines the control plane places instances and volumes
  // on, each with its heartbeat and memory figures, and the host each instance and volume lives on.
  // Rows made before this version hold no host (NULL); serve gives them its own host's name when it
  // starts, since until now every instance and volume lived on the machine of that serve. No foreign
  // key: an instance keeps naming its host even while that host's row is being re-registered.
  `
  CREATE TABLE hosts (
    name            TEXT PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('online', 'offline')),
    memory_total_mib INTEGER,
    memory_free_mib INTEGER,
    last_heartbeat  TEXT,
    joined_at       TEXT NOT NULL
  );

  ALTER TABLE instances ADD COLUMN host TEXT;
  ALTER TABLE volumes ADD COLUMN host TEXT;
  CREATE INDEX instances_host ON instances(host);
  CREATE INDEX volumes_host ON volumes(host);
  `,
  // 9: the host each disk file and memory snapshot is on (docs/cluster.md): with many hosts a file
  // is on the host of the volume or instance it was made for, and deleting it is that host's
  // agent's work, also once the instance is gone. NULL in older rows, which serve gives its own
  // host at start as for instances and volumes.
  `
  ALTER TABLE disks ADD COLUMN host TEXT;
  ALTER TABLE snapshots ADD COLUMN host TEXT;
  `,
  // 10: copies of frozen layers on other hosts (docs/cluster.md, "Branching across hosts"): a
  // layer sent to another host for a branch there is kept at the same path, named here so the
  // next branch finds it there (cached by id), the doctor knows it, and its release removes it too.
  `
  CREATE TABLE disk_copies (
    disk_id  TEXT NOT NULL REFERENCES disks(id),
    host     TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    copied_at TEXT NOT NULL,
    PRIMARY KEY (disk_id, host)
  );
  `,
];
