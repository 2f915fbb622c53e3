-- An event may wait for its visitor's identity (`waiting_identity`, docs/identity.md). The
-- outcome's CHECK is widened in place, as 0002 edits it (every stored row meets the wider
-- one); the partial index holds only the waiting events, so the worker finds them without
-- reading the others. Creating it advances the schema version for every open connection.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(
    sql,
    'OR outcome = ''duplicate'')',
    'OR outcome = ''duplicate'' OR outcome = ''waiting_identity'')'
)
WHERE type = 'table' AND name = 'events';
PRAGMA writable_schema = OFF;
CREATE INDEX events_waiting ON events (id) WHERE outcome = 'waiting_identity';
