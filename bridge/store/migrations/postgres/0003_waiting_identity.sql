-- An event may wait for its visitor's identity (`waiting_identity`, docs/identity.md). The
-- partial index holds only the waiting events, so the worker finds them without reading the
-- others.
ALTER TABLE events DROP CONSTRAINT events_outcome_check;
ALTER TABLE events ADD CONSTRAINT events_outcome_check
    CHECK (outcome IN ('accepted', 'ignored', 'unmapped', 'duplicate', 'waiting_identity'));
CREATE INDEX events_waiting ON events (id) WHERE outcome = 'waiting_identity';
