-- Quarantine counts crashes "in a row": an execution's `crash_streak` is the number of times a
-- process or worker died (or a shard panicked) while running its shards since one of its shards
-- last committed. A commit resets it; a process holding several of its shards when it died is one
-- crash. Shards keep their own `crashes` for the record.
ALTER TABLE executions ADD COLUMN crash_streak INTEGER NOT NULL DEFAULT 0;
