// Reconnect and replay: a proxy cuts every connection after a few events, mid-stream, while the
// execution runs; the client still yields every event exactly once, in order, and the same
// events a direct reading of the finished stream gives.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, type ExecutionEvent, type ReconnectInfo } from '../src/index.js';
import { CuttingProxy, URL_, alpha, assertContiguous, collect, env } from './helpers.js';

/** A small sweep of the 600-ticker pack: 24 shards, about 80 events over a second or two. */
const SWEEP = {
  kind: 'sweep' as const,
  pack: 'big',
  strategy: {
    entry: 'crosses_above(sma(close, $fast), sma(close, $slow))',
    exit: 'crosses_below(sma(close, $fast), sma(close, $slow))',
  },
  grid: ['fast=5..15:5', 'slow=20..40:10'],
};

for (const transport of ['sse', 'ws'] as const) {
  describe(`reconnect over ${transport}`, () => {
    let proxy: CuttingProxy;
    before(async () => {
      proxy = await CuttingProxy.start(URL_(), 4);
    });
    after(async () => {
      await proxy.stop();
    });

    it('gets every event exactly once, in order, though the connection is cut mid-stream', async () => {
      const direct = alpha();
      const id = (await direct.executions.submit(SWEEP)).execution.id;
      const viaProxy = new Client({ url: proxy.url, token: env('QUANTD_TOKEN_A') });
      const reconnects: ReconnectInfo[] = [];
      // The execution's state read right after the first cut: it must still have been running.
      let stateAtFirstCut: Promise<string> | undefined;
      const stream = viaProxy.executions.events(id, {
        transport,
        initialDelayMs: 5,
        maxDelayMs: 50,
        onReconnect: (info) => {
          reconnects.push(info);
          stateAtFirstCut ??= direct.executions.get(id).then((x) => x.state);
        },
      });
      const got: ExecutionEvent[] = [];
      for await (const e of stream) got.push(e);
      assert.equal(stream.state, 'completed');
      assertContiguous(got.map((e) => e.seq));
      assert.equal(got.at(-1)!.type, 'execution-completed');
      assert.ok(proxy.cuts >= 2, `the proxy cut ${proxy.cuts} connections`);
      assert.equal(stream.reconnects, reconnects.length);
      assert.ok(stream.reconnects >= proxy.cuts - 1, `${stream.reconnects} reconnects for ${proxy.cuts} cuts`);
      assert.match(String(await stateAtFirstCut), /^(pending|running)$/, 'the first cut came while the execution ran');
      // Each reconnect resumed after the last event yielded before it.
      for (const r of reconnects) assert.ok(got.some((e) => e.seq === r.after) || r.after === 0);

      // The same events, field for field, as one uncut reading of the finished stream.
      assert.deepEqual(got, await collect(direct.executions.events(id, { transport })));
    });
  });
}
