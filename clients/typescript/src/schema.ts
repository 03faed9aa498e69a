// Generated from quantd's OpenAPI document (GET /v1/openapi.json) by openapi-typescript,
// pinned in package.json. Do not edit: run `npm run generate` (README.md); CI fails when this
// file differs from what the served document generates (`npm run check-schema`).

export interface paths {
    "/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process answers. */
        get: operations["live"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/pack/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Freshness of a pack: `fresh`, `warming` (with `estimated_ready`), `stale` or `error`. */
        get: operations["pack"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the store answers and the worker pool runs. */
        get: operations["ready"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The Prometheus scrape endpoint, for admin (operator) tokens: it counts every workspace's
         *     executions. `quantd serve --metrics-addr` serves it without a token on a separate listener.
         */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The workspace's agents with their breakers. */
        get: operations["list_agents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/agents/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Registers (201) or replaces (200) an agent. */
        post: operations["add_agent"];
        /** Removes an agent. */
        delete: operations["remove_agent"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/checks/lookahead": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Starts a look-ahead check of a scanner or strategy: an execution of kind `check`, as `POST
         *     /v1/executions` with `{"kind": "check", ...}` would. Its report is the execution's summary, and
         *     `GET /v1/executions/{id}/report` (JSON or Markdown) once it completed.
         */
        post: operations["check_lookahead"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/code": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists the workspace's code names. */
        get: operations["list_code"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/code/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The current version of a name (or `NAME@N`). */
        get: operations["show_code"];
        put?: never;
        /** Stores a new version of a scanner or strategy (validated first). */
        post: operations["add_code"];
        /** Removes a name (its versions stay for the executions that used them). */
        delete: operations["remove_code"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/code/{name}/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Points a name back at an earlier version. */
        post: operations["rollback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/code/{name}/versions/{version}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One version of a name. */
        get: operations["version"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live events of every execution of the caller's workspace over SSE (no replay: use the
         *     per-execution stream to catch up).
         */
        get: operations["workspace_sse"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/execute": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Starts any execution (the body of `POST /v1/executions`) and waits up to `wait_seconds` for
         *     it to end: 200 with its result, pack id and code version (what makes it reproducible) when it
         *     ended; 202 with `Location` when it still runs.
         */
        post: operations["execute"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The workspace's executions, newest first, filtered, in cursor pages. */
        get: operations["list_executions"];
        put?: never;
        /**
         * Starts an execution: validated, gated on the pack's freshness, planned into shards, and run
         *     by the server's worker pool.
         */
        post: operations["submit"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One execution: status, progress, health, fingerprint, timings. */
        get: operations["show_execution"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancels: running shards stop within a second; committed results stay readable. */
        post: operations["cancel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/equity": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Equity curves of a backtest (kept for universes of at most 100 tickers). Derived data, as
         *     trades.
         */
        get: operations["equity"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Live events of one execution over SSE. */
        get: operations["execution_sse"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/orders": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A paper session's record so far: every order event (accepted, rejected with the reason,
         *     filled with ticker, size and price, cancelled, expired) and each trading day's account, in
         *     the order they happened; the same events stream live on `/events` and `/ws`. Fill prices are
         *     the pack's: derived data, released as trades are.
         */
        get: operations["orders"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pauses: no new shard starts; running ones stop within a second and go back to the queue. */
        post: operations["pause"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The report of a test execution (A+) or of a check execution (look-ahead). */
        get: operations["report"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/results": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * An execution's results in any format: scan rows (streamed), backtest statistics per
         *     ticker, sweep parameter sets with mean statistics, A+ verdict rows, a run's log lines, an
         *     import's outcome. Data rights decide first: derived data (scan `let` columns, a run's
         *     output) of a `deny` pack is a 403 `policy` problem; of a `watermark` pack it carries a
         *     watermark (docs/rights.md).
         */
        get: operations["results"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Resumes a paused execution on the server's workers. */
        post: operations["resume"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Runs a finished pattern execution again from some steps, as a new pattern execution that
         *     reuses every step that completed (and is not downstream of them).
         */
        post: operations["retry"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/summary": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The stored summary of an execution (computed once it completed). */
        get: operations["summary"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/trades": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Every trade of a backtest, per ticker. Trades are derived data: refused for a `deny` pack,
         *     watermarked (`{watermark, rows}`) for a `watermark` pack (docs/rights.md).
         */
        get: operations["trades"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/executions/{id}/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live events of one execution over WebSocket; the client may send `{"resume_after": N}` and
         *     `{"command": "pause"|"resume"|"cancel"}`.
         */
        get: operations["execution_ws"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/history": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Past executions, as `quantd history` (the same filters and pages as `GET /v1/executions`). */
        get: operations["history"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The OpenAPI document itself. */
        get: operations["openapi"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/packs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The catalog, newest first. */
        get: operations["list_packs"];
        put?: never;
        /**
         * Uploads a long-format CSV or Parquet file (ticker,date,open,high,low,close,volume) as a
         *     pack. The import is an execution of kind `import` in the caller's workspace: watch it at
         *     `/v1/executions/{id}` and its `events` (`phase` events: `read` bytes, `validate`, `hash`,
         *     `write` tickers). An import done within a short wait answers 201 with the pack; a file the
         *     import refuses answers 422 with the row; a longer one answers 202 while the pack is `warming`.
         * @description The body is the file, typed `text/csv`, `application/octet-stream` or
         *     `application/vnd.apache.parquet` (types any web site could send are refused with 415). It is
         *     streamed to disk; uploads in flight share the server's upload budget (503 when full), and
         *     the file is removed once its import has ended, whatever the outcome.
         */
        post: operations["upload"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/packs/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One pack by name (its fresh version), id or id prefix. */
        get: operations["show_pack"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/packs/{name}/provider": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Makes a pack (every import of its name) name a provider, or none (admin token). */
        put: operations["set_pack_provider"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/policy": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The workspace's policy (empty when none was set). */
        get: operations["get_policy"];
        /** Replaces the workspace's policy (`{}` clears it). */
        put: operations["set_policy"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/rights": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every provider of the registry. */
        get: operations["list_providers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/rights/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Adds (201) or replaces (200) a provider (admin token). */
        post: operations["add_provider"];
        /** Removes a provider (admin token); refused while a pack names it. */
        delete: operations["remove_provider"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/rights/log": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The audit trail, newest first: the caller's workspace (every workspace with an admin
         *     token); by default only refused and watermarked exports.
         */
        get: operations["rights_log"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/schemas/pattern.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The JSON Schema of pattern documents (docs/patterns.md): their shape, for editors and agents. */
        get: operations["pattern_schema"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/summary": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Totals over the workspace's executions, as `quantd summary`. */
        get: operations["run_summary"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/validate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Checks code without storing it: errors with line and column, no side effects. */
        post: operations["validate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The workspace's webhooks, oldest first (without their secrets). */
        get: operations["list_webhooks"];
        put?: never;
        /** Registers a webhook; the answer carries its signing secret, this once. */
        post: operations["add_webhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Removes a webhook and its delivery log. */
        delete: operations["remove_webhook"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A webhook's deliveries, newest first, each with its attempts (status, error, duration). */
        get: operations["webhook_deliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description An agent as registered (`quantd agents add`, `POST /v1/agents/{name}`). */
        AgentSpec: {
            /**
             * @description Its circuit breaker's settings (resilience4j's names; docs/agents.md); defaults when
             *     absent.
             */
            breaker?: Record<string, unknown> | null;
            /** @description What it can do: the capabilities `call` steps name. */
            capabilities: string[];
            /**
             * @description The environment variable (of the process that calls) holding the HMAC secret that signs
             *     each request; unsigned without one.
             */
            secret_env?: string | null;
            /** @description Where tasks are sent (`http://` or `https://`). */
            url: string;
        };
        /** @description An agent as listed: how it is registered and its breaker as this process sees it. */
        AgentView: {
            /** @description What its breaker has seen (failure and slow-call rates, calls). */
            metrics: Record<string, unknown>;
            /** @description Its name. */
            name: string;
            /**
             * Format: int64
             * @description When open: when it lets a call through again (unix ms).
             */
            reopens_at_ms?: number | null;
            /** @description How it is registered. */
            spec: components["schemas"]["AgentSpec"];
            /** @description Its breaker: `closed`, `open` or `half_open`. */
            state: string;
        };
        /** @description One attempt of a delivery. */
        AttemptView: {
            /**
             * Format: date-time
             * @description When it started.
             */
            at: string;
            /**
             * Format: int64
             * @description How long it took, in ms.
             */
            duration_ms: number;
            /** @description Why it failed; null when delivered. */
            error?: string | null;
            /**
             * Format: int32
             * @description Its number: 1, 2, …
             */
            n: number;
            /**
             * Format: int32
             * @description The HTTP status, when one came back.
             */
            status?: number | null;
        };
        /** @description One page of the audit trail, newest first. */
        AuditPage: {
            /** @description The entries. */
            items: Record<string, unknown>[];
            /** @description The cursor of the next page, `null` on the last. */
            next?: string | null;
        };
        /** @description How shards failing with one error class are retried, over the policy's own settings. */
        ClassRetry: {
            /**
             * Format: int32
             * @description Attempts in all for a shard failing with this class, the first included (1 = no retry);
             *     a class given attempts here is retried even if the policy does not retry it otherwise.
             */
            maximum_attempts?: number | null;
            /**
             * Format: double
             * @description `timeout` only: each attempt's sandbox wall timeout is the requested one ×
             *     multiplier^(attempt-1), within the server's maximum (1 to 10).
             */
            timeout_multiplier?: number | null;
        };
        /** @description What adding code did. */
        CodeAdded: {
            /** @description True when the current version already had this content (nothing was added). */
            unchanged: boolean;
            /** @description The version the name now resolves to. */
            version: components["schemas"]["CodeVersionView"];
        };
        /** @description Code to store or validate: exactly one of `expr`, `python`, `strategy`. */
        CodeBody: {
            /** @description A scanner expression. */
            expr?: string | null;
            /**
             * @description A pattern document: `inputs` and `steps` (docs/patterns.md), as a JSON object, or as
             *     its text (JSON or YAML).
             */
            pattern?: Record<string, unknown> | null;
            /** @description A Python file's source (stored now; runs in the sandbox). */
            python?: string | null;
            strategy?: null | components["schemas"]["StrategyExprs"];
        };
        /** @description One diagnostic of scanner or strategy code. */
        CodeDiagnostic: {
            /** @description 1-based column of the problem, when known. */
            column?: number | null;
            /** @description Which expression of a strategy (`entry`, `exit`, …), when several. */
            expression?: string | null;
            /** @description How to fix it, when known. */
            help?: string | null;
            /** @description 1-based line of the problem, when known. */
            line?: number | null;
            /** @description What is wrong. */
            message: string;
            /** @description Where in a pattern document: its JSON path (`steps[2].needs[0]`). */
            path?: string | null;
        };
        /** @description One page of code names. */
        CodeList: {
            /** @description The names of this page. */
            items: components["schemas"]["CodeNameView"][];
            /** @description Cursor of the next page (`?after=`), `null` on the last. */
            next?: string | null;
        };
        /** @description A code name and where it points. */
        CodeNameView: {
            /**
             * Format: int32
             * @description The version `NAME` resolves to.
             */
            current: number;
            /** @description The current version's language. */
            language: string;
            /** @description The name. */
            name: string;
            /**
             * Format: date-time
             * @description When the name last changed.
             */
            updated_at: string;
            /**
             * Format: int32
             * @description How many versions exist.
             */
            versions: number;
        };
        /** @description A stored code version. */
        CodeVersionView: {
            /**
             * Format: date-time
             * @description When it was added.
             */
            created_at: string;
            /** @description Content id (hash of language and source). */
            id: string;
            /** @description `expr`, `strategy` or `python`. */
            language: string;
            /** @description The name. */
            name: string;
            /** @description Parameter names the code uses. */
            params: string[];
            /** @description The source text (a strategy is JSON of its expressions). */
            source: string;
            /**
             * Format: int32
             * @description Its number under the name, from 1.
             */
            version: number;
        };
        /** @description A delivery: one execution's end told to one webhook, with its attempts. */
        DeliveryView: {
            /**
             * Format: int32
             * @description Attempts started.
             */
            attempts: number;
            /**
             * Format: date-time
             * @description When the execution ended.
             */
            created_at: string;
            /** @description `completed`, `failed` or `cancelled`. */
            event: string;
            /** @description The execution it is about. */
            execution_id: string;
            /**
             * Format: date-time
             * @description When it was delivered or failed for good.
             */
            finished_at?: string | null;
            /** @description Its id: the `X-Quantd-Delivery` header, the same on every attempt. */
            id: string;
            /** @description Its attempts, in order. */
            log: components["schemas"]["AttemptView"][];
            /**
             * Format: date-time
             * @description When pending: the next attempt is not before this time.
             */
            next_attempt_at?: string | null;
            /** @description `pending`, `delivered` or `failed` (every attempt failed). */
            state: string;
            /** @description Its webhook. */
            webhook_id: string;
        };
        /**
         * @description The kind of a failure, which decides whether it is worth retrying and how it is reported.
         * @enum {string}
         */
        ErrorClass: "validation" | "data" | "execution" | "timeout" | "resource" | "policy" | "internal" | "network" | "circuit_open";
        /** @description One thing that happened to an execution. */
        Event: {
            /**
             * Format: int32
             * @description Number of shards in the plan.
             */
            shards: number;
            /** @enum {string} */
            type: "execution-created";
        } | {
            /** @enum {string} */
            type: "execution-started";
        } | {
            /** @enum {string} */
            type: "execution-paused";
        } | {
            /** @enum {string} */
            type: "execution-resumed";
        } | {
            /**
             * Format: int32
             * @description Shards that failed under an `on-shard-failure continue` policy.
             */
            failed_shards: number;
            /** @enum {string} */
            type: "execution-completed";
        } | {
            /** @description The error's class. */
            class: components["schemas"]["ErrorClass"];
            /** @description What went wrong, for the user. */
            message: string;
            /** @enum {string} */
            type: "execution-failed";
        } | {
            /** @enum {string} */
            type: "execution-cancelled";
        } | {
            /**
             * Format: int32
             * @description Attempt number, from 1.
             */
            attempt: number;
            /**
             * Format: int32
             * @description Shard index.
             */
            shard: number;
            /** @enum {string} */
            type: "shard-started";
        } | {
            /**
             * Format: int64
             * @description Result rows the shard committed.
             */
            rows: number;
            /**
             * Format: int32
             * @description Shard index.
             */
            shard: number;
            /** @enum {string} */
            type: "shard-completed";
        } | {
            /** @description The error's class. */
            class: components["schemas"]["ErrorClass"];
            /** @description What went wrong. */
            message: string;
            /**
             * Format: int32
             * @description Shard index.
             */
            shard: number;
            /** @enum {string} */
            type: "shard-failed";
        } | {
            /**
             * Format: int32
             * @description The attempt that will run next.
             */
            attempt: number;
            /** @description The error's class. */
            class: components["schemas"]["ErrorClass"];
            /**
             * Format: int64
             * @description Backoff before the next attempt.
             */
            delay_ms: number;
            /**
             * Format: int32
             * @description Shard index.
             */
            shard: number;
            /** @enum {string} */
            type: "shard-retrying";
        } | {
            /**
             * Format: int64
             * @description Bars processed so far.
             */
            bars: number;
            /**
             * Format: int32
             * @description Shards done (or failed for good).
             */
            done: number;
            /**
             * Format: int64
             * @description Estimated time to completion, when known.
             */
            eta_ms?: number | null;
            /**
             * Format: int64
             * @description Result rows (signals, trades, …) so far.
             */
            rows: number;
            /**
             * Format: int32
             * @description Shards in the plan.
             */
            total: number;
            /** @enum {string} */
            type: "progress";
        } | {
            /**
             * Format: int64
             * @description Units done in this phase.
             */
            done: number;
            /** @description The step under way (`parse`, `validate`, `write`, ...). */
            phase: string;
            /**
             * Format: int64
             * @description Units in this phase; 0 when unknown.
             */
            total: number;
            /** @enum {string} */
            type: "phase";
        } | {
            /**
             * Format: int32
             * @description The step's attempt, from 1 (`retry --from` runs a step again as its next attempt).
             */
            attempt: number;
            /** @description Its child execution, when it runs one. */
            child?: string | null;
            /** @description The step (`scan`, `bt[3]` for an item of a `for_each`). */
            step: string;
            /** @enum {string} */
            type: "step-started";
        } | {
            /**
             * Format: int32
             * @description The step's attempt.
             */
            attempt: number;
            /** @description A completed identical run was reused (the step cache). */
            cached: boolean;
            /** @description Its child execution, when it ran one. */
            child?: string | null;
            /**
             * Format: int64
             * @description How long it took.
             */
            duration_ms: number;
            /** @description The step. */
            step: string;
            /** @enum {string} */
            type: "step-completed";
        } | {
            /** @description Why. */
            reason: string;
            /** @description The step. */
            step: string;
            /** @enum {string} */
            type: "step-skipped";
        } | {
            /**
             * Format: int32
             * @description The step's attempt.
             */
            attempt: number;
            /** @description Its child execution, when it ran one. */
            child?: string | null;
            /** @description The error's class. */
            class: components["schemas"]["ErrorClass"];
            /**
             * Format: int64
             * @description How long it took.
             */
            duration_ms: number;
            /** @description What went wrong. */
            message: string;
            /** @description The step. */
            step: string;
            /** @enum {string} */
            type: "step-failed";
        } | {
            /**
             * Format: int64
             * @description The session's bar (0-based, in its window of the pack).
             */
            bar: number;
            /**
             * Format: int64
             * @description The strategy's own id of the order, when it gave one.
             */
            client_id?: number | null;
            /**
             * Format: int64
             * @description The broker's order id (0 for an order refused before it got one).
             */
            order: number;
            /** @description Whether part of the order is still open (fills only). */
            partial?: boolean;
            /**
             * Format: double
             * @description Fill price (fills only).
             */
            price?: number | null;
            /** @description Why it was refused or cancelled. */
            reason?: string | null;
            /**
             * Format: double
             * @description Signed units filled (fills only).
             */
            size?: number | null;
            /** @description `accepted`, `rejected`, `filled`, `cancelled` or `expired`. */
            status: string;
            /** @description The ticker filled (fills only). */
            ticker?: string | null;
            /** @description The bar's time, as the pack's calendar writes it. */
            time: string;
            /**
             * Format: int64
             * @description The trade the fill opened or reduced (fills only).
             */
            trade?: number | null;
            /** @enum {string} */
            type: "order";
        } | {
            /**
             * Format: int64
             * @description The day's last bar.
             */
            bar: number;
            /**
             * Format: double
             * @description Cash: the equity less the open positions' value at the close (what is not invested;
             *     negative when bought on margin).
             */
            cash: number;
            /** @description The day, `YYYY-MM-DD` in the pack's zone. */
            date: string;
            /**
             * Format: double
             * @description Cash plus open trades marked at the close.
             */
            equity: number;
            /**
             * Format: int32
             * @description Fills during the day.
             */
            fills: number;
            /**
             * Format: int32
             * @description Trades open after the day.
             */
            open_trades: number;
            /**
             * Format: double
             * @description Equity change since the previous day's end (since the start on the first day).
             */
            pnl: number;
            /** @description Units held after the day by ticker (negative: short), tickers held only. */
            positions?: {
                [key: string]: number;
            };
            /** @enum {string} */
            type: "session-day";
        } | {
            /**
             * Format: int64
             * @description The first bar whose trades reach the account (0-based, in the session's window).
             */
            bar: number;
            /** @description The strategy's book then: units of its open trades and waiting market orders. */
            book?: {
                [key: string]: number;
            };
            /** @description Units the account held or had on order by ticker when the session started. */
            held: {
                [key: string]: number;
            };
            /** @enum {string} */
            type: "live-start";
        } | {
            /**
             * Format: int64
             * @description The session's bar when it was placed or heard of.
             */
            bar: number;
            /**
             * Format: int64
             * @description The bar the order was placed on (broker events; read from its client order id).
             */
            placed?: number | null;
            /**
             * Format: double
             * @description The broker's fill price (fills only).
             */
            price?: number | null;
            /** @description Why the broker refused or cancelled it. */
            reason?: string | null;
            /**
             * Format: double
             * @description Signed units ordered (`submitted`) or filled (`filled`).
             */
            size?: number | null;
            /** @description `submitted`, `accepted`, `filled`, `rejected`, `cancelled` or `expired`. */
            status: string;
            /** @description The ticker. */
            ticker?: string | null;
            /** @description The bar's time, as the pack's calendar writes it. */
            time: string;
            /** @enum {string} */
            type: "live-order";
        } | {
            /** @description `excellent`, `good`, `degraded` or `critical`. */
            band: string;
            /**
             * Format: int32
             * @description Score from 0 to 100.
             */
            score: number;
            /** @enum {string} */
            type: "health";
        };
        /**
         * @description An event as stored: its execution, its sequence number within that execution (from 1, no
         *     gaps) and when it was appended.
         */
        EventRecord: components["schemas"]["Event"] & {
            /**
             * Format: date-time
             * @description When it was appended (RFC 3339, UTC).
             */
            at: string;
            /** @description The execution the event belongs to. */
            execution: string;
            /**
             * Format: int64
             * @description Per-execution sequence number, from 1.
             */
            seq: number;
        };
        /** @description An A+ test example: a ticker and a date where the scanner should (or should not) fire. */
        ExampleRequest: {
            /**
             * @description The session date a signal is (or is not) expected on (`2024-01-02`: any bar of that day),
             *     or a bar's exact time with its UTC offset (`2024-01-02T09:45:00-05:00`).
             * @example 2024-01-02
             */
            date: string;
            /** @description Whether a signal is expected (default true). */
            expected?: boolean;
            /** @description The ticker. */
            ticker: string;
        };
        /** @description What `POST /v1/execute` answers when the execution ended within the wait. */
        Executed: {
            /** @description The stored code version it ran, if any. */
            code_version?: string | null;
            /** @description The execution as it ended. */
            execution: components["schemas"]["ExecutionView"];
            /** @description Hash of code, pack, parameters and engine version. */
            fingerprint: string;
            /** @description The pack it read (with the code versions, what makes it reproducible). */
            pack_id: string;
            /**
             * @description What it produced, as a pattern step's outputs (docs/patterns.md lists them per kind); null
             *     when it did not complete.
             */
            result?: Record<string, unknown> | null;
            /** @description True when a completed execution with the same fingerprint was returned (`reuse`). */
            reused: boolean;
            /** @description Things to know (a stale pack). */
            warnings: string[];
        };
        /**
         * @description The kinds of execution (see DESIGN.md).
         * @enum {string}
         */
        ExecutionKind: "scan" | "test" | "backtest" | "sweep" | "run" | "import" | "pattern" | "check" | "evaluate" | "paper" | "live";
        /** @description One page of executions, newest first. */
        ExecutionList: {
            /** @description The executions of this page. */
            items: components["schemas"]["ExecutionView"][];
            /** @description Cursor of the next page (`?after=`), `null` on the last. */
            next?: string | null;
        };
        /**
         * @description Where an execution is in its life.
         * @enum {string}
         */
        ExecutionState: "pending" | "running" | "paused" | "completed" | "failed" | "cancelled";
        /** @description An execution: status, progress, health, fingerprint, timings. */
        ExecutionView: {
            /**
             * Format: int32
             * @description Shard attempts started.
             */
            attempts: number;
            /**
             * Format: int64
             * @description Bars processed.
             */
            bars: number;
            /** @description The code version's content id, if stored code. */
            code_version?: string | null;
            /**
             * Format: date-time
             * @description Created (RFC 3339).
             */
            created_at: string;
            /**
             * Format: int64
             * @description Wall time from start to finish (or until now), in milliseconds.
             */
            duration_ms?: number | null;
            /** @description Class of the error that failed it. */
            error_class?: string | null;
            /** @description The error that failed it. */
            error_message?: string | null;
            /**
             * Format: int32
             * @description Shard attempts that failed.
             */
            failed_attempts: number;
            /** @description Hash of code, pack, params and engine version: same fingerprint, same results. */
            fingerprint: string;
            /**
             * Format: date-time
             * @description Finished.
             */
            finished_at?: string | null;
            health?: null | components["schemas"]["HealthView"];
            /** @description The id (`ex_…`). */
            id: string;
            /** @description Its kind. */
            kind: components["schemas"]["ExecutionKind"];
            /** @description The stored code's name, if it runs stored code. */
            name?: string | null;
            /** @description Retry and failure policies. */
            options: unknown;
            /** @description The pack read. */
            pack_id: string;
            /** @description The pattern execution it runs a step of, if any. */
            parent_id?: string | null;
            /** @description The step (and attempt, `scan@1`) it runs for that pattern. */
            parent_step?: string | null;
            /** @description Shard counters. */
            progress: components["schemas"]["ProgressView"];
            /**
             * Format: int64
             * @description Result rows.
             */
            rows: number;
            /**
             * Format: int32
             * @description Shards done.
             */
            shards_done: number;
            /**
             * Format: int32
             * @description Shards failed for good.
             */
            shards_failed: number;
            /** @description The resolved spec (code text, pack id, params, …). */
            spec: unknown;
            /**
             * Format: date-time
             * @description First shard started.
             */
            started_at?: string | null;
            /** @description Where it is in its life. */
            state: components["schemas"]["ExecutionState"];
            /** @description Metrics of the finished execution. */
            summary?: unknown;
        };
        /**
         * @description What may be done with data derived from a provider's bars, most permissive first (the
         *     order is restrictiveness: `Allow < Watermark < Deny`).
         * @enum {string}
         */
        ExportPolicy: "allow" | "watermark" | "deny";
        /** @description Execution health. */
        HealthView: {
            /**
             * Format: double
             * @description Mean duration of finished shards, in milliseconds.
             */
            avg_shard_ms?: number | null;
            /** @description `excellent`, `good`, `degraded` or `critical`. */
            band: string;
            /**
             * Format: double
             * @description Finished shards / shards.
             */
            completion_rate: number;
            /**
             * Format: double
             * @description Failed attempts / attempts.
             */
            error_rate: number;
            /**
             * Format: int32
             * @description 0–100.
             */
            score: number;
        };
        /** @description Liveness. */
        Live: {
            /**
             * @description The circuit breakers of the agents this process called, counted by state (`closed`,
             *     `open`, `half_open`); names stay behind a token (`/v1/agents`).
             */
            breakers: {
                [key: string]: number;
            };
            /** @description Always `ok`. */
            status: string;
            /** @description quantd's version. */
            version: string;
        };
        /**
         * @description A look-ahead check: the body of `POST /v1/checks/lookahead` and the arguments of the MCP tool
         *     `check_lookahead` — a [`SubmitRequest`] of kind `check` without the fields checks do not take.
         */
        LookaheadRequest: {
            /** @description Stored code, `NAME` or `NAME@N`: a scanner, a strategy or Python. */
            code?: string | null;
            /**
             * Format: int32
             * @description Cut points per ticker (default 200, 2 to 2,000).
             */
            cuts?: number | null;
            /** @description An inline scanner expression. */
            expr?: string | null;
            /** @description Retries, failure policy and sandbox limits. */
            options?: components["schemas"]["RequestOptions"];
            /** @description Pack name, id or id prefix; default: the newest fresh pack. */
            pack?: string | null;
            /** @description Parameter values. */
            params?: {
                [key: string]: number;
            };
            /**
             * Format: int32
             * @description Priority, -10 to 10 (default 0).
             */
            priority?: number | null;
            /** @description Inline Python source: a `@qd.scanner` or a `@qd.strategy`, run in the sandbox. */
            python?: string | null;
            /** @description Return a completed check with the same fingerprint instead of running again. */
            reuse?: boolean;
            strategy?: null | components["schemas"]["StrategyExprs"];
            /** @description The tickers to check (1 to 500); default: 50 spread over the pack. */
            tickers?: string[] | null;
        };
        /** @description The freshness of a pack. */
        PackHealth: {
            /** @description Why it is unusable (`error`). */
            error?: string | null;
            /**
             * Format: date-time
             * @description While warming: when it should be ready.
             */
            estimated_ready?: string | null;
            /** @description The pack id the name resolves to. */
            id: string;
            /** @description The name asked for. */
            name: string;
            /** @description `fresh`, `warming`, `stale` or `error`. */
            state: components["schemas"]["PackState"];
        };
        /** @description One page of packs, newest first. */
        PackList: {
            /** @description The packs of this page. */
            items: components["schemas"]["PackView"][];
            /** @description Cursor of the next page (`?after=`), `null` on the last. */
            next?: string | null;
        };
        /** @description `{provider}` of `PUT /v1/packs/{name}/provider`. */
        PackProvider: {
            /** @description The provider whose terms apply to the pack; `null` for the pack's own terms. */
            provider?: string | null;
        };
        /**
         * @description The freshness state of a pack in the catalog.
         * @enum {string}
         */
        PackState: "warming" | "fresh" | "stale" | "error";
        /** @description A pack (shared market data, read-only to workspaces). */
        PackView: {
            /**
             * Format: int64
             * @description Bars.
             */
            bars: number;
            /** @description Value columns. */
            columns: string[];
            /**
             * Format: date-time
             * @description When the import started.
             */
            created_at: string;
            /** @description Why an import failed. */
            error?: string | null;
            /**
             * Format: date-time
             * @description While warming: when it should be ready.
             */
            estimated_ready?: string | null;
            /** @description The first bar: `YYYY-MM-DD` for daily bars, RFC 3339 with its offset for intraday ones. */
            first_bar: string;
            /**
             * Format: date
             * @description First date.
             */
            first_date: string;
            /** @description Content id. */
            id: string;
            /** @description Bar interval: `1m`, `5m`, `15m`, `30m`, `1h`, `4h`, `1d`, `1w`, `1mo` or `irregular`. */
            interval: string;
            /** @description The last bar, written the same way. */
            last_bar: string;
            /**
             * Format: date
             * @description Last date.
             */
            last_date: string;
            /** @description Its name. */
            name: string;
            /** @description The imported file, or `synth …`. */
            origin: string;
            /** @description Rights metadata. */
            rights: components["schemas"]["RightsView"];
            /**
             * Format: int64
             * @description Rows dropped by a lenient import.
             */
            rows_dropped: number;
            /** @description `warming`, `fresh`, `stale` or `error`. */
            state: components["schemas"]["PackState"];
            /**
             * Format: int64
             * @description Tickers.
             */
            tickers: number;
            /** @description The exchange's time zone (IANA name, or `UTC`). */
            zone: string;
        };
        /** @description An RFC 9457 problem document. */
        Problem: {
            /** @description What happened here, and how to fix it. */
            detail: string;
            /** @description Code diagnostics with line and column (`invalid-code`). */
            errors?: components["schemas"]["CodeDiagnostic"][];
            /**
             * Format: date-time
             * @description When a warming pack should be ready (`pack-warming`).
             */
            estimated_ready?: string | null;
            /** @description The data provider whose terms refused the request (`policy`; docs/rights.md). */
            provider?: string | null;
            /** @description Code diagnostics rendered under the source lines (`invalid-code`). */
            rendered?: string | null;
            /**
             * Format: int32
             * @description The HTTP status.
             */
            status: number;
            /** @description A short summary of the kind. */
            title: string;
            /**
             * @description The W3C trace id of the request (32 hex digits; the response's `traceparent` carries
             *     it too): quote it when reporting a problem, to find the request's logs and spans.
             */
            trace_id?: string | null;
            /** @description A stable URI naming the kind of problem (`urn:quantd:problem:not-found`). */
            type: string;
        };
        /** @description Progress counters. */
        ProgressView: {
            /**
             * Format: int32
             * @description Shards finished (done or failed).
             */
            done: number;
            /**
             * Format: double
             * @description done / total, from 0 to 1.
             */
            fraction: number;
            /**
             * Format: int32
             * @description Shards in the plan.
             */
            total: number;
        };
        /**
         * @description A data source in the rights registry: its licence, attribution and export policy, inherited
         *     by everything derived from the packs that name it.
         */
        Provider: {
            /** @description Text to show with the data and everything derived from it. */
            attribution?: string | null;
            /** @description The environments the licence covers (`research`, `production`, …); empty: any. */
            environments?: string[];
            /** @description What may leave quantd. */
            export?: components["schemas"]["ExportPolicy"];
            /** @description The licence the data is under. */
            license?: string | null;
            /** @description The provider's name (`polygon`, `acme-data`). */
            name: string;
        };
        /** @description A provider's terms, as `POST /v1/rights/{name}` takes them. */
        ProviderBody: {
            /** @description Text to show with the data and everything derived from it. */
            attribution?: string | null;
            /** @description The environments the licence covers (`QUANTD_ENVIRONMENT` of a server); empty: any. */
            environments?: string[];
            /** @description `allow` (default), `watermark` or `deny`. */
            export?: components["schemas"]["ExportPolicy"];
            /** @description The licence the data is under. */
            license?: string | null;
        };
        /** @description Readiness. */
        Ready: {
            /** @description Whether shutdown has begun. */
            shutting_down: boolean;
            /** @description `ready` or `not_ready`. */
            status: string;
            /** @description Whether the store answered. */
            store: boolean;
            /** @description Workers of the pool that are running. */
            workers: number;
            /** @description Workers configured. */
            workers_configured: number;
        };
        /** @description Retries and the failure policy of an execution. */
        RequestOptions: {
            /**
             * Format: int32
             * @description Attempts per shard, the first included (retryable errors only; default 3).
             */
            max_attempts?: number | null;
            /** @description What a shard that fails for good does: `fail` the execution (default) or `continue`. */
            on_shard_failure?: components["schemas"]["ShardFailurePolicy"];
            /**
             * @description Retries per error class, over the workspace's defaults (`quantd policy`): e.g.
             *     `{"network": {"maximum_attempts": 5}, "timeout": {"maximum_attempts": 3,
             *     "timeout_multiplier": 2.0}, "execution": {"maximum_attempts": 1}}`. Classes: validation,
             *     data, policy, timeout, resource, execution, internal, network, circuit_open.
             */
            retry?: Record<string, unknown>;
            /**
             * @description Limits of each sandboxed job (Python code only), within the server's maxima: e.g.
             *     `{"memory_mib": 1024, "cpu_secs": 60, "wall_secs": 120, "pids": 32, "output_mib": 4}`
             *     (docs/limits.md, "Sandbox").
             */
            sandbox?: components["schemas"]["SandboxRequest"];
        };
        /** @description What to run again of a finished pattern. */
        RetryBody: {
            /**
             * @description Run again from these steps (and everything depending on them); default: every step that
             *     did not complete.
             */
            from?: string[];
        };
        /**
         * @description The rights of a pack: the terms that apply to it (its provider's when it names one, else its
         *     own; docs/rights.md).
         */
        RightsView: {
            /** @description Attribution to show with it and with everything derived from it. */
            attribution?: string | null;
            /**
             * @description What may leave quantd of its bars and of what is derived from them: `allow`,
             *     `watermark` or `deny`.
             */
            export: components["schemas"]["ExportPolicy"];
            /** @description Whether bars may be exported (`export` is not `deny`). */
            export_allowed: boolean;
            /** @description Its license. */
            license?: string | null;
            /** @description The provider of the rights registry whose terms apply, if the pack names one. */
            provider?: string | null;
            /** @description Where the data came from. */
            source?: string | null;
        };
        /** @description `POST /v1/code/{name}/rollback`. */
        RollbackBody: {
            /**
             * Format: int32
             * @description The version to point at (default: the one before the current).
             */
            to?: number | null;
        };
        /** @description Sandbox limits one execution asks for (`options.sandbox`), each within the server's maximum. */
        SandboxRequest: {
            /**
             * Format: int64
             * @description CPU seconds of each job (default: a shard's wall limit; a run's timeout + 5 s).
             */
            cpu_secs?: number | null;
            /**
             * Format: int64
             * @description Memory of each Python job, in MiB (default 4096; at most the server's
             *     `max_sandbox_memory_mib`, 8192 unless changed).
             */
            memory_mib?: number | null;
            /**
             * Format: int64
             * @description Standard output kept of each job, in MiB (default 8); more ends the job with verdict
             *     `output_limit`.
             */
            output_mib?: number | null;
            /**
             * Format: int64
             * @description Processes and threads of each job (default 64).
             */
            pids?: number | null;
            /**
             * Format: int64
             * @description Wall-clock seconds of each shard's job (default 600). Not for `run`: its `timeout` is that.
             */
            wall_secs?: number | null;
        };
        /**
         * @description What happens to an execution when one of its shards fails for good.
         * @enum {string}
         */
        ShardFailurePolicy: "fail" | "continue";
        /** @description A strategy written in the expression language: entry and exit conditions, long and short. */
        StrategyExprs: {
            /** @description Enter long when true. */
            entry: string;
            /** @description Exit long when true. */
            exit: string;
            /** @description Enter short when true. */
            short_entry?: string | null;
            /** @description Exit short when true. */
            short_exit?: string | null;
        };
        /** @description What to run: one request type for every surface. */
        SubmitRequest: {
            /** @description Run: the script's arguments (`sys.argv[1:]`). */
            args?: string[];
            /** @description Stored code, `NAME` or `NAME@N` (a scanner for scan/test, a strategy for backtest/sweep). */
            code?: string | null;
            /** @description Backtest settings (cash, commission, fill, sizing, stops), as docs/backtesting.md shows. */
            config?: Record<string, unknown> | null;
            /**
             * @description Live: the caller's confirmation that this session places real orders at the broker
             *     account (`true` required; the workspace must also be allowed by the operator).
             */
            confirm_live?: boolean;
            /** @description Sweep: a condition on the parameters, e.g. `fast < slow`. */
            constraint?: string | null;
            /**
             * Format: int32
             * @description Check: cut points per ticker (default 200, 2 to 2,000): every bar where a signal fired
             *     and sampled other bars.
             */
            cuts?: number | null;
            /** @description A+ test examples. */
            examples?: components["schemas"]["ExampleRequest"][];
            /** @description An inline scanner expression (scan, test). */
            expr?: string | null;
            /**
             * @description Paper: after the pack's last bar, wait for newer versions of the pack's name (each
             *     import under that name appends bars) and trade them as they come, instead of
             *     completing.
             */
            follow?: boolean;
            /**
             * @description Start of the window (scan: signals kept; backtest: first bar traded): a date
             *     (`2024-03-11`, the whole day in the pack's zone) or a time with its UTC offset
             *     (`2024-03-11T09:45:00-04:00`).
             * @example 2024-03-11
             */
            from?: string | null;
            /** @description Sweep grid: `name=start..end:step` or `name=v1,v2`. */
            grid?: string[];
            /** @description Pattern: the values of its inputs by name (the pattern's defaults fill the rest). */
            inputs?: Record<string, unknown> | null;
            /** @description The kind of execution (`import` executions start from an upload instead). */
            kind: components["schemas"]["ExecutionKind"];
            /** @description Run: the name it is listed under in history and summary (default `run`). */
            name?: string | null;
            /** @description Retries and failure policy. */
            options?: components["schemas"]["RequestOptions"];
            /** @description Pack name, id or id prefix; default: the newest fresh pack. */
            pack?: string | null;
            /** @description `$name` parameter values. */
            params?: {
                [key: string]: number;
            };
            /**
             * Format: int32
             * @description Priority, -10 to 10 (default 0): higher is claimed first, and waiting work ages (one
             *     point per 5 minutes waited), so old low-priority work is never starved.
             */
            priority?: number | null;
            /**
             * @description Inline Python source: a `@qd.scanner` (scan, test) or a `@qd.strategy` (backtest, sweep),
             *     run in the sandbox.
             */
            python?: string | null;
            /** @description Return a completed execution with the same fingerprint instead of running again. */
            reuse?: boolean;
            /** @description Run: the Python script's source. */
            script?: string | null;
            /**
             * @description Paper: how fast the pack is replayed — `60x` (bars arrive 60 times faster than their
             *     times are apart), `1x` (as they happened; the default) or `max` (as fast as the strategy
             *     goes).
             * @example 60x
             */
            speed?: string | null;
            strategy?: null | components["schemas"]["StrategyExprs"];
            /** @description Only these tickers. */
            tickers?: string[] | null;
            /**
             * Format: int64
             * @description Run: wall-clock limit in seconds (default 300; at most the server's `max_run_timeout_secs`,
             *     one day unless changed).
             */
            timeout?: number | null;
            /**
             * @description End of the window, included: a date (its whole day) or a time with its offset.
             * @example 2024-03-11T15:59:00-04:00
             */
            to?: string | null;
            /**
             * Format: int32
             * @description A+ test: bars a signal may be away from an example date (default 2).
             */
            tolerance?: number | null;
        };
        /** @description What `POST /v1/executions` did. */
        Submitted: {
            /** @description The execution (new, or the reused / idempotent one). */
            execution: components["schemas"]["ExecutionView"];
            /** @description True when a completed execution with the same fingerprint was returned (`reuse`). */
            reused: boolean;
            /** @description Things to know (a stale pack). */
            warnings: string[];
        };
        /** @description A pack upload that was accepted. */
        UploadAccepted: {
            /** @description Its live events (SSE): `phase` events, then `execution-completed` or `-failed`. */
            events_url: string;
            /** @description The import execution's id (`/v1/executions/{id}`). */
            execution: string;
            /** @description The pack name. */
            name: string;
            /** @description The pack's freshness: `/health/pack/{name}` (`warming` until the import is done). */
            status_url: string;
        };
        /** @description The outcome of `POST /v1/validate` for valid code. */
        Validated: {
            /** @description The content id the code would be stored under. */
            id: string;
            /** @description `expr`, `strategy` or `python`. */
            language: string;
            /** @description Parameter names the code uses (`$name`). */
            params: string[];
            /** @description Always true (invalid code answers 422 with diagnostics). */
            valid: boolean;
        };
        /** @description The JSON body of a delivery. */
        WebhookPayload: {
            /**
             * Format: date-time
             * @description When it ended (RFC 3339).
             */
            at: string;
            /** @description `completed`, `failed` or `cancelled` (as `X-Quantd-Event`). */
            event: string;
            /**
             * @description The execution as it ended: `id`, `kind`, `name`, `state`, `error_class`,
             *     `error_message`, `shards_total`, `shards_done`, `shards_failed`, `rows`, `fingerprint`,
             *     `created_at`, `started_at`, `finished_at` (RFC 3339).
             */
            execution: Record<string, unknown>;
            /** @description The delivery's id (as `X-Quantd-Delivery`). */
            id: string;
        };
        /** @description A webhook to register (`quantd webhooks add`, `POST /v1/webhooks`). */
        WebhookSpec: {
            /**
             * @description The events it is told about, among `completed`, `failed`, `cancelled`; all three when
             *     absent.
             */
            events?: string[] | null;
            /**
             * @description The HMAC-SHA256 key deliveries are signed with (16 to 256 bytes); generated when
             *     absent. Returned once, in the answer that creates the webhook.
             */
            secret?: string | null;
            /** @description Where deliveries are POSTed: `http://` or `https://`, without credentials. */
            url: string;
        };
        /** @description A webhook as listed (its secret only in the answer that created it). */
        WebhookView: {
            /**
             * Format: date-time
             * @description When it was registered.
             */
            created_at: string;
            /** @description The events it is told about. */
            events: string[];
            /** @description Its id (`wh_…`). */
            id: string;
            /** @description The signing secret: only in the answer to its creation, never again. */
            secret?: string | null;
            /** @description Where deliveries are POSTed. */
            url: string;
        };
        /** @description A workspace's defaults. */
        WorkspacePolicy: {
            /**
             * @description The workspace may start `live` sessions (real orders at the broker account of the
             *     workers' `APCA_API_KEY_ID`). Off by default; only an admin token (or the local CLI) turns
             *     it on or off, so a workspace's own callers cannot allow themselves.
             */
            live_trading?: boolean;
            /**
             * @description Scans, tests, backtests and sweeps run only stored code whose version passed its newest
             *     evaluation (`passed` or `warnings`; docs/evaluation.md); inline code, unevaluated and
             *     failed versions are refused at the door.
             */
            require_evaluation?: boolean;
            /**
             * @description Retries per error class for every execution of the workspace, e.g.
             *     `{"network": {"maximum_attempts": 5}, "execution": {"maximum_attempts": 1}}`; a
             *     request's `options.retry` overrides them class by class.
             */
            retry?: Record<string, unknown>;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    live: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Alive */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Live"];
                };
            };
        };
    };
    pack: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Pack name, id or id prefix */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pack's state */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PackHealth"];
                };
            };
            /** @description No or a wrong bearer token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such pack (the catalog is at `GET /v1/packs`) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Ambiguous id prefix */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    ready: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Ready"];
                };
            };
            /** @description Not ready (store unreachable, no workers, shutting down) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Ready"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text format 0.0.4 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description No or a wrong bearer token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not an admin token */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_agents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every agent of the workspace */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentView"][];
                };
            };
        };
    };
    add_agent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The agent's name (letters, digits, `-`, `_`) */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentSpec"];
            };
        };
        responses: {
            /** @description Replaced (its breaker starts over if its settings changed) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentView"][];
                };
            };
            /** @description Registered */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentView"][];
                };
            };
            /** @description Malformed body or unknown field */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description An invalid name, url, capability or breaker setting */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    remove_agent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The agent's name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such agent in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    check_lookahead: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LookaheadRequest"];
            };
        };
        responses: {
            /** @description A completed check with the same fingerprint (`reuse`) */
            200: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submitted"];
                };
            };
            /** @description Accepted; `Location` points at the execution */
            202: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submitted"];
                };
            };
            /** @description Malformed body, unknown field or a key given twice */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unknown pack or code */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The pack is unusable (import failed) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request or code */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The pack is warming; retry after `Retry-After` seconds */
            503: {
                headers: {
                    /** @description Seconds until the pack should be ready */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_code: {
        parameters: {
            query?: {
                /** @description The `next` cursor of the previous page. */
                after?: string;
                /** @description At most this many items (1–1000, default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of names */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CodeList"];
                };
            };
            /** @description Bad query or cursor */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    show_code: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description `NAME` or `NAME@N` */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The version */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CodeVersionView"];
                };
            };
            /** @description No such code in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Malformed reference */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    add_code: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Code name: 1–64 letters, digits, `-`, `_`, `.` */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeBody"];
            };
        };
        responses: {
            /** @description The current version already has this content */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CodeAdded"];
                };
            };
            /** @description A new version was stored */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CodeAdded"];
                };
            };
            /** @description Malformed body, or a key given twice */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid code (with line and column) or name */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    remove_code: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Code name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such code in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A body typed as a web form or plain text (refused: any web site can send those) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    rollback: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Code name */
                name: string;
            };
            cookie?: never;
        };
        /** @description Empty for the previous version */
        requestBody: {
            content: {
                "application/json": components["schemas"]["RollbackBody"];
            };
        };
        responses: {
            /** @description The version the name now resolves to */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CodeVersionView"];
                };
            };
            /** @description Malformed body, or a key given twice */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such code or version */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Nothing to roll back to */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    version: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Code name */
                name: string;
                /** @description Version number, from 1 */
                version: number;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The version */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CodeVersionView"];
                };
            };
            /** @description Version is not a number */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such version in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Malformed name */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    workspace_sse: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `text/event-stream` of the workspace's events: each `data:` an `EventRecord` (components/schemas), `id:` is `execution/seq` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
        };
    };
    execute: {
        parameters: {
            query?: {
                /** @description How long to wait for the result before answering 202 (0–300, default 30). */
                wait_seconds?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SubmitRequest"];
            };
        };
        responses: {
            /** @description It ended within the wait: the execution and its result */
            200: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Executed"];
                };
            };
            /** @description Still running after the wait; `Location` points at it */
            202: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submitted"];
                };
            };
            /** @description Malformed body, unknown field, or a wait over 300 s */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Refused: a pack whose rights deny derived data for a session that streams it (`policy`), or a live session the workspace's policy or the server does not allow (`not-allowed`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unknown pack or code */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The pack is unusable (import failed) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request or code */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The pack is warming; retry after `Retry-After` seconds */
            503: {
                headers: {
                    /** @description Seconds until the pack should be ready */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_executions: {
        parameters: {
            query?: {
                /** @description The `next` cursor of the previous page. */
                after?: string;
                /** @description Only this kind: scan, test, backtest, sweep, run, import, pattern, check, evaluate. */
                kind?: string;
                /** @description At most this many (1–1000, default 50). */
                limit?: number;
                /** @description Only executions of this code name. */
                name?: string;
                /** @description Only the step executions of this pattern execution (`ex_…`; a malformed id is 400). */
                parent?: string;
                /** @description Only executions created at or after this time (RFC 3339) or date (YYYY-MM-DD). */
                since?: string;
                /** @description Only this state: pending, running, paused, completed, failed, cancelled. */
                state?: string;
                /** @description List the executions patterns ran for their steps too (default false: they are hidden). */
                steps?: boolean;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionList"];
                };
            };
            /** @description Bad filter or cursor */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    submit: {
        parameters: {
            query?: never;
            header?: {
                /** @description Same key + same body ⇒ the same execution; same key + another body ⇒ 422 */
                "Idempotency-Key"?: string | null;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SubmitRequest"];
            };
        };
        responses: {
            /** @description A completed execution with the same fingerprint (`reuse`) */
            200: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submitted"];
                };
            };
            /** @description Accepted; `Location` points at the execution */
            202: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submitted"];
                };
            };
            /** @description Malformed body, unknown field, a key given twice, or Idempotency-Key sent twice */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Refused: a pack whose rights deny derived data for a session that streams it (`policy`), or a live session the workspace's policy or the server does not allow (`not-allowed`) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Unknown pack or code */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The pack is unusable (import failed) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Body too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid request, code or reused Idempotency-Key */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The pack is warming; retry after `Retry-After` seconds */
            503: {
                headers: {
                    /** @description Seconds until the pack should be ready */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    show_execution: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The execution */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionView"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    cancel: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The execution after the change */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionView"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not allowed in the execution's state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A body typed as a web form or plain text (refused: any web site can send those) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    equity: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `[{ticker, points: [{date, equity, drawdown}]}]`; `date` is `YYYY-MM-DD` for daily bars, RFC 3339 with the offset of the pack's zone for intraday bars; watermarked: `{watermark, rows}` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description The data's rights deny exporting equity curves */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not a backtest */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    execution_sse: {
        parameters: {
            query?: {
                /**
                 * @description Replay events with a sequence number above this, 0 to 9223372036854775807
                 *     (`Last-Event-ID` wins when both are given).
                 */
                after?: number;
            };
            header?: {
                /** @description Resume after this sequence number */
                "Last-Event-ID"?: number | null;
            };
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `text/event-stream`: each event's `data:` is an `EventRecord` (components/schemas) and its `id:` its sequence number; `event: done` ends the stream */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description Bad Last-Event-ID or after (not digits, or above 9223372036854775807) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    orders: {
        parameters: {
            query?: {
                /** @description Only events with a sequence number above this (the `next` of the previous page). */
                after?: number;
                /** @description Events per page (default and maximum 10,000). */
                limit?: number;
            };
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `{events: [{seq, at, type: order|session-day, ...}], next}`; `next` is the `after` of the next page, null on the last so far; watermarked: `{watermark, rows}` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description A query parameter other than `after` and `limit`, or one that is not a number */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The data's rights deny exporting derived data */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not a paper session */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    pause: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The execution after the change */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionView"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not allowed in the execution's state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A body typed as a web form or plain text (refused: any web site can send those) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    report: {
        parameters: {
            query?: {
                /** @description json (default), ndjson, csv, parquet or md: every kind has every format. */
                format?: string;
            };
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The report */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                    "text/markdown": string;
                };
            };
            /** @description Unknown format */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A check that has not completed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not an A+ test or a check */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    results: {
        parameters: {
            query?: {
                /**
                 * @description `all` (default) or `signals`: a scan's rows without their `let` columns (ticker and
                 *     bar), readable whatever the data's rights (docs/rights.md).
                 */
                columns?: string;
                /** @description json (default), ndjson, csv, parquet or md: every kind has every format. */
                format?: string;
            };
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The results committed so far; a watermarked JSON export is `{watermark, rows}`; header `quantd-attribution` carries the data's attribution */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                    "application/vnd.apache.parquet": string;
                    "application/x-ndjson": string;
                    "text/csv": string;
                    "text/markdown": string;
                };
            };
            /** @description Unknown or unavailable format */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The data's rights deny exporting these results */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    resume: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The execution after the change */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionView"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not allowed in the execution's state */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A body typed as a web form or plain text (refused: any web site can send those) */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retry: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The pattern execution */
                id: string;
            };
            cookie?: never;
        };
        /** @description The steps to run again from (optional) */
        requestBody?: {
            content: {
                "application/json": null | components["schemas"]["RetryBody"];
            };
        };
        responses: {
            /** @description The new pattern execution; `Location` points at it */
            202: {
                headers: {
                    /** @description /v1/executions/{id} */
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Submitted"];
                };
            };
            /** @description Malformed body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not a finished pattern, or an unknown step */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    summary: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `{execution, state, summary}`; summary is null until the execution completes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    trades: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description `[{ticker, trades: [...]}]` (backtesting.py's trade columns); watermarked: `{watermark, rows}` */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description The data's rights deny exporting trades */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not a backtest */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    execution_ws: {
        parameters: {
            query?: {
                /**
                 * @description Replay events with a sequence number above this, 0 to 9223372036854775807
                 *     (`Last-Event-ID` wins when both are given).
                 */
                after?: number;
            };
            header?: never;
            path: {
                /** @description Execution id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description WebSocket: JSON messages — events (`seq`, `type`, …), `{"type":"done"}`, command acknowledgements and problems; closed with 1008 once the token is revoked */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not a WebSocket upgrade, or `after` out of range */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such execution in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    history: {
        parameters: {
            query?: {
                /** @description The `next` cursor of the previous page. */
                after?: string;
                /** @description Only this kind: scan, test, backtest, sweep, run, import, pattern, check, evaluate. */
                kind?: string;
                /** @description At most this many (1–1000, default 50). */
                limit?: number;
                /** @description Only executions of this code name. */
                name?: string;
                /** @description Only the step executions of this pattern execution (`ex_…`; a malformed id is 400). */
                parent?: string;
                /** @description Only executions created at or after this time (RFC 3339) or date (YYYY-MM-DD). */
                since?: string;
                /** @description Only this state: pending, running, paused, completed, failed, cancelled. */
                state?: string;
                /** @description List the executions patterns ran for their steps too (default false: they are hidden). */
                steps?: boolean;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionList"];
                };
            };
            /** @description Bad filter or cursor */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    openapi: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description This document (OpenAPI 3.1) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, unknown>;
                };
            };
        };
    };
    list_packs: {
        parameters: {
            query?: {
                /** @description The `next` cursor of the previous page. */
                after?: string;
                /** @description At most this many items (1–1000, default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of packs */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PackList"];
                };
            };
            /** @description Bad query or cursor */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    upload: {
        parameters: {
            query: {
                /** @description Attribution to show with the data. */
                attribution?: string;
                /** @description The unit of integer times: `s`, `ms` or `ns`. */
                epoch?: string;
                /**
                 * @description What may leave quantd of the bars and of what is derived from them: `allow` (default),
                 *     `watermark` or `deny` (docs/rights.md).
                 */
                export?: string;
                /** @description `csv` (default) or `parquet`. */
                format?: string;
                /**
                 * @description The bar interval (`1m`, `5m`, `15m`, `30m`, `1h`, `4h`, `1d`, `1w`, `1mo`, `irregular`);
                 *     default: the most common gap between bars.
                 */
                interval?: string;
                /** @description Drop bad rows (and count them) instead of refusing the file. */
                lenient?: boolean;
                /** @description The data's license. */
                license?: string;
                /** @description Pack name. */
                name: string;
                /** @description Forbid exporting the bars and what is derived from them (`export=deny`). */
                no_export?: boolean;
                /**
                 * @description The provider of the rights registry whose terms apply (`GET /v1/rights`); its terms win
                 *     over `license`, `attribution` and `export`.
                 */
                provider?: string;
                /** @description Where the data came from. */
                source?: string;
                /** @description Ticker of a file without a ticker column. */
                ticker?: string;
                /**
                 * @description The exchange's time zone (IANA name, e.g. `America/New_York`): naive times in the file
                 *     are local to it, and the pack records it. Default: UTC (or the zone a Parquet time
                 *     column is stored with).
                 */
                tz?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The file */
        requestBody: {
            content: {
                "application/octet-stream": number[];
                "application/vnd.apache.parquet": number[];
                "text/csv": number[];
            };
        };
        responses: {
            /** @description Imported (the import execution is linked with `Link: <…>; rel="execution"`) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PackView"];
                };
            };
            /** @description Importing: follow the execution (`Location`) */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadAccepted"];
                };
            };
            /** @description Bad query */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not an admin token */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The named `provider` is not in the rights registry */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description File too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Content-Type missing or not one of the upload types */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The file is not valid market data (with the row) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Uploads in flight fill the upload budget; retry after `Retry-After` seconds */
            503: {
                headers: {
                    /** @description Seconds to wait */
                    "Retry-After"?: number;
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    show_pack: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Pack name, id or id prefix (8+ characters) */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pack */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PackView"];
                };
            };
            /** @description No such pack */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Ambiguous id prefix */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    set_pack_provider: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Pack name */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PackProvider"];
            };
        };
        responses: {
            /** @description Set */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Malformed body */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not an admin token */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such pack or provider */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    get_policy: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The workspace's policy */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspacePolicy"];
                };
            };
        };
    };
    set_policy: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["WorkspacePolicy"];
            };
        };
        responses: {
            /** @description Stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WorkspacePolicy"];
                };
            };
            /** @description Malformed body, unknown field or error class */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `live_trading` changed by a token that is not an admin's */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Attempts or a multiplier out of range */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_providers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The providers, by name */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Provider"][];
                };
            };
        };
    };
    add_provider: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The provider's name (letters, digits, `-`, `_`, `.`) */
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProviderBody"];
            };
        };
        responses: {
            /** @description Replaced: every pack naming it takes the new terms */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Provider"];
                };
            };
            /** @description Added */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Provider"];
                };
            };
            /** @description Malformed body or unknown field */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not an admin token */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description An invalid name, text or environment */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    remove_provider: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The provider's name */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not an admin token */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such provider */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A pack names it */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    rights_log: {
        parameters: {
            query?: {
                /** @description The `next` cursor of the previous page. */
                after?: string;
                /** @description Only this execution's entries. */
                execution?: string;
                /** @description Only refused and watermarked exports (default true: this is the rights log). */
                exports?: boolean;
                /** @description At most this many entries (1–1000, default 100). */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One page of entries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditPage"];
                };
            };
            /** @description Bad query or cursor */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    pattern_schema: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A JSON Schema (draft 2020-12) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": Record<string, unknown>;
                };
            };
        };
    };
    run_summary: {
        parameters: {
            query?: {
                /** @description Only executions of this code name. */
                name?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Runs, success rate, signals, average return, Sharpe, drawdown, best and worst run */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description Bad query */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    validate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeBody"];
            };
        };
        responses: {
            /** @description The code is valid */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Validated"];
                };
            };
            /** @description Malformed body, or a key given twice */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Invalid code, with diagnostics */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    list_webhooks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every webhook of the workspace */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookView"][];
                };
            };
        };
    };
    add_webhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["WebhookSpec"];
            };
        };
        responses: {
            /** @description Registered; `secret` is shown only here */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookView"];
                };
            };
            /** @description Malformed body or unknown field */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is not `application/json` */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description An invalid url, event or secret, or the workspace's webhook limit reached */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    remove_webhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The webhook's id (`wh_…`) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No such webhook in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    webhook_deliveries: {
        parameters: {
            query?: {
                /** @description At most this many deliveries, newest first (1–500, default 50). */
                limit?: number;
            };
            header?: never;
            path: {
                /** @description The webhook's id (`wh_…`) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Its deliveries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeliveryView"][];
                };
            };
            /** @description Bad query */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such webhook in this workspace */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `limit` out of range */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
}
