-- Patterns: a pattern execution's steps run as child executions, each naming its parent (the
-- pattern execution), the step it runs (`scan`, `bt[3]` for an item of a for_each, with the
-- attempt: `scan@1`) and its root (the outermost pattern, whose runner claims the shards of the
-- whole family). One child per parent and step attempt: the unique index makes creating it twice
-- impossible, so a pattern resumed after a crash never runs a step twice.
ALTER TABLE executions ADD COLUMN parent_id TEXT;
ALTER TABLE executions ADD COLUMN parent_step TEXT;
ALTER TABLE executions ADD COLUMN root_id TEXT;
CREATE UNIQUE INDEX executions_by_parent ON executions (parent_id, parent_step) WHERE parent_id IS NOT NULL;
CREATE INDEX executions_by_root ON executions (root_id) WHERE root_id IS NOT NULL;

-- The outcome of each finished step of a pattern execution (completed, failed, skipped,
-- cancelled): the engine's record of it as JSON (child, attempt, outputs, error, times).
CREATE TABLE pattern_steps (
    execution_id TEXT    NOT NULL REFERENCES executions (id),
    step         TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('completed','failed','skipped','cancelled')),
    body         TEXT    NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (execution_id, step)
) WITHOUT ROWID;
