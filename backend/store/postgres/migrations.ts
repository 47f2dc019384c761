/**
 * Schema migrations of the PostgreSQL store: the same tables, columns, constraints, indexes and
 * triggers as the SQLite migrations (../migrations.ts), one entry per SQLite entry, so a schema
 * version means the same schema on both engines. Append new migrations to both lists together;
 * never edit one that has shipped. A unit test fails when the lists differ in length, and the
 * backend layer compares the two schemas applied to real databases (store-postgres.test.ts).
 *
 * Types: TEXT stays TEXT (JSON columns too: the store writes exact JSON text, which jsonb would
 * normalise); INTEGER is BIGINT (SQLite's integers are 64-bit), except the 0/1 flags, which are
 * BOOLEAN; REAL is DOUBLE PRECISION. SQLite's trigger bodies become PL/pgSQL functions with
 * triggers of the same names.
 */

/** `at` of a transition: UTC with milliseconds, as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ', 'now') writes it. */
const NOW = `to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The newest 1000 transitions per instance are kept (as in the SQLite triggers). */
const TRIM = `
    DELETE FROM instance_transitions WHERE instance_uuid = NEW.uuid AND id <= (
      SELECT id FROM instance_transitions WHERE instance_uuid = NEW.uuid ORDER BY id DESC LIMIT 1 OFFSET 1000);`;

/** Ordered migrations; index + 1 is the schema version each one produces (the same as MIGRATIONS'). */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE disks (
    id          TEXT PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    parent_id   TEXT REFERENCES disks(id),
    frozen      BOOLEAN NOT NULL DEFAULT false,
    depth       BIGINT NOT NULL DEFAULT 0,
    size_mb     BIGINT NOT NULL,
    created_at  TEXT NOT NULL
  );
  CREATE INDEX disks_parent ON disks(parent_id);

  CREATE TABLE volumes (
    uuid            TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('block', 'managed')),
    state           TEXT NOT NULL,
    size_mb         BIGINT,
    filesystem      TEXT,
    host_path       TEXT,
    uid             BIGINT,
    gid             BIGINT,
    persistent      BOOLEAN NOT NULL,
    owner_uuid      TEXT,
    head_disk       TEXT REFERENCES disks(id),
    template_uuid   TEXT,
    clone           TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    delete_lock     BOOLEAN NOT NULL DEFAULT false,
    populated       BOOLEAN NOT NULL DEFAULT false,
    error           TEXT,
    created_at      TEXT NOT NULL
  );

  CREATE TABLE instances (
    uuid          TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL,
    image         TEXT NOT NULL,
    memory_mb     BIGINT NOT NULL,
    vcpus         BIGINT NOT NULL,
    args          TEXT NOT NULL,
    env           TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    mac           TEXT NOT NULL,
    smbios_serial TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '[]',
    annotations   TEXT NOT NULL DEFAULT '{}',
    delete_lock   BOOLEAN NOT NULL DEFAULT false,
    autostart     BOOLEAN NOT NULL DEFAULT false,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    stopped_at    TEXT,
    boot_time_ms  DOUBLE PRECISION,
    exit_code     BIGINT,
    stop_reason   TEXT,
    start_count   BIGINT NOT NULL DEFAULT 0,
    accelerator   TEXT,
    snapshot_uuid TEXT,
    template      TEXT,
    branch        TEXT,
    pid           BIGINT,
    error         TEXT
  );

  CREATE TABLE attachments (
    volume_uuid   TEXT NOT NULL REFERENCES volumes(uuid),
    instance_uuid TEXT NOT NULL REFERENCES instances(uuid),
    at            TEXT NOT NULL,
    readonly      BOOLEAN NOT NULL,
    position      BIGINT NOT NULL,
    PRIMARY KEY (volume_uuid, instance_uuid)
  );
  CREATE INDEX attachments_instance ON attachments(instance_uuid);

  CREATE TABLE ports (
    instance_uuid TEXT NOT NULL REFERENCES instances(uuid),
    guest_port    BIGINT NOT NULL,
    protocol      TEXT NOT NULL,
    host_port     BIGINT NOT NULL,
    requested     BOOLEAN NOT NULL,
    PRIMARY KEY (instance_uuid, guest_port, protocol)
  );
  CREATE UNIQUE INDEX ports_host ON ports(host_port, protocol);

  CREATE TABLE snapshots (
    uuid          TEXT PRIMARY KEY,
    source_uuid   TEXT NOT NULL,
    source_name   TEXT NOT NULL,
    purpose       TEXT NOT NULL CHECK (purpose IN ('branch', 'standby', 'template')),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'failed')),
    has_memory    BOOLEAN NOT NULL,
    ram_path      TEXT,
    devstate_path TEXT,
    machine       TEXT NOT NULL,
    pause_ms      DOUBLE PRECISION,
    created_at    TEXT NOT NULL
  );

  CREATE TABLE snapshot_disks (
    snapshot_uuid TEXT NOT NULL REFERENCES snapshots(uuid),
    volume_uuid   TEXT NOT NULL,
    disk_id       TEXT NOT NULL REFERENCES disks(id),
    at            TEXT NOT NULL,
    readonly      BOOLEAN NOT NULL,
    position      BIGINT NOT NULL,
    PRIMARY KEY (snapshot_uuid, volume_uuid)
  );
  `,
  // 2: checkpoints, delete-on-idle policies, lineage, and the history of state transitions written
  // by triggers in the same transaction as the change (see ../migrations.ts).
  `
  ALTER TABLE instances ADD COLUMN checkpoint TEXT;
  ALTER TABLE instances ADD COLUMN from_checkpoint TEXT;
  ALTER TABLE instances ADD COLUMN lineage TEXT;
  ALTER TABLE instances ADD COLUMN autokill_ms BIGINT;
  ALTER TABLE instances ADD COLUMN last_used_at TEXT;

  CREATE TABLE instance_transitions (
    id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    instance_uuid TEXT NOT NULL,
    at            TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT NOT NULL,
    stop_reason   TEXT,
    error         TEXT,
    exit_code     BIGINT,
    boot_time_ms  DOUBLE PRECISION
  );
  CREATE INDEX instance_transitions_instance ON instance_transitions(instance_uuid, id);

  CREATE FUNCTION instance_transition_created() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (NEW.uuid, ${NOW}, NULL, NEW.state, NEW.stop_reason, NEW.error, NEW.exit_code, NEW.boot_time_ms);
    RETURN NULL;
  END $$;
  CREATE TRIGGER instance_transition_created AFTER INSERT ON instances
    FOR EACH ROW EXECUTE FUNCTION instance_transition_created();

  CREATE FUNCTION instance_transition_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (NEW.uuid, ${NOW}, OLD.state, NEW.state, NEW.stop_reason, NEW.error, NEW.exit_code, NEW.boot_time_ms);${TRIM}
    RETURN NULL;
  END $$;
  CREATE TRIGGER instance_transition_changed AFTER UPDATE OF state ON instances
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION instance_transition_changed();

  CREATE FUNCTION instance_transition_forgotten() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM instance_transitions WHERE instance_uuid = OLD.uuid;
    RETURN NULL;
  END $$;
  CREATE TRIGGER instance_transition_forgotten AFTER DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION instance_transition_forgotten();
  `,
  // 3: whether an instance's guest may open connections beyond the host (off: isolated).
  `
  ALTER TABLE instances ADD COLUMN outbound_network BOOLEAN NOT NULL DEFAULT false;
  `,
  // 4: the operation journal (core/journal.ts).
  `
  CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    intent      TEXT NOT NULL,
    started_at  TEXT NOT NULL
  );
  `,
  // 5: instance templates are a flag, not state 'template' (see ../migrations.ts for why). The state
  // trigger is dropped around the update so it records no transition that never happened; the
  // flag's trigger is made after the update for the same reason.
  `
  ALTER TABLE instances ADD COLUMN is_template BOOLEAN NOT NULL DEFAULT false;

  DROP TRIGGER instance_transition_changed ON instances;

  UPDATE instances SET is_template = true, state = COALESCE(
    (SELECT t.from_state FROM instance_transitions t
      WHERE t.instance_uuid = instances.uuid AND t.to_state = 'template' AND t.from_state IN ('stopped', 'standby')
      ORDER BY t.id DESC LIMIT 1),
    CASE WHEN EXISTS (SELECT 1 FROM snapshots s WHERE s.uuid = instances.snapshot_uuid AND s.has_memory) THEN 'standby' ELSE 'stopped' END)
  WHERE state = 'template';

  CREATE TRIGGER instance_transition_changed AFTER UPDATE OF state ON instances
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION instance_transition_changed();

  CREATE FUNCTION instance_transition_templated() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO instance_transitions (instance_uuid, at, from_state, to_state, stop_reason, error, exit_code, boot_time_ms)
    VALUES (NEW.uuid, ${NOW}, OLD.state, 'template', NEW.stop_reason, NEW.error, NEW.exit_code, NEW.boot_time_ms);${TRIM}
    RETURN NULL;
  END $$;
  CREATE TRIGGER instance_transition_templated AFTER UPDATE OF is_template ON instances
    FOR EACH ROW WHEN (NEW.is_template AND NOT OLD.is_template) EXECUTE FUNCTION instance_transition_templated();
  `,
  // 6: volume templates are a flag too, not state 'template'; they take back 'available', the only
  // state a volume becomes a template from (see ../migrations.ts).
  `
  ALTER TABLE volumes ADD COLUMN is_template BOOLEAN NOT NULL DEFAULT false;

  UPDATE volumes SET is_template = true, state = 'available' WHERE state = 'template';
  `,
  // 7: terms of office: a row per serve that took the state, and the epoch of each journal entry,
  // refused unless it is the newest (see ../migrations.ts for why).
  `
  CREATE TABLE terms (
    epoch       BIGINT PRIMARY KEY,
    holder      TEXT NOT NULL,
    started_at  TEXT NOT NULL
  );

  ALTER TABLE operations ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;

  CREATE FUNCTION operation_of_current_term() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF NEW.epoch IS DISTINCT FROM (SELECT COALESCE(MAX(epoch), 0) FROM terms) THEN
      RAISE EXCEPTION 'the operation belongs to a superseded term';
    END IF;
    RETURN NEW;
  END $$;
  CREATE TRIGGER operation_of_current_term BEFORE INSERT ON operations
    FOR EACH ROW EXECUTE FUNCTION operation_of_current_term();
  `,
  // 8: hosts and the host of each instance and volume (see ../migrations.ts for why NULL first).
  `
  CREATE TABLE hosts (
    name            TEXT PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ('online', 'offline')),
    memory_total_mib BIGINT,
    memory_free_mib BIGINT,
    last_heartbeat  TEXT,
    joined_at       TEXT NOT NULL
  );

  ALTER TABLE instances ADD COLUMN host TEXT;
  ALTER TABLE volumes ADD COLUMN host TEXT;
  CREATE INDEX instances_host ON instances(host);
  CREATE INDEX volumes_host ON volumes(host);
  `,
  // 9: the host of each disk file and memory snapshot (see ../migrations.ts).
  `
  ALTER TABLE disks ADD COLUMN host TEXT;
  ALTER TABLE snapshots ADD COLUMN host TEXT;
  `,
  // 10: copies of frozen layers on other hosts (see ../migrations.ts).
  `
  CREATE TABLE disk_copies (
    disk_id  TEXT NOT NULL REFERENCES disks(id),
    host     TEXT NOT NULL,
    bytes    BIGINT NOT NULL,
    copied_at TEXT NOT NULL,
    PRIMARY KEY (disk_id, host)
  );
  `,
];
