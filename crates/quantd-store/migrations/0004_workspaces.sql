-- Workspaces: code names belong to a workspace (two teams may both have `rsi-dip`), access
-- tokens map to a workspace, and idempotency keys remember which execution a request created.
-- Packs stay global: they are shared market data, read-only to workspaces.
CREATE TABLE code_versions_ws (
    workspace   TEXT    NOT NULL DEFAULT 'default',
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,                 -- 1, 2, … per (workspace, name)
    id          TEXT    NOT NULL,                 -- BLAKE3 of (language, source)
    language    TEXT    NOT NULL,                 -- expr | strategy | python
    source      TEXT    NOT NULL,
    params      TEXT    NOT NULL,                 -- JSON array of parameter names the code uses
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (workspace, name, version)
);
INSERT INTO code_versions_ws (workspace, name, version, id, language, source, params, created_at)
    SELECT 'default', name, version, id, language, source, params, created_at FROM code_versions;
DROP TABLE code_versions;
ALTER TABLE code_versions_ws RENAME TO code_versions;
CREATE INDEX code_versions_by_id ON code_versions (id);

CREATE TABLE code_names_ws (
    workspace   TEXT    NOT NULL DEFAULT 'default',
    name        TEXT    NOT NULL,
    current     INTEGER NOT NULL,                 -- the version `NAME` resolves to
    deleted     INTEGER NOT NULL DEFAULT 0,       -- removed names keep their versions for old executions
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (workspace, name)
);
INSERT INTO code_names_ws (workspace, name, current, deleted, updated_at)
    SELECT 'default', name, current, deleted, updated_at FROM code_names;
DROP TABLE code_names;
ALTER TABLE code_names_ws RENAME TO code_names;

-- Bearer tokens: `qdt_<id>_<secret>`; only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id          TEXT    PRIMARY KEY,              -- public part, used to find the row
    workspace   TEXT    NOT NULL,
    name        TEXT,
    secret_hash TEXT    NOT NULL,                 -- hex SHA-256 of the secret part
    admin       INTEGER NOT NULL DEFAULT 0,       -- may upload packs (shared by every workspace)
    created_at  TEXT    NOT NULL,
    revoked_at  TEXT
);

-- `Idempotency-Key` on POST /v1/executions: same key + same body ⇒ the same execution.
CREATE TABLE idempotency_keys (
    workspace    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,                -- SHA-256 of the canonical request body
    execution_id TEXT    NOT NULL REFERENCES executions (id),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace, key)
) WITHOUT ROWID;
