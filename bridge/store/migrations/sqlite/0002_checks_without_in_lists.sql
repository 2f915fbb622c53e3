-- The same CHECK constraints, written so SQLite can test them in place. SQLite evaluates
-- `x IN (a, b, c)` over three or more constants by building a temporary b-tree of the list
-- for every row it writes; with `=` and `OR` it compares directly (docs/benchmarks.md,
-- "the store's statements"). SQLite cannot alter a constraint, so the tables' stored definitions are edited,
-- as sqlite.org/lang_altertable.html describes for constraint changes that every stored row
-- already meets (these accept exactly the same values). The CREATE and DROP at the end advance
-- the schema version, so every open connection reads the new definitions. A definition that
-- does not hold the old text is left as it is.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(
    sql,
    'CHECK (outcome IN (''accepted'', ''ignored'', ''unmapped'', ''duplicate''))',
    'CHECK (outcome = ''accepted'' OR outcome = ''ignored'' OR outcome = ''unmapped'' OR outcome = ''duplicate'')'
)
WHERE type = 'table' AND name = 'events';
UPDATE sqlite_master
SET sql = replace(
    sql,
    'CHECK (status IN (''pending'', ''delivered'', ''dead''))',
    'CHECK (status = ''pending'' OR status = ''delivered'' OR status = ''dead'')'
)
WHERE type = 'table' AND name = 'deliveries';
PRAGMA writable_schema = OFF;
CREATE TABLE schema_reload (unused INTEGER);
DROP TABLE schema_reload;
