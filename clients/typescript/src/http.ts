// The typed core of the client: one `call` for every route of the generated `paths`, with the
// path's parameters, query and JSON body checked against the OpenAPI document at compile time,
// the bearer token on every request, and a `QuantdError` for every answer that is not a success.

import { errorOf, transportError } from './errors.js';
import type { paths } from './schema.js';

/** The HTTP methods the API uses. */
export type Method = 'get' | 'post' | 'put' | 'delete';

/** The paths that have an operation for method `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends { [K in M]: infer O } ? ([O] extends [never | undefined] ? never : P) : never;
}[keyof paths];

/** The operation of `M` on `P`. */
export type Operation<P extends keyof paths, M extends Method> = paths[P] extends { [K in M]: infer O } ? O : never;

type Parameters<O> = O extends { parameters: infer X } ? X : never;
type PathParams<O> = Parameters<O> extends { path: infer X } ? ([X] extends [never | undefined] ? never : X) : never;
type QueryParams<O> = Parameters<O> extends { query?: infer X } ? ([X] extends [never | undefined] ? never : X) : never;

/** The JSON request body of an operation (`never` when it takes none). */
export type JsonBody<O> = O extends { requestBody?: infer R }
  ? [NonNullable<R>] extends [never]
    ? never
    : NonNullable<R> extends { content: { 'application/json': infer B } }
      ? B
      : never
  : never;

type Success = 200 | 201 | 202;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : never;
/** The JSON body of an operation's success responses (200, 201, 202). */
export type JsonResult<O> = O extends { responses: infer R }
  ? { [S in keyof R & Success]: JsonOf<R[S]> }[keyof R & Success]
  : never;

/** What a call takes besides method and path: only the parts the operation has, typed. */
export type CallInit<O> = ([PathParams<O>] extends [never] ? { path?: undefined } : { path: PathParams<O> }) &
  ([QueryParams<O>] extends [never] ? { query?: undefined } : { query?: QueryParams<O> }) &
  ([JsonBody<O>] extends [never] ? { body?: undefined } : { body: JsonBody<O> }) & {
    /** Extra request headers (`Idempotency-Key`, `Accept`, …). */
    headers?: Record<string, string>;
    /** Cancels the request. */
    signal?: AbortSignal;
  };

/** How to reach a server. */
export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  /**
   * A workspace token (`qdt_<id>_<secret>`, from `quantd tokens create`). Leave it out for a
   * server run with `--no-auth`, or in a browser page of the dashboard's own origin (its
   * session cookie then authenticates GET requests and WebSockets).
   */
  token?: string;
  /** The fetch to use (default: the global one; Node 20+ and browsers have it). */
  fetch?: typeof fetch;
  /** Headers added to every request. */
  headers?: Record<string, string>;
}

/** Connection details shared by the REST calls and the event streams. */
export class Transport {
  readonly baseUrl: string;
  readonly token: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;

  constructor(options: ClientOptions) {
    if (!options.url) throw new TypeError('quantd Client: `url` is required (e.g. http://127.0.0.1:8000)');
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#headers = { ...(options.headers ?? {}) };
  }

  /** The absolute URL of `path` (which starts with `/`) with `query`'s defined values. */
  url(path: string, query?: Record<string, unknown>): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    }
    return u.toString();
  }

  /** Request headers: the defaults, the bearer token, then `extra`. */
  headers(extra?: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { ...this.#headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return { ...h, ...(extra ?? {}) };
  }

  /** Sends a request; throws `QuantdError` for a non-success status or a transport failure. */
  async send(method: string, url: string, init: { headers?: Record<string, string>; body?: BodyInit; signal?: AbortSignal }): Promise<Response> {
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: method.toUpperCase(),
        headers: this.headers(init.headers),
        body: init.body,
        signal: init.signal,
      });
    } catch (e) {
      if (init.signal?.aborted) throw e;
      throw transportError(`${method.toUpperCase()} ${url}`, e);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  /**
   * Calls the operation `method` on `path` of the OpenAPI document: `{id}`-style segments are
   * filled from `init.path` (URL-encoded), `init.query`'s defined values become the query, and
   * `init.body` is sent as `application/json`. Resolves to the parsed JSON of a success (or
   * `undefined` for 204); rejects with `QuantdError`.
   */
  async call<P extends PathsWith<M>, M extends Method>(
    method: M,
    path: P,
    init: CallInit<Operation<P, M>>,
  ): Promise<JsonResult<Operation<P, M>>> {
    const res = await this.raw(method, path, init as RawInit);
    if (res.status === 204) return undefined as JsonResult<Operation<P, M>>;
    return (await res.json()) as JsonResult<Operation<P, M>>;
  }

  /** As `call`, but resolves to the `Response` itself (headers, streamed bodies, other formats). */
  async raw(method: Method, path: string, init: RawInit = {}): Promise<Response> {
    const filled = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const v = init.path?.[name];
      if (v === undefined || v === null) throw new TypeError(`quantd Client: path parameter \`${name}\` of ${path} is missing`);
      return encodeURIComponent(String(v));
    });
    const headers: Record<string, string> = { accept: 'application/json', ...(init.headers ?? {}) };
    let body: string | undefined;
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    return this.send(method, this.url(filled, init.query), { headers, body, signal: init.signal });
  }
}

/** The untyped form of `CallInit`. */
export interface RawInit {
  path?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}
