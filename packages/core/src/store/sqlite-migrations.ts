/**
 * The statements that bring a file of an older schema version to the next
 * (see `sqlite-schema.ts`, which says what each version added), and
 * `key_history`, which version 8 added and the current schema holds.
 */
/**
 * A key's past versions, this node's alone: `conflict` is the change cursor
 * at which the version was found to have lost to a write that had not seen
 * it (NULL when it did not). `key_history_floor`: per key, the newest past
 * version the bound trimmed; nothing at or below it is kept again.
 */
export const KEY_HISTORY = `
  CREATE TABLE key_history (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value BLOB,
    wall INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL DEFAULT 'text',
    seen_wall INTEGER,
    seen_logical INTEGER,
    seen_origin TEXT,
    digest BLOB NOT NULL,
    conflict INTEGER
  );
  CREATE UNIQUE INDEX key_history_version ON key_history (key, wall, logical, origin, seq, digest);
  CREATE INDEX key_history_conflict ON key_history (conflict) WHERE conflict IS NOT NULL;
  CREATE TABLE key_history_floor (key TEXT PRIMARY KEY NOT NULL, wall INTEGER NOT NULL, logical INTEGER NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL);
`

/** The proofs of staged snapshot rows, one row a batch (`Store.stage`). */
export const SNAPSHOT_BATCH = 'CREATE TABLE snapshot_batch (sig BLOB PRIMARY KEY NOT NULL, first INTEGER NOT NULL, digests BLOB NOT NULL);'

/** From each older version still opened, the statements that bring a file to the next. */
export const MIGRATIONS: Record<number, string> = {
  4: `
    ALTER TABLE kv_store ADD COLUMN type TEXT NOT NULL DEFAULT 'text';
    ALTER TABLE op_history ADD COLUMN type TEXT NOT NULL DEFAULT 'text';
    ALTER TABLE snapshot_stage ADD COLUMN type TEXT NOT NULL DEFAULT 'text';
    UPDATE meta SET value = 5 WHERE name = 'schema_version';
  `,
  // keys changed before have no cursor: a watcher from before the upgrade gets a snapshot (floor 1)
  5: `
    CREATE TABLE changes (key TEXT PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL UNIQUE);
    INSERT INTO meta (name, value) VALUES ('change_cursor', 1), ('change_floor', 1);
    UPDATE meta SET value = 6 WHERE name = 'schema_version';
  `,
  // no op before version 7 expires: every row keeps NULL
  6: `
    ALTER TABLE kv_store ADD COLUMN expires INTEGER;
    ALTER TABLE op_history ADD COLUMN expires INTEGER;
    ALTER TABLE snapshot_stage ADD COLUMN expires INTEGER;
    CREATE INDEX kv_store_expires ON kv_store (expires) WHERE expires IS NOT NULL;
    UPDATE meta SET value = 7 WHERE name = 'schema_version';
  `,
  // ops from before have no seen; keys have no past versions yet
  7: `
    ALTER TABLE kv_store ADD COLUMN seen_wall INTEGER;
    ALTER TABLE kv_store ADD COLUMN seen_logical INTEGER;
    ALTER TABLE kv_store ADD COLUMN seen_origin TEXT;
    ALTER TABLE op_history ADD COLUMN seen_wall INTEGER;
    ALTER TABLE op_history ADD COLUMN seen_logical INTEGER;
    ALTER TABLE op_history ADD COLUMN seen_origin TEXT;
    ALTER TABLE snapshot_stage ADD COLUMN seen_wall INTEGER;
    ALTER TABLE snapshot_stage ADD COLUMN seen_logical INTEGER;
    ALTER TABLE snapshot_stage ADD COLUMN seen_origin TEXT;
    ${KEY_HISTORY}
    UPDATE meta SET value = 8 WHERE name = 'schema_version';
  `,
  // no op before version 9 is a refresh
  8: `
    ALTER TABLE kv_store ADD COLUMN refresh INTEGER;
    ALTER TABLE op_history ADD COLUMN refresh INTEGER;
    ALTER TABLE snapshot_stage ADD COLUMN refresh INTEGER;
    UPDATE meta SET value = 9 WHERE name = 'schema_version';
  `,
  9: `
    ${SNAPSHOT_BATCH}
    UPDATE meta SET value = 10 WHERE name = 'schema_version';
  `,
  // each key's cursor becomes its row's rowid; first every row goes below zero, where rows with no cursor stay
  10: `
    UPDATE kv_store SET rowid = -rowid;
    UPDATE kv_store SET rowid = (SELECT cursor FROM changes WHERE changes.key = kv_store.key) WHERE key IN (SELECT key FROM changes);
    DROP TABLE changes;
    UPDATE meta SET value = 11 WHERE name = 'schema_version';
  `
}
