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
