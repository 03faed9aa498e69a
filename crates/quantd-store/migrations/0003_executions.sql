-- Executions, their shards, their events and their results. Times are Unix milliseconds.
CREATE TABLE executions (
    id             TEXT    PRIMARY KEY,
    workspace      TEXT    NOT NULL DEFAULT 'default',
    kind           TEXT    NOT NULL,
    name           TEXT,                               -- the code name, for history and summary
    state          TEXT    NOT NULL CHECK (state IN ('pending','running','paused','completed','failed','cancelled')),
    spec           TEXT    NOT NULL,                   -- JSON: what was asked
    fingerprint    TEXT    NOT NULL,
    pack_id        TEXT    NOT NULL,
    code_version   TEXT,
    options        TEXT    NOT NULL,                   -- JSON: retry policy, shard failure policy
    shards_total   INTEGER NOT NULL,
    shards_done    INTEGER NOT NULL DEFAULT 0,
    shards_failed  INTEGER NOT NULL DEFAULT 0,
    bars           INTEGER NOT NULL DEFAULT 0,
    rows           INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,         -- shard attempts started
    failed_attempts INTEGER NOT NULL DEFAULT 0,        -- shard attempts that ended in an error
    next_seq       INTEGER NOT NULL DEFAULT 1,         -- the next event's sequence number
    error_class    TEXT,
    error_message  TEXT,
    summary        TEXT,                               -- JSON metrics of a finished execution
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER
);
CREATE INDEX executions_by_time ON executions (workspace, created_at DESC, id DESC);
CREATE INDEX executions_by_name ON executions (workspace, name, created_at DESC);
CREATE INDEX executions_by_fingerprint ON executions (fingerprint, state);
CREATE INDEX executions_unfinished ON executions (state) WHERE state IN ('pending', 'running', 'paused');

CREATE TABLE shards (
    execution_id     TEXT    NOT NULL REFERENCES executions (id),
    idx              INTEGER NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending','running','done','failed','cancelled')),
    payload          TEXT    NOT NULL,                 -- JSON: the slice of work
    attempt          INTEGER NOT NULL DEFAULT 0,
    not_before       INTEGER NOT NULL DEFAULT 0,       -- backoff: not claimed before this time
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    bars             INTEGER NOT NULL DEFAULT 0,
    rows             INTEGER NOT NULL DEFAULT 0,
    error_class      TEXT,
    error_message    TEXT,
    started_at       INTEGER,
    finished_at      INTEGER,
    PRIMARY KEY (execution_id, idx)
) WITHOUT ROWID;
CREATE INDEX shards_claimable ON shards (state, not_before);

CREATE TABLE events (
    execution_id TEXT    NOT NULL REFERENCES executions (id),
    seq          INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    body         TEXT    NOT NULL,                     -- JSON of quantd_core::Event
    PRIMARY KEY (execution_id, seq)
) WITHOUT ROWID;

-- One row per finished shard: its results, encoded by the engine. Committed in the same transaction
-- as the shard's `done` state; the primary key makes a second commit of the same shard impossible.
CREATE TABLE shard_results (
    execution_id TEXT    NOT NULL REFERENCES executions (id),
    idx          INTEGER NOT NULL,
    rows         INTEGER NOT NULL,
    body         BLOB    NOT NULL,
    PRIMARY KEY (execution_id, idx)
) WITHOUT ROWID;

CREATE TABLE health (
    execution_id TEXT    NOT NULL REFERENCES executions (id),
    at           INTEGER NOT NULL,
    score        INTEGER NOT NULL,
    band         TEXT    NOT NULL,
    body         TEXT    NOT NULL,                     -- JSON of the full snapshot
    PRIMARY KEY (execution_id, at)
) WITHOUT ROWID;
