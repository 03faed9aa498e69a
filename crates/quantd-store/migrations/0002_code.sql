-- The code registry: immutable versions of scanners and strategies, and the names that point at them.
CREATE TABLE code_versions (
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,                 -- 1, 2, … per name
    id          TEXT    NOT NULL,                 -- BLAKE3 of (language, source)
    language    TEXT    NOT NULL,                 -- expr | strategy | python
    source      TEXT    NOT NULL,
    params      TEXT    NOT NULL,                 -- JSON array of parameter names the code uses
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX code_versions_by_id ON code_versions (id);

CREATE TABLE code_names (
    name        TEXT    PRIMARY KEY,
    current     INTEGER NOT NULL,                 -- the version `NAME` resolves to
    deleted     INTEGER NOT NULL DEFAULT 0,       -- removed names keep their versions for old executions
    updated_at  TEXT    NOT NULL
);
