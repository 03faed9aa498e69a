// Helpers for the dashboard specs.
import { expect, test, type Page } from '@playwright/test';
import path from 'node:path';

/** An environment variable scripts/browser-tests sets (QUANTD_TOKEN_A, QUANTD_DATA, ...). */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/browser-tests`);
  return value;
}

/** Signs in on /signin with a workspace token; the dashboard then shows /executions. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/signin');
  const form = page.locator('form#signin');
  await form.locator('input[name="token"]').fill(token);
  const submit = form.locator('button[type="submit"], input[type="submit"], button:not([type])');
  if ((await submit.count()) > 0) {
    await submit.first().click();
  } else {
    await form.evaluate((f) => (f as HTMLFormElement).requestSubmit());
  }
  await expect(page).toHaveURL(/\/executions$/);
}

/** The repository's root: two levels above the Playwright config (web/tests/). */
export function repoRoot(): string {
  const config = test.info().config.configFile;
  if (!config) throw new Error('no Playwright config file: run from web/tests');
  return path.resolve(path.dirname(config), '..', '..');
}

/** Writes docs/screenshots/<name>.png: the page at 1280x800 (the viewport, not the full page). */
export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(repoRoot(), 'docs', 'screenshots', `${name}.png`);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  return file;
}
