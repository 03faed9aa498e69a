-- The pack catalog: one row per (name, content id). The newest complete row of a name is
-- `fresh`, older complete ones `stale`.
CREATE TABLE packs (
    name               TEXT    NOT NULL,
    id                 TEXT    NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('warming', 'fresh', 'stale', 'error')),
    error              TEXT,
    seq                INTEGER NOT NULL,          -- import order within the catalog; newest = largest
    created_at         TEXT    NOT NULL,          -- RFC 3339, UTC
    updated_at         TEXT    NOT NULL,
    estimated_ready    TEXT,                      -- while warming: when the import should finish
    import_token       TEXT,                      -- while warming: the importer's lock file name
    tickers            INTEGER NOT NULL,
    bars               INTEGER NOT NULL,
    first_date         TEXT    NOT NULL,
    last_date          TEXT    NOT NULL,
    columns            TEXT    NOT NULL,          -- JSON array of value column names
    rows_dropped       INTEGER NOT NULL DEFAULT 0,
    origin             TEXT    NOT NULL,          -- the imported file, or `synth ...`
    rights_source      TEXT,
    rights_license     TEXT,
    rights_attribution TEXT,
    export_allowed     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (name, id)
);
CREATE INDEX packs_by_id ON packs (id);
CREATE INDEX packs_by_state ON packs (state, seq);
