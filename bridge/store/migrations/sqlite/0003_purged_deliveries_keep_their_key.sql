-- A purged delivery keeps its row, emptied: its (destination, dedupe_key) stays in the unique
-- index, so the conversion is never recorded again (by a replay or another event) while its
-- event is kept, and its id is never handed to a new delivery. Retention deletes the row with
-- its event. Every read of deliveries leaves purged rows out.
ALTER TABLE deliveries ADD COLUMN purged_at INTEGER;
