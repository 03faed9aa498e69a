// Smoke: the browser starts and reaches the server under test (run with tokens, no @noauth tag).
import { expect, test } from '@playwright/test';

test('GET /signin answers 200 with a token form', async ({ page }) => {
  const response = await page.goto('/signin');
  expect(response?.status()).toBe(200);
  await expect(page.locator('form input[name="token"]')).toHaveCount(1);
});

test('GET /v1/openapi.json is JSON (the API is there)', async ({ page }) => {
  const response = await page.goto('/v1/openapi.json');
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toContain('application/json');
  const doc = await response!.json();
  expect(doc.openapi).toMatch(/^3\./);
  expect(doc.paths).toHaveProperty(['/v1/executions']);
});
