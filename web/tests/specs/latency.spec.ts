// How fast a committed event reaches open pages: 20 executions pages (each in its own browser
// context, as 20 people would have them) follow the live list while scans are started; each page
// notes when each new row enters its DOM. Printed for docs/PERFORMANCE.md; the test itself checks
// that every row reached every page, live, and ended there as completed.
import { expect, test, type Page } from '@playwright/test';
import { env, signIn } from './helpers';
import { execution, submit } from './api';

const PAGES = Number(process.env.LATENCY_PAGES ?? 20);
const SCANS = 10;

test('a committed event reaches 20 open pages', async ({ browser, request }) => {
  test.setTimeout(120_000);
  const token = env('QUANTD_TOKEN_A');
  const pages: Page[] = [];
  for (let i = 0; i < PAGES; i++) {
    const page = await (await browser.newContext()).newPage();
    await signIn(page, token);
    await expect(page.locator('#live')).toHaveAttribute('data-state', 'open');
    await page.evaluate(() => {
      (window as any).arrived = {} as Record<string, number>;
      new MutationObserver((records) => {
        const now = Date.now();
        for (const r of records) r.addedNodes.forEach((n) => {
          const id = (n as HTMLElement).dataset?.id;
          if (id && !(window as any).arrived[id]) (window as any).arrived[id] = now;
        });
      }).observe(document.querySelector('#rows')!, { childList: true });
    });
    pages.push(page);
  }
  const ids: string[] = [];
  for (let i = 0; i < SCANS; i++) {
    ids.push(await submit(request, token, { kind: 'scan', pack: 'demo', expr: `close > sma(close, ${5 + i})` }));
    await new Promise((r) => setTimeout(r, 100)); // spread the commits, as people would start them
  }
  const created: Record<string, number> = {};
  for (const id of ids) created[id] = Date.parse((await execution(request, token, id)).created_at);
  const latencies: number[] = [];
  for (const page of pages) {
    await expect.poll(async () => Object.keys(await page.evaluate(() => (window as any).arrived)).length, { timeout: 30_000 })
      .toBeGreaterThanOrEqual(SCANS);
    const arrived: Record<string, number> = await page.evaluate(() => (window as any).arrived);
    for (const id of ids) {
      expect(arrived[id], `row ${id} reached the page`).toBeDefined();
      latencies.push(arrived[id] - created[id]);
    }
  }
  for (const page of pages) for (const id of ids) {
    // Rows that changed together arrive in one message: each must still be swapped in.
    await expect(page.locator(`#row-${id}`)).toHaveAttribute('data-state', 'completed');
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.round((latencies.length - 1) * p)];
  console.log(`commit → DOM, ${PAGES} pages × ${SCANS} executions: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${latencies[latencies.length - 1]} ms`);
  for (const page of pages) await page.context().close();
});
