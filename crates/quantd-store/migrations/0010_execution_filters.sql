-- Execution lists filtered by name, state or kind (the dashboard's filters, `quantd history`)
-- walk an index in page order instead of scanning the workspace's rows: each index ends with
-- the list's order (created_at DESC, id DESC), so a page stops after its limit.
DROP INDEX executions_by_name;
CREATE INDEX executions_by_name ON executions (workspace, name, created_at DESC, id DESC);
CREATE INDEX executions_by_state ON executions (workspace, state, created_at DESC, id DESC);
CREATE INDEX executions_by_kind ON executions (workspace, kind, created_at DESC, id DESC);
