// The dashboard as people use it: signed in with a workspace token, live lists and pages,
// controls, charts, filters, isolation and the validate box. Screenshots of the main pages go to
// docs/screenshots/ (shown in the README).
import { expect, test, type Page } from '@playwright/test';
import { env, screenshot, signIn } from './helpers';
import { SMA_CROSS, ended, submit } from './api';

const A = () => env('QUANTD_TOKEN_A');
const B = () => env('QUANTD_TOKEN_B');

/** Waits until the page's live stream is connected (the badge in the header). */
async function live(page: Page) {
  await expect(page.locator('#live')).toHaveAttribute('data-state', 'open');
}

test('sign in, see the workspace, sign out', async ({ page }) => {
  await page.goto('/executions');
  await expect(page).toHaveURL(/\/signin\?next=/);
  await page.locator('input[name=token]').fill('qdt_0000000000000000_nope');
  await page.locator('form#signin button').click();
  await expect(page.locator('.problem')).toContainText('not valid');
  await signIn(page, A());
  await expect(page.locator('#workspace')).toHaveText('alpha');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'quantd_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');
  expect(await page.content()).not.toContain(A());
  await page.locator('#signout').click();
  await expect(page).toHaveURL(/\/signin$/);
  await page.goto('/executions');
  await expect(page).toHaveURL(/\/signin/);
});

test('a scan started from the UI appears in the open list and completes without a reload', async ({ page, context }) => {
  await signIn(page, A());
  await live(page);
  // Record every progress value and state the list shows, as the live stream changes them.
  await page.evaluate(() => {
    (window as any).seen = {} as Record<string, string[]>;
    const rows = document.querySelector('#rows')!;
    const note = () => rows.querySelectorAll('tr[data-id]').forEach((tr) => {
      const id = (tr as HTMLElement).dataset.id!;
      const v = `${(tr as HTMLElement).dataset.state}:${tr.querySelector('progress')?.getAttribute('value')}`;
      const s = ((window as any).seen[id] ??= []);
      if (s[s.length - 1] !== v) s.push(v);
    });
    new MutationObserver(note).observe(rows, { subtree: true, childList: true, attributes: true });
  });
  const form = await context.newPage();
  await form.goto('/executions/new');
  await form.locator('select[name=kind]').selectOption('scan');
  await form.locator('select[name=pack]').selectOption('demo');
  await form.locator('input[name=expr]').fill('close > sma(close, 10) and rsi(close, 14) < 60');
  await form.locator('form#start button[type=submit]').click();
  await expect(form).toHaveURL(/\/executions\/ex_[0-9a-z]+$/);
  const id = form.url().split('/').pop()!;
  await expect(form.locator('#state')).toContainText('completed', { timeout: 30_000 });

  const row = page.locator(`#row-${id}`);
  await expect(row).toBeVisible();
  await expect(row).toHaveAttribute('data-state', 'completed', { timeout: 30_000 });
  await expect(row.locator('progress')).toHaveAttribute('value', '100');
  const seen: string[] = await page.evaluate((id) => (window as any).seen[id], id);
  expect(seen[0]).not.toBe('completed:100'); // it arrived before it ended …
  expect(seen[seen.length - 1]).toBe('completed:100'); // … and moved to the end live
  await screenshot(form, 'execution-scan');
  await page.reload();
  await screenshot(page, 'executions');
});

test('a sweep moves live, pauses, resumes and is cancelled from its page', async ({ page, request }) => {
  const id = await submit(request, A(), {
    kind: 'sweep',
    pack: 'big',
    strategy: {
      entry: 'crosses_above(sma(close, $fast), sma(close, $slow))',
      exit: 'crosses_below(sma(close, $fast), sma(close, $slow))',
    },
    grid: ['fast=2..40:2', 'slow=20..100:10'],
  });
  await signIn(page, A());
  await page.goto(`/executions/${id}`);
  await live(page);
  const progress = page.locator('#progress progress');
  const first = Number(await progress.getAttribute('value'));
  await expect.poll(async () => Number(await progress.getAttribute('value')), { timeout: 30_000 }).toBeGreaterThan(first);
  await page.locator('button#pause').click();
  await expect(page.locator('#state')).toContainText('paused');
  await expect(page.locator('.notice')).toContainText('pause: done');
  await page.locator('button#resume').click();
  await expect(page.locator('#state')).toContainText(/running|pending/);
  await page.locator('button#cancel').click();
  await expect(page.locator('#state')).toContainText('cancelled');
  await expect(page.locator('button#cancel')).toBeDisabled();
});

test('a backtest draws its equity and candles with a marker per trade', async ({ page, request }) => {
  const id = await submit(request, A(), { kind: 'backtest', pack: 'demo', strategy: SMA_CROSS });
  await ended(request, A(), id);
  await signIn(page, A());
  await page.goto(`/executions/${id}`);
  const equity = page.locator('#equity');
  const candles = page.locator('#candles');
  await expect(equity).toHaveAttribute('data-drawn', '1');
  await expect(candles).toHaveAttribute('data-drawn', '1');
  // Canvases present and drawn on (not blank).
  for (const chart of [equity, candles]) {
    const inked = await chart.evaluate((el) =>
      Array.from(el.querySelectorAll('canvas')).reduce((n, c) => {
        const ctx = (c as HTMLCanvasElement).getContext('2d');
        if (!ctx || c.width === 0 || c.height === 0) return n;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let k = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) k++;
        return n + k;
      }, 0));
    expect(inked).toBeGreaterThan(1000);
  }
  const trades = await page.locator('#trades tbody tr').count();
  expect(trades).toBeGreaterThan(0);
  await expect(candles).toHaveAttribute('data-markers', String(trades));
  await expect(candles).toHaveAttribute('data-exits', String(trades));
  await expect(page.locator('.credit')).toContainText('TradingView');
  await screenshot(page, 'backtest');
});

test('a filter survives a reload, and failed-only is one click', async ({ page }) => {
  await signIn(page, A());
  await page.locator('#filters select[name=kind]').selectOption('scan');
  await page.locator('#filters button[type=submit]').click();
  await expect(page).toHaveURL(/kind=scan/);
  await page.reload();
  await expect(page.locator('#filters select[name=kind]')).toHaveValue('scan');
  const kinds = await page.locator('#rows td.kind').allTextContents();
  expect(kinds.length).toBeGreaterThan(0);
  expect(new Set(kinds)).toEqual(new Set(['scan']));
  await page.locator('#failed-only').click();
  await expect(page).toHaveURL(/state=failed/);
  await expect(page).toHaveURL(/kind=scan/);
  await expect(page.locator('#filters select[name=state]')).toHaveValue('failed');
});

test("another workspace's token sees nothing of alpha's", async ({ page, request, browser }) => {
  const id = await submit(request, A(), { kind: 'scan', pack: 'demo', expr: 'close > 0' });
  const other = await browser.newContext();
  const bob = await other.newPage();
  await signIn(bob, B());
  await expect(bob.locator('#workspace')).toHaveText('beta');
  await expect(bob.locator(`#row-${id}`)).toHaveCount(0);
  await expect(bob.locator('.empty')).toContainText('No executions yet');
  const r = await bob.goto(`/executions/${id}`);
  expect(r?.status()).toBe(404);
  const api = await bob.request.get(`/v1/executions/${id}`);
  expect(api.status()).toBe(404);
  await other.close();
  await page.close();
});

test('the validate box puts a caret under the column of a mistake', async ({ page }) => {
  await signIn(page, A());
  await page.goto('/code');
  await page.locator('select[name=language]').selectOption('expr');
  await page.locator('#source').fill('close > smaa(close, 10)');
  await page.locator('button#check').click();
  const d = page.locator('.diagnostic').first();
  await expect(d).toHaveAttribute('data-column', '9');
  await expect(d).toContainText('unknown function');
  const caret = await d.locator('.caret').textContent();
  const src = await d.locator('.src').textContent();
  expect(caret!.indexOf('^')).toBe(8);
  expect(src!.slice(caret!.indexOf('^'))).toMatch(/^smaa/);
  await screenshot(page, 'code');
  await page.locator('#source').fill('close > sma(close, 10)');
  await page.locator('button#check').click();
  await expect(page.locator('[data-valid=true]')).toContainText('Valid');
});

test('packs and health pages', async ({ page }) => {
  await signIn(page, A());
  await page.goto('/packs');
  await expect(page.locator('#packs tr[data-pack=demo]')).toBeVisible();
  await page.locator('#packs a', { hasText: 'demo' }).click();
  await expect(page.locator('#candles')).toHaveAttribute('data-drawn', '1');
  expect(Number(await page.locator('#candles').getAttribute('data-bars'))).toBe(260);
  await screenshot(page, 'pack');
  await page.goto('/status');
  await expect(page.locator('#workers')).toContainText('alive');
  await screenshot(page, 'health');
});
