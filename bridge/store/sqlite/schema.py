"""The SQLite store's schema as it stands after every migration, to read in one place.

The migrations (`bridge/store/migrations/sqlite/`) build it; a test holds a migrated store
to this text, so a migration that changes the schema changes this file too.
"""

SCHEMA = """
-- Applied migrations, one row each.
CREATE TABLE schema_migrations
(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);

-- Events: one row per verified sender event. (source, event_id) is the idempotency key.
-- `payload` is the raw body, NULL once retention erased it.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL
                CHECK (outcome = 'accepted' OR outcome = 'ignored' OR outcome = 'unmapped'
                       OR outcome = 'duplicate' OR outcome = 'waiting_identity'),
    detail      BLOB    NOT NULL,
    payload     BLOB,
    UNIQUE (source, event_id)
);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_waiting ON events (id) WHERE outcome = 'waiting_identity';

-- Deliveries: one row per (conversion, destination). (destination, dedupe_key) keeps one
-- purchase from being counted twice when several sender events report it. A purged delivery
-- keeps its row, emptied (`purged_at` set), so its key and id are never used again while its
-- event is kept; every read leaves purged rows out.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    event_ref       INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule            TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL,
    conversion      BLOB    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status = 'pending' OR status = 'delivered' OR status = 'dead'),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_answer     TEXT,
    finished_at     INTEGER,
    purged_at       INTEGER,
    UNIQUE (destination, dedupe_key)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_event ON deliveries (event_ref);

-- Attempts: every try with the vendor's status and answer, for "why didn't it show up?".
CREATE TABLE attempts (
    id           INTEGER PRIMARY KEY,
    delivery_ref INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempted_at INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    http_status  INTEGER,
    outcome      TEXT    NOT NULL,
    answer       TEXT
);
CREATE INDEX attempts_delivery ON attempts (delivery_ref);

-- The identity ledger. Sightings: each vendor's latest ids per browser reference, as JSON text
-- with sorted keys (an identical repeat compares equal and writes nothing). A rowid table: the
-- ids of a Convert visitor with its bucketing can take a few KB, too large for WITHOUT ROWID.
CREATE TABLE identity_sightings (
    ledger      TEXT    NOT NULL,
    ref         TEXT    NOT NULL,
    vendor      TEXT    NOT NULL,
    ids         TEXT    NOT NULL,
    captured_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (ledger, ref, vendor)
);
CREATE INDEX identity_sightings_expires_at ON identity_sightings (expires_at);

-- Links: a key a webhook carries (`customer:cus_123`), tied to the reference first seen with
-- it. Small rows, read and written by their key alone: one b-tree.
CREATE TABLE identity_links (
    ledger     TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    ref        TEXT    NOT NULL,
    linked_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (ledger, key)
) WITHOUT ROWID;
CREATE INDEX identity_links_expires_at ON identity_links (expires_at);
"""
