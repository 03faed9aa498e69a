// `Client`: the routes a front end needs, grouped as the API guide groups them (docs/api.md),
// each a thin, typed call of `Transport.call` on the generated `paths`.

import { ExecutionEvents, WorkspaceEvents, type EventStreamOptions, type WorkspaceStreamOptions } from './events.js';
import { type ClientOptions, type JsonResult, type Operation, Transport } from './http.js';
import type { components, paths } from './schema.js';
import type {
  CodeBody,
  ExecutionEvent,
  ExecutionList,
  ExecutionState,
  ExecutionView,
  LookaheadRequest,
  OrdersPage,
  Row,
  Rows,
  SubmitRequest,
  TickerEquity,
  TickerTrades,
} from './types.js';

type Query<P extends keyof paths, M extends 'get' | 'post'> = Operation<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** Filters and cursor of execution lists (`GET /v1/executions`, `/v1/history`). */
export type ListQuery = Query<'/v1/executions', 'get'>;
/** The export formats of results. */
export type ResultFormat = 'json' | 'ndjson' | 'csv' | 'parquet' | 'md';

/** Options of `submit`. */
export interface SubmitOptions {
  /** Same key + same body ⇒ the same execution (safe to retry); same key + another body ⇒ 422. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** What `submit` answers: the execution, whether an identical completed run was reused, warnings. */
export type Submitted = components['schemas']['Submitted'];

/** An export's JSON: rows, or `{watermark, rows}` when the data's rights ask for a watermark. */
async function rowsOf<T>(res: Response): Promise<Rows<T>> {
  const body = (await res.json()) as T[] | { watermark: string; rows: T[] };
  const attribution = res.headers.get('quantd-attribution') ?? undefined;
  if (Array.isArray(body)) return { rows: body, watermark: undefined, attribution };
  return { rows: body.rows, watermark: body.watermark, attribution };
}

/** A typed client of one quantd server, for one workspace (its token's). */
export class Client {
  /** The typed core: `client.http.call('get', '/v1/packs', {})` reaches any route of the document. */
  readonly http: Transport;

  constructor(options: ClientOptions) {
    this.http = new Transport(options);
  }

  // ---------------------------------------------------------------- health and the document

  /** Liveness (no token needed). */
  health(): Promise<JsonResult<Operation<'/health', 'get'>>> {
    return this.http.call('get', '/health', {});
  }

  /** The server's OpenAPI 3.1 document. */
  async openapi(): Promise<Record<string, unknown>> {
    return (await (await this.http.raw('get', '/v1/openapi.json')).json()) as Record<string, unknown>;
  }

  // ---------------------------------------------------------------- packs

  readonly packs = {
    /** The shared catalog. */
    list: () => this.http.call('get', '/v1/packs', {}),
    /** A pack by name, id or id prefix. */
    get: (name: string) => this.http.call('get', '/v1/packs/{name}', { path: { name } }),
    /** A pack's freshness: `fresh`, `warming` (+ `estimated_ready`), `stale` or `error`. */
    health: (name: string) => this.http.call('get', '/health/pack/{name}', { path: { name } }),
  };

  // ---------------------------------------------------------------- code

  readonly code = {
    /** The workspace's code names, a page at a time (`after` is the previous page's `next`). */
    list: (query: Query<'/v1/code', 'get'> = {}) => this.http.call('get', '/v1/code', { query }),
    /** The current version of `name` (`NAME` or `NAME@N`). */
    get: (name: string) => this.http.call('get', '/v1/code/{name}', { path: { name } }),
    /** Version `n` of `name`. */
    version: (name: string, version: number) =>
      this.http.call('get', '/v1/code/{name}/versions/{version}', { path: { name, version } }),
    /** Stores a new version of `name` (201; 200 when unchanged). Invalid code ⇒ `QuantdError` 422 with line/column. */
    deploy: (name: string, body: CodeBody) => this.http.call('post', '/v1/code/{name}', { path: { name }, body }),
    /** Points `name` back at version `to` (default: the previous one). */
    rollback: (name: string, to?: number) =>
      this.http.call('post', '/v1/code/{name}/rollback', { path: { name }, body: to === undefined ? {} : { to } }),
    /** Removes the name (its versions stay for old executions). */
    remove: (name: string) => this.http.call('delete', '/v1/code/{name}', { path: { name } }),
    /** Checks code without storing it: `{valid, language, params, id}`, or `QuantdError` 422 with line/column. */
    validate: (body: CodeBody) => this.http.call('post', '/v1/validate', { body }),
  };

  // ---------------------------------------------------------------- executions

  readonly executions = {
    /** Starts an execution (202; 200 when `reuse` found a completed identical run). */
    submit: (body: SubmitRequest, options: SubmitOptions = {}): Promise<Submitted> =>
      this.http.call('post', '/v1/executions', {
        body,
        headers: options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : undefined,
        signal: options.signal,
      }),
    /** Starts a look-ahead check (an execution of kind `check`). */
    checkLookahead: (body: LookaheadRequest): Promise<Submitted> => this.http.call('post', '/v1/checks/lookahead', { body }),
    /** Starts an execution and waits up to `waitSeconds` (default 30, ≤ 300) for it to end. */
    execute: (body: SubmitRequest, waitSeconds?: number) =>
      this.http.call('post', '/v1/execute', { body, query: waitSeconds === undefined ? {} : { wait_seconds: waitSeconds } }),
    /** One execution: state, progress, health, fingerprint, timings, spec. */
    get: (id: string): Promise<ExecutionView> => this.http.call('get', '/v1/executions/{id}', { path: { id } }),
    /** One page of the workspace's executions, newest first; `next` is the cursor of the next page. */
    list: (query: ListQuery = {}): Promise<ExecutionList> => this.http.call('get', '/v1/executions', { query }),
    /** Every execution matching `query`, following the cursors page by page. */
    all: (query: ListQuery = {}): AsyncIterable<ExecutionView> => this.#pages(query),
    /** Pauses: no new shard starts (409 `QuantdError` when the state does not allow it). */
    pause: (id: string): Promise<ExecutionView> => this.http.call('post', '/v1/executions/{id}/pause', { path: { id } }),
    /** Resumes a paused execution. */
    resume: (id: string): Promise<ExecutionView> => this.http.call('post', '/v1/executions/{id}/resume', { path: { id } }),
    /** Cancels; committed results stay readable. */
    cancel: (id: string): Promise<ExecutionView> => this.http.call('post', '/v1/executions/{id}/cancel', { path: { id } }),
    /** The results committed so far as JSON rows (scan signals, backtest statistics per ticker, …). */
    results: async <T = Row>(id: string, options: { columns?: 'signals' } = {}): Promise<Rows<T>> =>
      rowsOf<T>(await this.resultsResponse(id, 'json', options)),
    /** The results as newline-delimited JSON rows, parsed as they stream in (bounded memory). */
    resultRows: <T = Row>(id: string, options: { columns?: 'signals'; signal?: AbortSignal } = {}): AsyncIterable<T> =>
      this.#ndjson<T>(id, options),
    /** The stored summary (signals, A+ scores, backtest means); `summary` is null until it completes. */
    summary: (id: string) =>
      this.http.call('get', '/v1/executions/{id}/summary', { path: { id } }) as Promise<{
        execution: string;
        state: ExecutionState;
        summary: Record<string, unknown> | null;
      }>,
    /** The A+ test report or a check's look-ahead report (JSON). */
    report: async (id: string): Promise<Record<string, unknown>> =>
      (await (await this.http.raw('get', '/v1/executions/{id}/report', { path: { id }, query: { format: 'json' } })).json()) as Record<
        string,
        unknown
      >,
    /** The report as Markdown. */
    reportMarkdown: async (id: string): Promise<string> =>
      (
        await this.http.raw('get', '/v1/executions/{id}/report', {
          path: { id },
          query: { format: 'md' },
          headers: { accept: 'text/markdown' },
        })
      ).text(),
    /** A backtest's trades, per ticker. */
    trades: async (id: string): Promise<Rows<TickerTrades>> =>
      rowsOf<TickerTrades>(await this.http.raw('get', '/v1/executions/{id}/trades', { path: { id } })),
    /** A backtest's equity curves, per ticker (≤ 100 tickers). */
    equity: async (id: string): Promise<Rows<TickerEquity>> =>
      rowsOf<TickerEquity>(await this.http.raw('get', '/v1/executions/{id}/equity', { path: { id } })),
    /** A page of a paper session's orders and trading days (`next` is the next page's `after`). */
    orders: async (id: string, query: { after?: number; limit?: number } = {}): Promise<OrdersPage & { watermark?: string }> =>
      (await (await this.http.raw('get', '/v1/executions/{id}/orders', { path: { id }, query })).json()) as OrdersPage & {
        watermark?: string;
      },
    /**
     * The execution's events, each exactly once and in order, reconnecting and replaying after
     * a dropped connection; `for await (const e of client.executions.events(id)) …`.
     */
    events: (id: string, options: EventStreamOptions = {}): ExecutionEvents => new ExecutionEvents(this.http, id, options),
    /** Follows the execution's events to its end; resolves to the execution as it ended. */
    wait: async (id: string, options: EventStreamOptions & { onEvent?: (e: ExecutionEvent) => void } = {}) => {
      await new ExecutionEvents(this.http, id, options).wait(options.onEvent);
      return this.http.call('get', '/v1/executions/{id}', { path: { id } });
    },
  };

  /**
   * The response of a results export in `format`, its body unread: stream CSV, Parquet or
   * NDJSON from `res.body` (any size), or call `res.text()`/`res.arrayBuffer()`.
   */
  resultsResponse(id: string, format: ResultFormat = 'json', options: { columns?: 'signals'; signal?: AbortSignal } = {}): Promise<Response> {
    const accept: Record<ResultFormat, string> = {
      json: 'application/json',
      ndjson: 'application/x-ndjson',
      csv: 'text/csv',
      parquet: 'application/vnd.apache.parquet',
      md: 'text/markdown',
    };
    return this.http.raw('get', '/v1/executions/{id}/results', {
      path: { id },
      query: { format, columns: options.columns },
      headers: { accept: accept[format] },
      signal: options.signal,
    });
  }

  // ---------------------------------------------------------------- history and the workspace stream

  /** Past executions, as `quantd history` (the filters and cursor of `executions.list`). */
  history(query: ListQuery = {}): Promise<ExecutionList> {
    return this.http.call('get', '/v1/history', { query });
  }

  /** Totals over the workspace's executions, as `quantd summary`. */
  summary(name?: string): Promise<Record<string, unknown>> {
    return this.http.call('get', '/v1/summary', { query: name === undefined ? {} : { name } }) as Promise<Record<string, unknown>>;
  }

  /** Every event of the workspace's executions as they happen (live only, no replay). */
  events(options: WorkspaceStreamOptions = {}): WorkspaceEvents {
    return new WorkspaceEvents(this.http, options);
  }

  async *#pages(query: ListQuery): AsyncGenerator<ExecutionView, void, undefined> {
    let after: string | undefined = query.after ?? undefined;
    for (;;) {
      const page: ExecutionList = await this.http.call('get', '/v1/executions', { query: { ...query, after } });
      yield* page.items;
      if (!page.next) return;
      after = page.next;
    }
  }

  async *#ndjson<T>(id: string, options: { columns?: 'signals'; signal?: AbortSignal }): AsyncGenerator<T, void, undefined> {
    const res = await this.resultsResponse(id, 'ndjson', options);
    if (!res.body) return;
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
        let start = 0;
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n', start)) {
          const line = buffer.slice(start, nl).trim();
          start = nl + 1;
          if (line) yield JSON.parse(line) as T;
        }
        buffer = buffer.slice(start);
        if (done) break;
      }
      if (buffer.trim()) yield JSON.parse(buffer) as T;
    } finally {
      reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }
}
