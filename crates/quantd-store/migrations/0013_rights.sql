-- Data rights and the audit trail.
-- A pack may name a provider of the rights registry, whose terms then apply; its own export policy
-- grows from allowed/refused to allow/watermark/deny (`export_allowed` stays, kept equal to
-- `export_policy != 'deny'`, for readers of older versions).
ALTER TABLE packs ADD COLUMN provider TEXT;
ALTER TABLE packs ADD COLUMN export_policy TEXT NOT NULL DEFAULT 'allow';
UPDATE packs SET export_policy = 'deny' WHERE export_allowed = 0;

-- The rights registry: providers shared by every workspace, like packs. The body is the engine's
-- JSON of the provider (licence, attribution, export policy, environments).
CREATE TABLE providers (
    name       TEXT    PRIMARY KEY,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The audit trail: who (a token, or the local CLI user) did what, append-only. Control of
-- executions (created, paused, resumed, cancelled, retried, deleted) and every refused or
-- watermarked export (with the provider whose terms decided it).
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,                -- Unix milliseconds
    workspace    TEXT    NOT NULL,
    actor        TEXT    NOT NULL,                -- `token <id> (<name>)`, `cli <user>`, `no-auth`
    action       TEXT    NOT NULL,                -- created | paused | … | export.refused | export.watermarked
    execution_id TEXT,
    provider     TEXT,
    detail       TEXT    NOT NULL
);
CREATE INDEX audit_by_execution ON audit_log (execution_id, seq) WHERE execution_id IS NOT NULL;
CREATE INDEX audit_by_workspace ON audit_log (workspace, seq);
CREATE INDEX audit_exports ON audit_log (seq) WHERE action LIKE 'export.%';
