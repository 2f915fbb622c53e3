-- Events: one row per verified sender event. (source, event_id) is the idempotency key.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('accepted', 'ignored', 'unmapped', 'duplicate')),
    detail      BLOB    NOT NULL,
    payload     BLOB,
    UNIQUE (source, event_id)
);
CREATE INDEX events_received_at ON events (received_at);

-- Deliveries: one row per (conversion, destination). (destination, dedupe_key) keeps one
-- purchase from being counted twice when several sender events report it.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    event_ref       INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule            TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL,
    conversion      BLOB    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_status     INTEGER,
    last_answer     TEXT,
    finished_at     INTEGER,
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
