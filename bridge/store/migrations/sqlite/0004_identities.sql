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
