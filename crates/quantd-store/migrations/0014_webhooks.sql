-- Webhooks of each workspace and their deliveries (an outbox). A delivery row is written by a
-- trigger in the same transaction that moves an execution to `completed`, `failed` or
-- `cancelled`, whichever statement does it, so no terminal state commits without its
-- deliveries and none is written twice; the engine's delivery loop sends them later, outside
-- the execution's path, and logs every attempt.
CREATE TABLE webhooks (
    id         TEXT    PRIMARY KEY,                 -- wh_<hex>, made by the engine
    workspace  TEXT    NOT NULL,
    url        TEXT    NOT NULL,                    -- http(s), checked by the engine
    events     TEXT    NOT NULL,                    -- JSON array of terminal states: completed, failed, cancelled
    secret     TEXT    NOT NULL,                    -- HMAC-SHA256 key: needed to sign, never returned after creation
    created_at INTEGER NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhooks (workspace, created_at);

CREATE TABLE webhook_deliveries (
    id           TEXT    PRIMARY KEY,               -- dlv_<hex>: the X-Quantd-Delivery header, the same on every attempt
    webhook_id   TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    execution_id TEXT    NOT NULL,
    event        TEXT    NOT NULL,                  -- completed | failed | cancelled
    execution    TEXT    NOT NULL,                  -- JSON: the execution as the terminal change left it
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,        -- attempts started (a claim counts one)
    next_at      INTEGER NOT NULL,                  -- pending: not sent before (backoff, or the lease of an attempt in flight)
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,                   -- 1, 2, …
    at          INTEGER NOT NULL,
    status      INTEGER,                            -- the HTTP status, when one came back
    error       TEXT,                               -- why it failed (none when delivered)
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, n)
) WITHOUT ROWID;

CREATE TRIGGER webhook_outbox AFTER UPDATE OF state ON executions
WHEN NEW.state IN ('completed', 'failed', 'cancelled') AND OLD.state <> NEW.state
BEGIN
    INSERT INTO webhook_deliveries (id, webhook_id, execution_id, event, execution, state, next_at, created_at)
    SELECT 'dlv_' || lower(hex(randomblob(12))), w.id, NEW.id, NEW.state,
           json_object(
               'id', NEW.id, 'kind', NEW.kind, 'name', NEW.name, 'state', NEW.state,
               'error_class', NEW.error_class, 'error_message', NEW.error_message,
               'shards_total', NEW.shards_total, 'shards_done', NEW.shards_done,
               'shards_failed', NEW.shards_failed, 'rows', NEW.rows, 'fingerprint', NEW.fingerprint,
               'created_at', NEW.created_at, 'started_at', NEW.started_at,
               'finished_at', NEW.finished_at),
           'pending', COALESCE(NEW.finished_at, NEW.created_at), COALESCE(NEW.finished_at, NEW.created_at)
    FROM webhooks w
    WHERE w.workspace = NEW.workspace
      AND EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = NEW.state);
END;

-- Policies of each workspace: defaults its executions start from (per-class retries). The body
-- is the engine's JSON.
CREATE TABLE workspace_policies (
    workspace  TEXT    PRIMARY KEY,
    body       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Priority: executions are claimed by `claim_at` = created_at - priority x 5 minutes, so a
-- higher priority goes first and waiting work ages: effective priority = priority +
-- waited_minutes / 5, and no old low-priority execution waits forever. Time-independent, so the
-- claim still walks one index (migration 0011's, rebuilt on claim_at).
ALTER TABLE executions ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN claim_at INTEGER NOT NULL DEFAULT 0;
UPDATE executions SET claim_at = created_at;
DROP INDEX executions_claim_order;
CREATE INDEX executions_claim_order ON executions (claim_at, id) WHERE state IN ('pending', 'running');
