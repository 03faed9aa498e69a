// Executions against a live `quantd serve`: scans and backtests from submission to results,
// the lifecycle, lists, workspaces and problem documents.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { Client, QuantdError, type ExecutionEvent, type Row } from '../src/index.js';
import { LONG_SWEEP, SMA_CROSS, URL_, alpha, assertContiguous, beta, collect, env } from './helpers.js';

describe('a scan', () => {
  it('is submitted, streams its events over SSE to completion, and has results', async () => {
    const a = alpha();
    const sub = await a.executions.submit({ kind: 'scan', expr: 'close > sma(close, 10)', pack: 'demo' });
    const id = sub.execution.id;
    assert.match(id, /^ex_/);
    assert.equal(sub.execution.kind, 'scan');

    const stream = a.executions.events(id);
    const events = await collect(stream);
    assert.equal(stream.state, 'completed');
    assertContiguous(events.map((e) => e.seq));
    assert.ok(events.every((e) => e.execution === id));
    assert.equal(events[0]!.type, 'execution-created');
    assert.equal(events.at(-1)!.type, 'execution-completed');
    assert.ok(events.some((e) => e.type === 'shard-completed'));

    const ex = await a.executions.get(id);
    assert.equal(ex.state, 'completed');

    const { rows, watermark } = await a.executions.results<Row>(id);
    assert.equal(watermark, undefined);
    assert.ok(rows.length > 0, 'a 20-ticker scan of close > sma(close, 10) has signals');
    assert.equal(typeof rows[0]!.ticker, 'string');

    // The same rows streamed as NDJSON, and the CSV export's header.
    let streamed = 0;
    for await (const r of a.executions.resultRows<Row>(id)) {
      assert.equal(typeof r.ticker, 'string');
      streamed += 1;
    }
    assert.equal(streamed, rows.length);
    const csv = await (await a.resultsResponse(id, 'csv')).text();
    assert.match(csv.split('\n')[0]!, /ticker/);
    assert.equal(csv.trim().split('\n').length, rows.length + 1);

    const summary = await a.executions.summary(id);
    assert.equal(summary.state, 'completed');
    assert.ok(summary.summary, 'a completed scan has a summary');

    // A replay of the whole stream after the end gives the same events.
    assert.deepEqual(await collect(a.executions.events(id)), events);
    // And one that starts after an event gives the rest.
    const tail = await collect(a.executions.events(id, { after: events.length - 2 }));
    assert.deepEqual(tail, events.slice(-2));
  });
});

describe('a backtest', () => {
  it('is submitted, streams its events over a WebSocket to completion, and has results, trades and equity', async () => {
    const a = alpha();
    const sub = await a.executions.submit({ kind: 'backtest', pack: 'demo', strategy: SMA_CROSS });
    const id = sub.execution.id;
    const stream = a.executions.events(id, { transport: 'ws' });
    const events = await collect(stream);
    assert.equal(stream.state, 'completed');
    assertContiguous(events.map((e) => e.seq));
    assert.equal(events.at(-1)!.type, 'execution-completed');

    const { rows } = await a.executions.results<Row>(id);
    assert.equal(rows.length, 20, 'one row per ticker of the demo pack');
    assert.ok(rows.every((r) => typeof r.ticker === 'string'));
    assert.ok(rows.some((r) => typeof r['# Trades'] === 'number' && (r['# Trades'] as number) > 0), 'some ticker traded');

    const trades = await a.executions.trades(id);
    assert.ok(trades.rows.length > 0);
    assert.ok(trades.rows.some((t) => t.trades.length > 0));
    const equity = await a.executions.equity(id);
    assert.ok(equity.rows.length > 0);
    const curve = equity.rows[0]!.points;
    assert.ok(curve.length > 100, 'a point per bar');
    assert.match(curve[0]!.date, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(typeof curve[0]!.equity, 'number');

    // `wait` follows the stream and answers the execution as it ended.
    const ended = await a.executions.wait(id, { transport: 'ws' });
    assert.equal(ended.state, 'completed');
  });
});

describe('the lifecycle', () => {
  it('pauses, resumes and cancels over REST while the events show each change', async () => {
    const a = alpha();
    const id = (await a.executions.submit(LONG_SWEEP)).execution.id;
    const stream = a.executions.events(id);
    const seen: string[] = [];
    let asked = false;
    for await (const e of stream) {
      seen.push(e.type);
      if (e.type === 'execution-started' && !asked) {
        asked = true;
        assert.equal((await a.executions.pause(id)).state, 'paused');
      } else if (e.type === 'execution-paused') {
        // Pausing twice is not a change the state allows.
        await assert.rejects(a.executions.pause(id), (err: unknown) => {
          assert.ok(err instanceof QuantdError);
          assert.equal(err.status, 409);
          assert.equal(err.type, 'urn:quantd:problem:conflict');
          return true;
        });
        const resumed = await a.executions.resume(id);
        assert.match(resumed.state, /^(pending|running)$/);
      } else if (e.type === 'execution-resumed') {
        assert.equal((await a.executions.cancel(id)).state, 'cancelled');
      }
    }
    assert.equal(stream.state, 'cancelled');
    const order = ['execution-started', 'execution-paused', 'execution-resumed', 'execution-cancelled'].map((t) => seen.indexOf(t));
    assert.ok(order.every((i) => i >= 0), `every change is an event: ${seen.join(', ')}`);
    assert.deepEqual([...order].sort((x, y) => x - y), order, 'in the order they were made');
    assert.equal(seen.at(-1), 'execution-cancelled');

    await assert.rejects(a.executions.resume(id), (err: unknown) => err instanceof QuantdError && err.status === 409);
    assert.equal((await a.executions.get(id)).state, 'cancelled');
  });

  it('pauses, resumes and cancels with WebSocket commands, acknowledged on the same socket', async () => {
    const a = alpha();
    const id = (await a.executions.submit(LONG_SWEEP)).execution.id;
    const stream = a.executions.events(id, { transport: 'ws' });
    const acks: string[] = [];
    const seen: string[] = [];
    let asked = false;
    for await (const e of stream) {
      seen.push(e.type);
      if (e.type === 'execution-started' && !asked) {
        asked = true;
        const ack = await stream.command('pause');
        assert.equal(ack.type, 'ack');
        acks.push(`${ack.command}:${ack.state}`);
      } else if (e.type === 'execution-paused') {
        // A command the state does not allow is answered with a 409 problem; the socket stays.
        await assert.rejects(stream.command('pause'), (err: unknown) => err instanceof QuantdError && err.status === 409);
        const ack = await stream.command('resume');
        acks.push(`${ack.command}:${ack.state}`);
      } else if (e.type === 'execution-resumed') {
        const ack = await stream.command('cancel');
        acks.push(`${ack.command}:${ack.state}`);
      }
    }
    assert.equal(stream.state, 'cancelled');
    assert.equal(acks[0], 'pause:paused');
    assert.match(acks[1]!, /^resume:(pending|running)$/);
    assert.equal(acks[2], 'cancel:cancelled');
    assert.equal(seen.at(-1), 'execution-cancelled');
  });
});

describe('lists', () => {
  it('page with cursors, newest first, and `all` follows them', async () => {
    const a = alpha();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await a.executions.submit({ kind: 'scan', expr: `close > ${i + 1}`, pack: 'demo' })).execution.id);
    }
    for (const id of ids) await a.executions.wait(id);
    const first = await a.executions.list({ kind: 'scan', limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.next, 'a cursor to the next page');
    const second = await a.executions.list({ kind: 'scan', limit: 2, after: first.next });
    assert.ok(second.items.length >= 1);
    const paged = [...first.items, ...second.items].map((e) => e.id);
    assert.deepEqual(paged.slice(0, 3), [...ids].reverse(), 'newest first, no overlap between pages');

    const all: string[] = [];
    for await (const e of a.executions.all({ kind: 'scan', limit: 1 })) all.push(e.id);
    assert.deepEqual(all.slice(0, 3), [...ids].reverse());
    assert.equal(new Set(all).size, all.length, 'no execution twice');

    const history = await a.history({ limit: 1000 });
    assert.ok(ids.every((id) => history.items.some((e) => e.id === id)));

    await assert.rejects(a.executions.list({ after: 'not-a-cursor' }), (err: unknown) => err instanceof QuantdError && err.status === 400);
  });
});

describe('workspaces', () => {
  it("another workspace's token gets 404 for an execution, its streams and its controls, and lists never show it", async () => {
    const a = alpha();
    const b = beta();
    const id = (await a.executions.submit({ kind: 'scan', expr: 'close > 2', pack: 'demo' })).execution.id;
    await a.executions.wait(id);
    const notFound = (err: unknown) => {
      assert.ok(err instanceof QuantdError, String(err));
      assert.equal(err.status, 404);
      assert.equal(err.type, 'urn:quantd:problem:not-found');
      return true;
    };
    await assert.rejects(b.executions.get(id), notFound);
    await assert.rejects(b.executions.results(id), notFound);
    await assert.rejects(b.executions.cancel(id), notFound);
    await assert.rejects(collect(b.executions.events(id)), notFound);
    await assert.rejects(collect(b.executions.events(id, { transport: 'ws' })), notFound);
    const listed = await b.executions.list({ limit: 1000 });
    assert.ok(!listed.items.some((e) => e.id === id));
  });

  it('a wrong token is 401 with WWW-Authenticate', async () => {
    const bad = new Client({ url: URL_(), token: 'qdt_0000000000000000_' + '0'.repeat(64) });
    await assert.rejects(bad.packs.list(), (err: unknown) => {
      assert.ok(err instanceof QuantdError);
      assert.equal(err.status, 401);
      assert.equal(err.slug, 'unauthorized');
      assert.match(err.headers?.get('www-authenticate') ?? '', /Bearer/);
      return true;
    });
  });

  for (const transport of ['sse', 'ws'] as const) {
    it(`a stream (${transport}) whose token is revoked ends with a 401 QuantdError, not a reconnect`, async () => {
      // A token of its own, revoked with the CLI on the server's data directory.
      const quantd = (...args: string[]) =>
        execFileSync(env('QUANTD_BIN'), ['--data-dir', env('QUANTD_DATA'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const token = quantd('tokens', 'create', '--workspace', 'alpha', '--name', `revoked-${transport}`);
      const tokenId = /^qdt_([0-9a-f]+)_/.exec(token)![1]!;
      const mine = new Client({ url: URL_(), token });
      const id = (await mine.executions.submit(LONG_SWEEP)).execution.id;
      const reconnects: unknown[] = [];
      const stream = mine.executions.events(id, { transport, onReconnect: (r) => reconnects.push(r) });
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const e of stream) {
            seen.push(e.type);
            if (seen.length === 1) quantd('tokens', 'revoke', tokenId);
          }
        })(),
        (err: unknown) => {
          assert.ok(err instanceof QuantdError, String(err));
          assert.equal(err.status, 401);
          return true;
        },
      );
      assert.deepEqual(reconnects, [], 'a revoked token is not retried');
      assert.equal(stream.reconnects, 0);
      assert.notEqual(seen.at(-1), 'execution-cancelled', 'the stream ended before the execution');
      await assert.rejects(mine.executions.get(id), (err: unknown) => err instanceof QuantdError && err.status === 401);
      await alpha().executions.cancel(id);
    });
  }

  it('the workspace stream shows its own executions live, and not those of another workspace', async () => {
    const a = alpha();
    const b = beta();
    const theirs = (await b.executions.submit({ kind: 'scan', expr: 'close > 3', pack: 'demo' })).execution.id;
    const controller = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const seen: ExecutionEvent[] = [];
    let mine = '';
    const reading = (async () => {
      try {
        for await (const e of a.events({ signal: controller.signal, onOpen: () => opened() })) {
          seen.push(e);
          if (e.execution === mine && e.type === 'execution-completed') return;
        }
      } catch (e) {
        if (!controller.signal.aborted) throw e;
      }
    })();
    await open;
    await b.executions.wait(theirs);
    mine = (await a.executions.submit({ kind: 'scan', expr: 'close > 4', pack: 'demo' })).execution.id;
    await reading;
    controller.abort();
    const own = seen.filter((e) => e.execution === mine);
    assert.equal(own.at(-1)?.type, 'execution-completed');
    const seqs = own.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in order');
    assert.ok(!seen.some((e) => e.execution === theirs), "beta's events never reach alpha");
  });
});

describe('problem documents', () => {
  it('an inline expression that does not check is a 422 invalid-code with line and column', async () => {
    const a = alpha();
    await assert.rejects(a.executions.submit({ kind: 'scan', expr: 'close >', pack: 'demo' }), (err: unknown) => {
      assert.ok(err instanceof QuantdError);
      assert.equal(err.status, 422);
      assert.equal(err.type, 'urn:quantd:problem:invalid-code');
      assert.equal(err.title, 'Invalid code');
      assert.match(err.detail, /expected an expression/);
      assert.equal(err.diagnostics.length, 1);
      assert.equal(err.diagnostics[0]!.line, 1);
      assert.equal(err.diagnostics[0]!.column, 8);
      assert.match(err.problem.rendered ?? '', /\^/);
      assert.match(err.traceId ?? '', /^[0-9a-f]{32}$/);
      assert.match(err.message, /1:8/);
      return true;
    });
  });

  it('an unknown pack is a 404 and an unknown field a 400 naming it', async () => {
    const a = alpha();
    await assert.rejects(
      a.executions.submit({ kind: 'scan', expr: 'close > 1', pack: 'no-such-pack' }),
      (err: unknown) => err instanceof QuantdError && err.status === 404,
    );
    await assert.rejects(
      a.executions.submit({ kind: 'scan', expr: 'close > 1', pack: 'demo', bogus: 1 } as never),
      (err: unknown) => err instanceof QuantdError && err.status === 400 && /bogus/.test(err.detail),
    );
  });

  it('the same Idempotency-Key gives the same execution', async () => {
    const a = alpha();
    const key = `ts-${Date.now()}-${Math.random()}`;
    const body = { kind: 'scan' as const, expr: 'close > 5', pack: 'demo' };
    const one = await a.executions.submit(body, { idempotencyKey: key });
    const two = await a.executions.submit(body, { idempotencyKey: key });
    assert.equal(two.execution.id, one.execution.id);
    await assert.rejects(
      a.executions.submit({ ...body, expr: 'close > 6' }, { idempotencyKey: key }),
      (err: unknown) => err instanceof QuantdError && err.slug === 'idempotency-key-reused',
    );
    await a.executions.wait(one.execution.id);
  });
});
