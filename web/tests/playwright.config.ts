// Playwright configuration of the dashboard's browser tests. scripts/browser-tests starts the
// servers and sets the environment; see README.md.
//
// Env: QUANTD_URL     the server under test (default http://127.0.0.1:8000, `quantd serve`'s own)
//      CHROMIUM_PATH  the browser (default /usr/bin/chromium: Debian's package, never a download)
//      PLAYWRIGHT_OUTPUT_DIR  where failures leave traces and screenshots (default test-results/)
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './specs',
  // One server per run, one worker: tests share its data directory, keep them in order.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  outputDir: process.env.PLAYWRIGHT_OUTPUT_DIR ?? 'test-results',
  use: {
    baseURL: process.env.QUANTD_URL ?? 'http://127.0.0.1:8000',
    viewport: { width: 1280, height: 800 },
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        headless: true,
        launchOptions: {
          // Debian's chromium (156.x), the version Playwright 1.64 is made for.
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: [
            '--headless',
            '--no-sandbox', // as root in CI containers the sandbox cannot start
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
  ],
});
