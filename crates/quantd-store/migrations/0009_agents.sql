-- Agents of each workspace: HTTP endpoints that pattern `call` steps reach by capability. The
-- body is the engine's JSON of the agent (url, capabilities, the name of the environment
-- variable holding its secret — never the secret —, circuit breaker settings).
CREATE TABLE agents (
    workspace  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, name)
) WITHOUT ROWID;
