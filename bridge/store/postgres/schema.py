"""The PostgreSQL store's schema as it stands after every migration, to read in one place.

The migrations (`bridge/store/migrations/postgres/`) build it; a test holds a migrated store
to this text, so a migration that changes the schema changes this file too.
"""

SCHEMA = """
-- Applied migrations, one row each.
CREATE TABLE schema_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL
);

-- Events: one row per verified sender event. (source, event_id) is the idempotency key.
CREATE TABLE events (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text    NOT NULL,
    event_id    text    NOT NULL,
    type        text    NOT NULL,
    received_at bigint  NOT NULL,
    outcome     text    NOT NULL
                CHECK (outcome IN ('accepted', 'ignored', 'unmapped', 'duplicate',
                                   'waiting_identity')),
    detail      bytea   NOT NULL,
    payload     bytea,
    UNIQUE (source, event_id)
);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_waiting ON events (id) WHERE outcome = 'waiting_identity';

-- One row per (destination, conversion identity) ever recorded: keeps one purchase from being
-- counted twice, whether its delivery is still queued or finished.
CREATE TABLE conversion_keys (
    destination text   NOT NULL,
    dedupe_key  text   NOT NULL,
    event_ref   bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    PRIMARY KEY (destination, dedupe_key)
);
CREATE INDEX conversion_keys_event ON conversion_keys (event_ref);

-- The queue: pending deliveries only. Finished ones move to deliveries_done, so the table that
-- FOR UPDATE SKIP LOCKED scans stays small; it is vacuumed eagerly because every delivery
-- leaves a dead row behind.
CREATE TABLE deliveries (
    id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_ref       bigint  NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule            text    NOT NULL,
    destination     text    NOT NULL,
    dedupe_key      text    NOT NULL,
    conversion      bytea   NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    created_at      bigint  NOT NULL,
    expires_at      bigint  NOT NULL,
    next_attempt_at bigint  NOT NULL,
    lease_owner     text,
    lease_until     bigint,
    last_status     integer,
    last_answer     text
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
        autovacuum_analyze_scale_factor = 0.02);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
CREATE INDEX deliveries_event ON deliveries (event_ref);

-- Finished deliveries (delivered or dead), kept for inspection until retention removes the event.
CREATE TABLE deliveries_done (
    id              bigint  PRIMARY KEY,
    event_ref       bigint  NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rule            text    NOT NULL,
    destination     text    NOT NULL,
    dedupe_key      text    NOT NULL,
    conversion      bytea   NOT NULL,
    status          text    NOT NULL CHECK (status IN ('delivered', 'dead')),
    attempts        integer NOT NULL,
    created_at      bigint  NOT NULL,
    expires_at      bigint  NOT NULL,
    next_attempt_at bigint  NOT NULL,
    last_status     integer,
    last_answer     text,
    finished_at     bigint  NOT NULL
);
CREATE INDEX deliveries_done_event ON deliveries_done (event_ref);
CREATE INDEX deliveries_done_status ON deliveries_done (status, destination);

-- Attempts: every try with the vendor's status and answer, for "why didn't it show up?".
CREATE TABLE attempts (
    id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_ref bigint  NOT NULL,
    event_ref    bigint  NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    attempted_at bigint  NOT NULL,
    duration_ms  integer NOT NULL,
    http_status  integer,
    outcome      text    NOT NULL,
    answer       text
);
CREATE INDEX attempts_delivery ON attempts (delivery_ref);
CREATE INDEX attempts_event ON attempts (event_ref);

-- The identity ledger. Sightings: each vendor's latest ids per browser reference.
CREATE TABLE identity_sightings (
    ledger      text   NOT NULL,
    ref         text   NOT NULL,
    vendor      text   NOT NULL,
    ids         jsonb  NOT NULL,
    captured_at bigint NOT NULL,
    expires_at  bigint NOT NULL,
    PRIMARY KEY (ledger, ref, vendor)
);
CREATE INDEX identity_sightings_expires_at ON identity_sightings (expires_at);

-- Links: a key a webhook carries (`customer:cus_123`), tied to the reference first seen with it.
CREATE TABLE identity_links (
    ledger     text   NOT NULL,
    key        text   NOT NULL,
    ref        text   NOT NULL,
    linked_at  bigint NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (ledger, key)
);
CREATE INDEX identity_links_expires_at ON identity_links (expires_at);
"""
