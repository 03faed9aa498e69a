// `quantd serve --no-auth`: the dashboard opens for this machine's user without a token.
import { expect, test } from '@playwright/test';

test('without tokens the dashboard opens at once as the default workspace @noauth', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/executions$/);
  await expect(page.locator('#workspace')).toHaveText('default');
  await expect(page.locator('#signout')).toHaveCount(0);
  await expect(page.locator('#live')).toHaveAttribute('data-state', 'open');
});
