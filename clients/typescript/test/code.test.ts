// Packs and stored code against a live `quantd serve`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuantdError } from '../src/index.js';
import { alpha, beta } from './helpers.js';

describe('packs', () => {
  it('lists the shared catalog and shows a pack by name', async () => {
    const a = alpha();
    const list = await a.packs.list();
    const names = list.items.map((p) => p.name);
    assert.ok(names.includes('demo') && names.includes('big'), `packs: ${names.join(', ')}`);
    const demo = await a.packs.get('demo');
    assert.equal(demo.name, 'demo');
    assert.equal(demo.tickers, 20);
    assert.equal((await a.packs.health('demo')).state, 'fresh');
    // Packs are global: another workspace sees the same.
    assert.equal((await beta().packs.get(demo.id)).name, 'demo');
    await assert.rejects(a.packs.get('no-such-pack'), (e: unknown) => e instanceof QuantdError && e.status === 404);
  });
});

describe('code', () => {
  it('validates, deploys versions, reads them, rolls back and removes, per workspace', async () => {
    const a = alpha();
    const name = `ts-dip-${Date.now()}`;
    const v = await a.code.validate({ expr: 'rsi(close, 14) < $max' });
    assert.equal(v.valid, true);
    assert.equal(v.language, 'expr');
    assert.deepEqual(v.params, ['max']);

    const one = await a.code.deploy(name, { expr: 'rsi(close, 14) < 30' });
    assert.equal(one.version.version, 1);
    assert.equal(one.unchanged, false);
    const two = await a.code.deploy(name, { expr: 'rsi(close, 14) < 25' });
    assert.equal(two.version.version, 2);
    assert.equal((await a.code.deploy(name, { expr: 'rsi(close, 14) < 25' })).unchanged, true, 'the same content adds no version');
    assert.equal((await a.code.get(name)).version, 2);
    assert.equal((await a.code.version(name, 1)).version, 1);
    assert.equal((await a.code.get(`${name}@1`)).version, 1);

    const names = await a.code.list({ limit: 1000 });
    assert.ok(names.items.some((n) => n.name === name));
    await assert.rejects(beta().code.get(name), (e: unknown) => e instanceof QuantdError && e.status === 404);

    // A scan of the stored code runs its current version.
    const sub = await a.executions.submit({ kind: 'scan', code: name, pack: 'demo' });
    assert.equal((await a.executions.wait(sub.execution.id)).state, 'completed');

    const back = await a.code.rollback(name);
    assert.equal((await a.code.get(name)).version, back.version);
    assert.notEqual(back.version, 2, 'rollback points the name at an earlier version');

    await a.code.remove(name);
    await assert.rejects(a.code.get(name), (e: unknown) => e instanceof QuantdError && e.status === 404);
  });

  it('code that does not check is a 422 problem naming the line and column of each error', async () => {
    const a = alpha();
    const expr = 'close > sma(close, 50)\n  and rsi(clse, 14) < 30';
    for (const call of [() => a.code.validate({ expr }), () => a.code.deploy('ts-broken', { expr })]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof QuantdError);
        assert.equal(err.status, 422);
        assert.equal(err.slug, 'invalid-code');
        const d = err.diagnostics[0]!;
        assert.deepEqual([d.line, d.column], [2, 11]);
        assert.match(d.message, /unknown column `clse`/);
        assert.match(d.help ?? '', /close/);
        return true;
      });
    }
  });
});
