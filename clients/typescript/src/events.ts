// Live events with reconnect and replay.
//
// `ExecutionEvents` follows one execution over SSE (`GET /v1/executions/{id}/events`) or a
// WebSocket (`GET /v1/executions/{id}/ws`) as an async iterator. When the connection drops, the
// server shuts down (`event: shutdown`) or a reconnect fails with a 5xx or a network error, it
// connects again after a backoff, asking for the events after the last one it yielded
// (`Last-Event-ID` on SSE, `?after=` on a new WebSocket); the server replays them from its store.
// It also drops any event at or below the last sequence number it yielded, so each event is
// yielded exactly once, in order, across any number of reconnects. The iterator ends after the
// execution's final event (the server's `done`), with `state` set.
//
// `WorkspaceEvents` follows `GET /v1/events` (every execution of the workspace, live only: the
// server has no replay for it); it reconnects too and reports what may have been missed.

import { QuantdError, isProblem, transportError } from './errors.js';
import type { Transport } from './http.js';
import { SseParser, sseMessages } from './sse.js';
import type { ExecutionEvent, ExecutionState } from './types.js';

/** How a stream retries. */
export interface RetryOptions {
  /**
   * Reconnects in a row, without an event in between, before giving up with the last error
   * (default 8). A reconnect that delivers an event resets the count.
   */
  maxRetries?: number;
  /** The first backoff in milliseconds (default 250); it doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** The longest backoff in milliseconds (default 5000). */
  maxDelayMs?: number;
}

/** Options of an execution's event stream. */
export interface EventStreamOptions extends RetryOptions {
  /** `sse` (default: works everywhere fetch streams) or `ws`. */
  transport?: 'sse' | 'ws';
  /** Start after this sequence number: 0 (default) replays every stored event. */
  after?: number;
  /** Stops the stream (the iterator then throws the signal's reason). */
  signal?: AbortSignal;
  /** Called before each reconnect, with why the previous connection ended. */
  onReconnect?: (info: ReconnectInfo) => void;
  /**
   * The WebSocket constructor for `ws` (default: the `ws` package in Node, which can send the
   * bearer token; the global `WebSocket` elsewhere, which cannot send headers: in a browser it
   * is authenticated by the dashboard's session cookie of the same origin, or not at all with
   * `--no-auth`).
   */
  WebSocket?: WebSocketConstructor;
}

/** Why a stream reconnects. */
export interface ReconnectInfo {
  /** Reconnects in a row so far, from 1. */
  attempt: number;
  /** The sequence number the reconnect resumes after. */
  after: number;
  /** What ended the previous connection. */
  reason: unknown;
  /** The backoff before this reconnect, in milliseconds. */
  delayMs: number;
}

/** What a command over the WebSocket answers (`{"type": "ack", "command", "state"}`). */
export interface CommandAck {
  type: 'ack';
  command: 'pause' | 'resume' | 'cancel';
  state: ExecutionState;
}

/** The minimal WebSocket surface used here (the WHATWG one, which `ws` implements too). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (ev: { code: number; reason: string }) => void): void;
  addEventListener(type: 'error', listener: (ev: unknown) => void): void;
}
/** A WebSocket constructor: `(url, protocols, options)`; `ws` takes `{headers}` as options. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** A reason to reconnect rather than fail. */
class Retry {
  constructor(readonly reason: unknown) {}
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The stream was aborted', 'AbortError');
}

/** Waits `ms`, or rejects as soon as `signal` aborts. */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Whether a failed (re)connect is worth another try: the server or the network, not the request. */
function retryable(e: unknown): boolean {
  // Transport failures are `QuantdError`s with status 0; anything else (a body that is not
  // JSON, a bug) is not made better by asking again.
  return e instanceof QuantdError && (e.status === 0 || e.status === 429 || e.status >= 500);
}

/** Counts reconnects in a row and waits the backoff before each. */
class Backoff {
  #failures = 0;
  constructor(
    private readonly opts: RetryOptions,
    private readonly signal: AbortSignal | undefined,
    private readonly onReconnect: ((info: ReconnectInfo) => void) | undefined,
  ) {}

  /** An event arrived: the connection works. */
  progressed(): void {
    this.#failures = 0;
  }

  /** Waits before the next connection, or throws once there were too many in a row. */
  async next(reason: unknown, after: number): Promise<void> {
    this.#failures += 1;
    const max = this.opts.maxRetries ?? 8;
    if (this.#failures > max) {
      throw reason instanceof Error ? reason : transportError(`giving up after ${max} reconnects`, reason);
    }
    const first = this.opts.initialDelayMs ?? 250;
    const cap = this.opts.maxDelayMs ?? 5000;
    const delayMs = Math.min(cap, first * 2 ** (this.#failures - 1));
    this.onReconnect?.({ attempt: this.#failures, after, reason, delayMs });
    await delay(delayMs, this.signal);
  }
}

/**
 * The events of one execution, each exactly once and in order across reconnects; iterate with
 * `for await`. After the loop, `state` is the execution's final state.
 */
export class ExecutionEvents implements AsyncIterable<ExecutionEvent> {
  /** The sequence number of the last event yielded (where a reconnect resumes). */
  lastSeq: number;
  /** The execution's final state, once the stream said `done`. */
  state: ExecutionState | undefined;
  /** Connections made after the first. */
  reconnects = 0;
  #socket: WebSocketLike | undefined;
  #pending: Array<{ resolve: (a: CommandAck) => void; reject: (e: unknown) => void }> = [];
  #iterating = false;

  constructor(
    private readonly transport: Transport,
    readonly id: string,
    private readonly options: EventStreamOptions = {},
  ) {
    this.lastSeq = options.after ?? 0;
  }

  [Symbol.asyncIterator](): AsyncIterator<ExecutionEvent> {
    if (this.#iterating) throw new Error('quantd ExecutionEvents: already being iterated; make another stream');
    this.#iterating = true;
    return (this.options.transport === 'ws' ? this.#overWs() : this.#overSse())[Symbol.asyncIterator]();
  }

  /** Reads every event to the end; resolves to the final state. */
  async wait(onEvent?: (e: ExecutionEvent) => void): Promise<ExecutionState> {
    for await (const e of this) onEvent?.(e);
    return this.state!;
  }

  /**
   * Sends `pause`, `resume` or `cancel` over the open WebSocket (the `ws` transport, while
   * iterating); resolves to the server's acknowledgement, rejects with its problem (409 when
   * the state does not allow it).
   */
  command(command: 'pause' | 'resume' | 'cancel'): Promise<CommandAck> {
    const socket = this.#socket;
    if (!socket || socket.readyState > 1) {
      return Promise.reject(new Error('quantd ExecutionEvents.command: no open WebSocket (use transport "ws" and iterate first)'));
    }
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      const send = () => socket.send(JSON.stringify({ command }));
      if (socket.readyState === 1) send();
      else socket.addEventListener('open', send);
    });
  }

  /** Accepts an event if it is new; false for a duplicate (at or below the last yielded). */
  #fresh(e: ExecutionEvent): boolean {
    if (typeof e.seq !== 'number' || e.seq <= this.lastSeq) return false;
    this.lastSeq = e.seq;
    return true;
  }

  async *#overSse(): AsyncGenerator<ExecutionEvent, void, undefined> {
    const { signal } = this.options;
    const backoff = new Backoff(this.options, signal, this.options.onReconnect);
    const url = this.transport.url(`/v1/executions/${encodeURIComponent(this.id)}/events`);
    for (let connection = 0; ; connection++) {
      if (signal?.aborted) throw abortReason(signal);
      if (connection > 0) this.reconnects += 1;
      const local = new AbortController();
      const onAbort = () => local.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let outcome: Retry | 'done';
      try {
        outcome = yield* this.#sseConnection(url, local.signal, backoff);
      } catch (e) {
        if (signal?.aborted) throw abortReason(signal);
        if (!retryable(e)) throw e;
        outcome = new Retry(e);
      } finally {
        signal?.removeEventListener('abort', onAbort);
        local.abort();
      }
      if (outcome === 'done') return;
      await backoff.next(outcome.reason, this.lastSeq);
    }
  }

  /** One SSE connection: `done` when the execution ended, a `Retry` when it should reconnect. */
  async *#sseConnection(url: string, signal: AbortSignal, backoff: Backoff): AsyncGenerator<ExecutionEvent, Retry | 'done', undefined> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.lastSeq > 0) headers['last-event-id'] = String(this.lastSeq);
    let res: Response;
    try {
      res = await this.transport.send('get', url, { headers, signal });
    } catch (e) {
      if (e instanceof QuantdError) throw e;
      throw transportError(`GET ${url}`, e);
    }
    if (!res.body) throw transportError(`GET ${url}`, 'the response has no body');
    const parser = new SseParser();
    try {
      for await (const m of sseMessages(res.body, parser)) {
        switch (m.event) {
          case 'message': {
            const e = JSON.parse(m.data) as ExecutionEvent;
            if (this.#fresh(e)) {
              backoff.progressed();
              yield e;
            }
            break;
          }
          case 'done':
            this.state = (JSON.parse(m.data) as { state: ExecutionState }).state;
            return 'done';
          case 'shutdown':
            return new Retry(new Error('the server is shutting down'));
          case 'revoked':
            throw new QuantdError({
              type: 'urn:quantd:problem:unauthorized',
              title: 'Unauthorized',
              status: 401,
              detail: (JSON.parse(m.data) as { reason?: string }).reason ?? 'the token was revoked',
            });
          default:
            // `error` (an event the server could not serialize) and anything newer: skipped.
            break;
        }
      }
    } catch (e) {
      if (e instanceof QuantdError || e instanceof SyntaxError) throw e;
      if (signal.aborted) throw e;
      return new Retry(transportError(`reading ${url}`, e));
    }
    return new Retry(transportError(`reading ${url}`, 'the stream ended before `done`'));
  }

  async *#overWs(): AsyncGenerator<ExecutionEvent, void, undefined> {
    const { signal } = this.options;
    const backoff = new Backoff(this.options, signal, this.options.onReconnect);
    const Ctor = this.options.WebSocket ?? (await defaultWebSocket());
    for (let connection = 0; ; connection++) {
      if (signal?.aborted) throw abortReason(signal);
      if (connection > 0) this.reconnects += 1;
      let outcome: Retry | 'done';
      try {
        outcome = yield* this.#wsConnection(Ctor, backoff);
      } catch (e) {
        if (signal?.aborted) throw abortReason(signal);
        if (!retryable(e)) throw e;
        outcome = new Retry(e);
      }
      if (outcome === 'done') return;
      await backoff.next(outcome.reason, this.lastSeq);
    }
  }

  /** One WebSocket: its messages through a queue, in order. */
  async *#wsConnection(Ctor: WebSocketConstructor, backoff: Backoff): AsyncGenerator<ExecutionEvent, Retry | 'done', undefined> {
    const base = this.transport.url(`/v1/executions/${encodeURIComponent(this.id)}/ws`, { after: this.lastSeq });
    const url = base.replace(/^http/, 'ws');
    const headers = this.transport.headers();
    const socket = new Ctor(url, undefined, { headers });
    this.#socket = socket;
    type Item = { kind: 'message'; data: unknown } | { kind: 'close'; code: number; reason: string } | { kind: 'error'; error: unknown };
    const queue: Item[] = [];
    let wake: (() => void) | undefined;
    const push = (i: Item) => {
      queue.push(i);
      wake?.();
    };
    // Answers to commands settle at once, here: the caller of `command` may be awaiting one
    // inside its `for await` body, while the generator waits at a `yield`.
    socket.addEventListener('message', (ev) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : String(ev.data)) as Record<string, unknown>;
      } catch (error) {
        push({ kind: 'error', error: error instanceof Error ? error : new Error(String(error)) });
        return;
      }
      if (this.#pending.length > 0 && msg.type === 'ack') {
        this.#pending.shift()!.resolve(msg as unknown as CommandAck);
      } else if (this.#pending.length > 0 && isProblem(msg) && msg.status !== 401) {
        this.#pending.shift()!.reject(new QuantdError(msg));
      } else {
        push({ kind: 'message', data: msg });
      }
    });
    socket.addEventListener('close', (ev) => push({ kind: 'close', code: ev.code, reason: ev.reason }));
    socket.addEventListener('error', (ev) => push({ kind: 'error', error: (ev as { error?: unknown }).error ?? ev }));
    const { signal } = this.options;
    const onAbort = () => push({ kind: 'error', error: abortReason(signal!) });
    signal?.addEventListener('abort', onAbort, { once: true });
    refusedUpgrade(socket, base, (e) => push({ kind: 'error', error: e }));
    try {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        const item = queue.shift()!;
        if (item.kind === 'error') {
          if (signal?.aborted) throw abortReason(signal);
          if (item.error instanceof SyntaxError) throw item.error;
          if (item.error instanceof QuantdError) {
            if (!retryable(item.error)) throw item.error;
            return new Retry(item.error);
          }
          return new Retry(transportError(`WebSocket ${url}`, item.error));
        }
        if (item.kind === 'close') {
          if (item.code === 1008) {
            throw new QuantdError({
              type: 'urn:quantd:problem:unauthorized',
              title: 'Unauthorized',
              status: 401,
              detail: item.reason || 'the token was revoked',
            });
          }
          return new Retry(transportError(`WebSocket ${url}`, `closed (${item.code}) before \`done\``));
        }
        const msg = item.data as Record<string, unknown>;
        if (isProblem(msg)) {
          // A problem no command waits for (401 once the token is revoked): the stream ends with it.
          const e = new QuantdError(msg);
          for (const p of this.#pending.splice(0)) p.reject(e);
          throw e;
        }
        switch (msg.type) {
          case 'ack':
            break;
          case 'done':
            this.state = msg.state as ExecutionState;
            return 'done';
          case 'shutdown':
            return new Retry(new Error('the server is shutting down'));
          default: {
            const e = msg as unknown as ExecutionEvent;
            if (this.#fresh(e)) {
              backoff.progressed();
              yield e;
            }
          }
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#socket = undefined;
      for (const p of this.#pending.splice(0)) p.reject(transportError(`WebSocket ${url}`, 'the connection ended before the answer'));
      try {
        socket.close(1000);
      } catch {
        // already closed
      }
    }
  }
}

/**
 * With the `ws` package, a refused upgrade (401, 404, …) as a `QuantdError` carrying the
 * server's problem document; browsers do not say why an upgrade failed.
 */
function refusedUpgrade(socket: WebSocketLike, url: string, fail: (e: QuantdError) => void): void {
  type NodeResponse = {
    statusCode?: number;
    statusMessage?: string;
    headers: Record<string, string | string[] | undefined>;
    on(ev: 'data', fn: (chunk: Uint8Array) => void): void;
    on(ev: 'end' | 'error', fn: () => void): void;
  };
  const node = socket as unknown as {
    on?: (ev: 'unexpected-response', fn: (req: unknown, res: NodeResponse) => void) => void;
    terminate?: () => void;
  };
  if (typeof node.on !== 'function') return;
  node.on('unexpected-response', (_req, res) => {
    const chunks: Uint8Array[] = [];
    const done = () => {
      const text = new TextDecoder().decode(concat(chunks));
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
      const status = res.statusCode ?? 0;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      fail(
        isProblem(body)
          ? new QuantdError(body, headers)
          : new QuantdError(
              { type: 'about:blank', title: res.statusMessage || 'HTTP error', status, detail: `the WebSocket upgrade of ${url} was refused: ${text.slice(0, 500)}` },
              headers,
            ),
      );
      node.terminate?.();
    };
    res.on('data', (c) => chunks.push(c));
    res.on('end', done);
    res.on('error', done);
  });
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The `ws` package in Node (it sends headers); the global WebSocket elsewhere. */
async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (isNode) {
    // A computed name keeps browser bundlers from resolving the Node-only package.
    const name = 'ws';
    const mod = (await import(name)) as { default: WebSocketConstructor; WebSocket?: WebSocketConstructor };
    return mod.WebSocket ?? mod.default;
  }
  const G = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof G !== 'function') throw new Error('quantd: no WebSocket here; pass `WebSocket` in the options');
  const Browser = G as new (url: string, protocols?: string | string[]) => WebSocketLike;
  // Browsers cannot set headers on a WebSocket: the options are dropped.
  return function BrowserWebSocket(url: string, protocols?: string | string[]) {
    return new Browser(url, protocols);
  } as unknown as WebSocketConstructor;
}

/** Options of the workspace's stream. */
export interface WorkspaceStreamOptions extends RetryOptions {
  signal?: AbortSignal;
  /**
   * Called each time the stream is connected (the server has subscribed it): events that
   * happen from then on are delivered.
   */
  onOpen?: () => void;
  /**
   * Events may have been missed: the server's buffer overflowed (`lagged`, with how many), or
   * the connection dropped and was made again (`reconnect`). The workspace stream has no
   * replay; catch up on an execution with its own stream (`after` its last seen `seq`).
   */
  onGap?: (gap: { reason: 'lagged'; missed: number } | { reason: 'reconnect'; error: unknown }) => void;
}

/** Every event of the workspace's executions, live (no replay), across reconnects. */
export class WorkspaceEvents implements AsyncIterable<ExecutionEvent> {
  constructor(
    private readonly transport: Transport,
    private readonly options: WorkspaceStreamOptions = {},
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<ExecutionEvent> {
    const { signal, onGap, onOpen } = this.options;
    const backoff = new Backoff(this.options, signal, undefined);
    const url = this.transport.url('/v1/events');
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const local = new AbortController();
      const onAbort = () => local.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let reason: unknown;
      try {
        const res = await this.transport.send('get', url, { headers: { accept: 'text/event-stream' }, signal: local.signal });
        if (!res.body) throw transportError(`GET ${url}`, 'the response has no body');
        onOpen?.();
        for await (const m of sseMessages(res.body)) {
          if (m.event === 'message') {
            backoff.progressed();
            yield JSON.parse(m.data) as ExecutionEvent;
          } else if (m.event === 'lagged') {
            onGap?.({ reason: 'lagged', missed: (JSON.parse(m.data) as { missed: number }).missed });
          } else if (m.event === 'revoked') {
            throw new QuantdError({ type: 'urn:quantd:problem:unauthorized', title: 'Unauthorized', status: 401, detail: 'the token was revoked' });
          } else if (m.event === 'shutdown') {
            break;
          }
        }
        reason = transportError(`reading ${url}`, 'the stream ended');
      } catch (e) {
        if (signal?.aborted) throw abortReason(signal);
        // A body that breaks off while read is a transport failure too.
        const err = e instanceof QuantdError || e instanceof SyntaxError ? e : transportError(`reading ${url}`, e);
        if (!retryable(err)) throw err;
        reason = err;
      } finally {
        signal?.removeEventListener('abort', onAbort);
        local.abort();
      }
      await backoff.next(reason, 0);
      onGap?.({ reason: 'reconnect', error: reason });
    }
  }
}

