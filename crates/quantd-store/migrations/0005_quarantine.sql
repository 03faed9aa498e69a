-- Result accounting: the bytes of results an execution has stored, bounded by the engine.
-- Crash accounting. A shard's `crashes` counts the attempts that ended without an outcome of their
-- own: the worker panicked while running or committing it, its process died, or its lease expired.
-- An execution one of whose shards reaches the engine's limit is `quarantined`: failed (class
-- internal) instead of resumed forever; only an explicit `quantd resume --force` runs it again.
ALTER TABLE shards ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN result_bytes INTEGER NOT NULL DEFAULT 0;
