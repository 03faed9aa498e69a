// What the live tests share: the server they run against (scripts/client-ts-tests starts it),
// clients of two workspaces, and a TCP proxy that cuts connections mid-stream.
import assert from 'node:assert/strict';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { Client, type ExecutionEvent } from '../src/index.js';

/** An environment variable the runner sets; fails loudly when it is missing. */
export function env(name: string): string {
  const v = process.env[name];
  assert.ok(v, `${name} is not set: run the live tests with scripts/client-ts-tests (clients/typescript/README.md)`);
  return v;
}

/** The server under test. */
export const URL_ = (): string => env('QUANTD_URL');
/** A client of workspace `alpha`. */
export const alpha = (url = URL_()): Client => new Client({ url, token: env('QUANTD_TOKEN_A') });
/** A client of workspace `beta`. */
export const beta = (url = URL_()): Client => new Client({ url, token: env('QUANTD_TOKEN_B') });

/** A moving-average crossover strategy (expressions). */
export const SMA_CROSS = {
  entry: 'crosses_above(sma(close, 5), sma(close, 20))',
  exit: 'crosses_below(sma(close, 5), sma(close, 20))',
};

/** A sweep over the `big` pack that runs long enough to be paused, resumed and cancelled. */
export const LONG_SWEEP = {
  kind: 'sweep' as const,
  pack: 'big',
  strategy: {
    entry: 'crosses_above(sma(close, $fast), sma(close, $slow))',
    exit: 'crosses_below(sma(close, $fast), sma(close, $slow))',
  },
  grid: ['fast=2..40:2', 'slow=20..100:10'],
};

/** Collects every event of a stream. */
export async function collect(events: AsyncIterable<ExecutionEvent>): Promise<ExecutionEvent[]> {
  const out: ExecutionEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** Asserts that `seqs` is 1, 2, …, n: no gap, no duplicate, in order. */
export function assertContiguous(seqs: number[]): void {
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    'every event exactly once, in order',
  );
}

/**
 * A loopback TCP proxy in front of `target` that forwards both ways and destroys each
 * connection as soon as the server has sent `cutAfter` occurrences of `"seq":` on it (SSE
 * `data:` lines and WebSocket messages both carry one per event): the cut lands in the middle
 * of the stream, often in the middle of a message.
 */
export class CuttingProxy {
  /** Connections the proxy cut. */
  cuts = 0;
  /** Connections accepted. */
  connections = 0;
  readonly #sockets = new Set<Socket>();
  readonly #server = createServer((client) => this.#accept(client));

  private constructor(
    private readonly target: URL,
    private readonly cutAfter: number,
  ) {}

  static async start(target: string, cutAfter: number): Promise<CuttingProxy> {
    const p = new CuttingProxy(new URL(target), cutAfter);
    await new Promise<void>((resolve) => p.#server.listen(0, '127.0.0.1', resolve));
    return p;
  }

  /** The proxy's base URL (`http://127.0.0.1:PORT`). */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  #accept(client: Socket): void {
    this.connections += 1;
    const upstream = connect(Number(this.target.port), this.target.hostname);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    let seen = 0;
    let cut = false;
    // The end of the previous chunk, shorter than the needle: an occurrence found in
    // `carry + chunk` always ends in the chunk, so it was not counted before.
    let carry = '';
    const needle = '"seq":';
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('data', (b: Buffer) => upstream.write(b));
    upstream.on('data', (b: Buffer) => {
      if (cut) return;
      const text = carry + b.toString('latin1');
      for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) seen += 1;
      carry = text.slice(-(needle.length - 1));
      if (seen >= this.cutAfter) {
        cut = true;
        this.cuts += 1;
        // What was read goes out first (so each connection makes progress), then both close.
        client.write(b, drop);
      } else {
        client.write(b);
      }
    });
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

