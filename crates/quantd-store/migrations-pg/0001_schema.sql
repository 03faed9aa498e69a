-- The Postgres store's schema: the same tables, columns and rules as the SQLite store's
-- migrations 0001..0014, written at once in Postgres types. Times of the queue are Unix
-- milliseconds (bigint); times of the catalog, code registry and tokens are timestamptz; JSON is
-- kept as text (read back exactly as written; the store parses it); result bodies are bytea.
-- Text compares byte by byte (COLLATE "C", as in SQLite), so lists and cursors order the same
-- whatever the database's default collation.

-- The pack catalog: one row per (name, content id). The newest complete row of a name is
-- `fresh`, older complete ones `stale`. `seq` orders imports (newest = largest), from a
-- sequence so concurrent imports never share a number.
CREATE SEQUENCE packs_seq;
CREATE TABLE packs (
    name               text COLLATE "C"        NOT NULL,
    id                 text COLLATE "C"        NOT NULL,
    state              text COLLATE "C"        NOT NULL CHECK (state IN ('warming', 'fresh', 'stale', 'error')),
    error              text COLLATE "C",
    seq                bigint      NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    estimated_ready    timestamptz,               -- while warming: when the import should finish
    import_token       text COLLATE "C",                      -- while warming: the importer's lock file name
    tickers            bigint      NOT NULL,
    bars               bigint      NOT NULL,
    first_date         date        NOT NULL,
    last_date          date        NOT NULL,
    columns            text COLLATE "C"        NOT NULL,      -- JSON array of value column names
    rows_dropped       bigint      NOT NULL DEFAULT 0,
    origin             text COLLATE "C"        NOT NULL,      -- the imported file, or `synth ...`
    rights_source      text COLLATE "C",
    rights_license     text COLLATE "C",
    rights_attribution text COLLATE "C",
    export_allowed     boolean     NOT NULL DEFAULT true,  -- kept equal to export_policy <> 'deny'
    bar_interval       text COLLATE "C"        NOT NULL DEFAULT '1d',
    zone               text COLLATE "C"        NOT NULL DEFAULT 'UTC',
    first_bar          text COLLATE "C",
    last_bar           text COLLATE "C",
    provider           text COLLATE "C",                      -- a provider of the rights registry, if named
    export_policy      text COLLATE "C"        NOT NULL DEFAULT 'allow',
    PRIMARY KEY (name, id)
);
CREATE INDEX packs_by_id ON packs (id);
CREATE INDEX packs_by_state ON packs (state, seq);
CREATE INDEX packs_by_seq ON packs (seq);

-- The code registry: immutable versions of scanners and strategies per workspace, and the names
-- that point at them.
CREATE TABLE code_versions (
    workspace   text COLLATE "C"        NOT NULL DEFAULT 'default',
    name        text COLLATE "C"        NOT NULL,
    version     bigint      NOT NULL,             -- 1, 2, … per (workspace, name)
    id          text COLLATE "C"        NOT NULL,             -- BLAKE3 of (language, source)
    language    text COLLATE "C"        NOT NULL,             -- expr | strategy | python
    source      text COLLATE "C"        NOT NULL,
    params      text COLLATE "C"        NOT NULL,             -- JSON array of parameter names the code uses
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (workspace, name, version)
);
CREATE INDEX code_versions_by_id ON code_versions (id);

CREATE TABLE code_names (
    workspace   text COLLATE "C"        NOT NULL DEFAULT 'default',
    name        text COLLATE "C"        NOT NULL,
    current     bigint      NOT NULL,             -- the version `NAME` resolves to
    deleted     boolean     NOT NULL DEFAULT false, -- removed names keep their versions for old executions
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (workspace, name)
);

-- Executions, their shards, their events and their results.
CREATE TABLE executions (
    id              text COLLATE "C"    PRIMARY KEY,
    workspace       text COLLATE "C"    NOT NULL DEFAULT 'default',
    kind            text COLLATE "C"    NOT NULL,
    name            text COLLATE "C",                           -- the code name, for history and summary
    state           text COLLATE "C"    NOT NULL CHECK (state IN ('pending','running','paused','completed','failed','cancelled')),
    spec            text COLLATE "C"    NOT NULL,               -- JSON: what was asked
    fingerprint     text COLLATE "C"    NOT NULL,
    pack_id         text COLLATE "C"    NOT NULL,
    code_version    text COLLATE "C",
    options         text COLLATE "C"    NOT NULL,               -- JSON: retry policy, shard failure policy
    shards_total    bigint  NOT NULL,
    shards_done     bigint  NOT NULL DEFAULT 0,
    shards_failed   bigint  NOT NULL DEFAULT 0,
    bars            bigint  NOT NULL DEFAULT 0,
    rows            bigint  NOT NULL DEFAULT 0,
    attempts        bigint  NOT NULL DEFAULT 0,     -- shard attempts started
    failed_attempts bigint  NOT NULL DEFAULT 0,     -- shard attempts that ended in an error
    next_seq        bigint  NOT NULL DEFAULT 1,     -- the next event's sequence number (taken under the row's lock)
    error_class     text COLLATE "C",
    error_message   text COLLATE "C",
    summary         text COLLATE "C",                           -- JSON metrics of a finished execution
    created_at      bigint  NOT NULL,
    started_at      bigint,
    finished_at     bigint,
    quarantined     boolean NOT NULL DEFAULT false, -- failed because its shards kept crashing workers
    result_bytes    bigint  NOT NULL DEFAULT 0,     -- bytes of results stored, bounded by the engine
    crash_streak    bigint  NOT NULL DEFAULT 0,     -- crashes since one of its shards last committed
    parent_id       text COLLATE "C",                           -- a pattern step's run: its pattern execution
    parent_step     text COLLATE "C",                           -- … the step (with its attempt: `scan@1`)
    root_id         text COLLATE "C",                           -- … and the outermost pattern execution
    priority        bigint  NOT NULL DEFAULT 0,
    claim_at        bigint  NOT NULL DEFAULT 0      -- created_at - priority x 5 minutes: claim order, with aging
);
CREATE INDEX executions_by_time ON executions (workspace, created_at DESC, id DESC);
CREATE INDEX executions_by_name ON executions (workspace, name, created_at DESC, id DESC);
CREATE INDEX executions_by_state ON executions (workspace, state, created_at DESC, id DESC);
CREATE INDEX executions_by_kind ON executions (workspace, kind, created_at DESC, id DESC);
CREATE INDEX executions_by_fingerprint ON executions (fingerprint, state);
CREATE INDEX executions_unfinished ON executions (state) WHERE state IN ('pending', 'running', 'paused');
CREATE UNIQUE INDEX executions_by_parent ON executions (parent_id, parent_step) WHERE parent_id IS NOT NULL;
CREATE INDEX executions_by_root ON executions (root_id) WHERE root_id IS NOT NULL;
CREATE INDEX executions_claim_order ON executions (claim_at, id) WHERE state IN ('pending', 'running');

-- A shard's lease is (lease_owner, lease_expires_at) with its claim number `claims`, which
-- counts every claim it was given and never decreases: outcomes are fenced by (owner, claims).
CREATE TABLE shards (
    execution_id     text COLLATE "C"   NOT NULL REFERENCES executions (id),
    idx              bigint NOT NULL,
    state            text COLLATE "C"   NOT NULL CHECK (state IN ('pending','running','done','failed','cancelled')),
    payload          text COLLATE "C"   NOT NULL,               -- JSON: the slice of work
    attempt          bigint NOT NULL DEFAULT 0,
    not_before       bigint NOT NULL DEFAULT 0,     -- backoff: not claimed before this time
    lease_owner      text COLLATE "C",
    lease_expires_at bigint,
    bars             bigint NOT NULL DEFAULT 0,
    rows             bigint NOT NULL DEFAULT 0,
    error_class      text COLLATE "C",
    error_message    text COLLATE "C",
    started_at       bigint,
    finished_at      bigint,
    crashes          bigint NOT NULL DEFAULT 0,     -- attempts that ended without an outcome of their own
    claims           bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (execution_id, idx)
);
CREATE INDEX shards_pending ON shards (execution_id, idx, not_before) WHERE state = 'pending';
CREATE INDEX shards_running ON shards (lease_owner) WHERE state = 'running';

CREATE TABLE events (
    execution_id text COLLATE "C"   NOT NULL REFERENCES executions (id),
    seq          bigint NOT NULL,
    at           bigint NOT NULL,
    body         text COLLATE "C"   NOT NULL,                   -- JSON of quantd_core::Event
    PRIMARY KEY (execution_id, seq)
);

-- Wakes the listeners of other processes (`LISTEN quantd_events`): the payload is the execution's
-- id, never the event (listeners read the rows), and Postgres sends one per id per transaction.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('quantd_events', NEW.execution_id);
    RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify();

-- One row per finished shard, committed with the shard's `done` state; the primary key makes a
-- second commit of the same shard impossible.
CREATE TABLE shard_results (
    execution_id text COLLATE "C"   NOT NULL REFERENCES executions (id),
    idx          bigint NOT NULL,
    rows         bigint NOT NULL,
    body         bytea  NOT NULL,
    PRIMARY KEY (execution_id, idx)
);

CREATE TABLE health (
    execution_id text COLLATE "C"   NOT NULL REFERENCES executions (id),
    at           bigint NOT NULL,
    score        bigint NOT NULL,
    band         text COLLATE "C"   NOT NULL,
    body         text COLLATE "C"   NOT NULL,                   -- JSON of the full snapshot
    PRIMARY KEY (execution_id, at)
);

-- Bearer tokens: `qdt_<id>_<secret>`; only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id          text COLLATE "C"        PRIMARY KEY,
    workspace   text COLLATE "C"        NOT NULL,
    name        text COLLATE "C",
    secret_hash text COLLATE "C"        NOT NULL,
    admin       boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

-- `Idempotency-Key` on POST /v1/executions: same key + same body ⇒ the same execution.
CREATE TABLE idempotency_keys (
    workspace    text COLLATE "C"   NOT NULL,
    key          text COLLATE "C"   NOT NULL,
    request_hash text COLLATE "C"   NOT NULL,
    execution_id text COLLATE "C"   NOT NULL REFERENCES executions (id),
    created_at   bigint NOT NULL,
    PRIMARY KEY (workspace, key)
);

-- The outcome of each finished step of a pattern execution.
CREATE TABLE pattern_steps (
    execution_id text COLLATE "C"   NOT NULL REFERENCES executions (id),
    step         text COLLATE "C"   NOT NULL,
    state        text COLLATE "C"   NOT NULL CHECK (state IN ('completed','failed','skipped','cancelled')),
    body         text COLLATE "C"   NOT NULL,
    at           bigint NOT NULL,
    PRIMARY KEY (execution_id, step)
);

-- Agents of each workspace (the engine's JSON: url, capabilities, the name of the environment
-- variable holding its secret — never the secret —, circuit breaker settings).
CREATE TABLE agents (
    workspace  text COLLATE "C"   NOT NULL,
    name       text COLLATE "C"   NOT NULL,
    body       text COLLATE "C"   NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (workspace, name)
);

-- The rights registry: providers shared by every workspace, like packs.
CREATE TABLE providers (
    name       text COLLATE "C"   PRIMARY KEY,
    body       text COLLATE "C"   NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);

-- The audit trail, append-only.
CREATE TABLE audit_log (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           bigint NOT NULL,
    workspace    text COLLATE "C"   NOT NULL,
    actor        text COLLATE "C"   NOT NULL,
    action       text COLLATE "C"   NOT NULL,
    execution_id text COLLATE "C",
    provider     text COLLATE "C",
    detail       text COLLATE "C"   NOT NULL
);
CREATE INDEX audit_by_execution ON audit_log (execution_id, seq) WHERE execution_id IS NOT NULL;
CREATE INDEX audit_by_workspace ON audit_log (workspace, seq);
CREATE INDEX audit_exports ON audit_log (seq) WHERE action LIKE 'export.%';

-- Webhooks of each workspace and their deliveries (an outbox), written by the trigger below in
-- the transaction that moves an execution to `completed`, `failed` or `cancelled`.
CREATE TABLE webhooks (
    id         text COLLATE "C"   PRIMARY KEY,
    workspace  text COLLATE "C"   NOT NULL,
    url        text COLLATE "C"   NOT NULL,
    events     text COLLATE "C"   NOT NULL,                     -- JSON array of terminal states
    secret     text COLLATE "C"   NOT NULL,                     -- HMAC-SHA256 key, never returned after creation
    created_at bigint NOT NULL
);
CREATE INDEX webhooks_by_workspace ON webhooks (workspace, created_at);

CREATE TABLE webhook_deliveries (
    id           text COLLATE "C"   PRIMARY KEY,                -- dlv_<hex>: the same on every attempt
    webhook_id   text COLLATE "C"   NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    execution_id text COLLATE "C"   NOT NULL,
    event        text COLLATE "C"   NOT NULL,                   -- completed | failed | cancelled
    execution    text COLLATE "C"   NOT NULL,                   -- JSON: the execution as the terminal change left it
    state        text COLLATE "C"   NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts     bigint NOT NULL DEFAULT 0,         -- attempts started (a claim counts one)
    next_at      bigint NOT NULL,                   -- pending: not sent before
    created_at   bigint NOT NULL,
    finished_at  bigint
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
    delivery_id text COLLATE "C"   NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    n           bigint NOT NULL,
    at          bigint NOT NULL,
    status      bigint,
    error       text COLLATE "C",
    duration_ms bigint NOT NULL,
    PRIMARY KEY (delivery_id, n)
);

CREATE FUNCTION webhook_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, webhook_id, execution_id, event, execution, state, next_at, created_at)
    SELECT 'dlv_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), w.id, NEW.id, NEW.state,
           json_build_object(
               'id', NEW.id, 'kind', NEW.kind, 'name', NEW.name, 'state', NEW.state,
               'error_class', NEW.error_class, 'error_message', NEW.error_message,
               'shards_total', NEW.shards_total, 'shards_done', NEW.shards_done,
               'shards_failed', NEW.shards_failed, 'rows', NEW.rows, 'fingerprint', NEW.fingerprint,
               'created_at', NEW.created_at, 'started_at', NEW.started_at,
               'finished_at', NEW.finished_at)::text,
           'pending', COALESCE(NEW.finished_at, NEW.created_at), COALESCE(NEW.finished_at, NEW.created_at)
    FROM webhooks w
    WHERE w.workspace = NEW.workspace
      AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(w.events::jsonb) e WHERE e COLLATE "C" = NEW.state);
    RETURN NULL;
END;
$$;

CREATE TRIGGER webhook_outbox AFTER UPDATE OF state ON executions
FOR EACH ROW
WHEN (NEW.state IN ('completed', 'failed', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state)
EXECUTE FUNCTION webhook_outbox();

-- Policies of each workspace (the engine's JSON).
CREATE TABLE workspace_policies (
    workspace  text COLLATE "C"   PRIMARY KEY,
    body       text COLLATE "C"   NOT NULL,
    updated_at bigint NOT NULL
);
