import { defineConfig, devices } from '@playwright/test';

// Debian's Chromium only: this machine cannot download Playwright's own browser builds.
const chromium = {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};
const port = Number(process.env.PORTAL_E2E_PORT || 3100);
// A second portal whose fresh sign-in window is one minute (PORTAL_FRESH_SIGNIN_MINUTES), so a
// journey can meet a stale sign-in without waiting ten minutes (tests/stale-copy.spec.ts).
const stalePort = port + 1;
const stale = /stale-copy\.spec\.ts/;
const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 };
const desktop = { viewport: { width: 1280, height: 800 } };

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: chromium,
    locale: 'zh-CN',
  },
  projects: [
    // The officer's session for the staff-side tests (tests/officer.setup.ts).
    { name: 'officer-setup', testMatch: /officer\.setup\.ts/, use: { ...devices['Desktop Chrome'], ...desktop } },
    { name: 'phone-js', testIgnore: stale, use: { ...devices['Desktop Chrome'], ...phone, javaScriptEnabled: true } },
    { name: 'phone-nojs', testIgnore: stale, use: { ...devices['Desktop Chrome'], ...phone, javaScriptEnabled: false } },
    { name: 'desktop-js', testIgnore: stale, use: { ...devices['Desktop Chrome'], ...desktop, javaScriptEnabled: true }, dependencies: ['officer-setup'] },
    { name: 'desktop-nojs', testIgnore: stale, use: { ...devices['Desktop Chrome'], ...desktop, javaScriptEnabled: false }, dependencies: ['officer-setup'] },
    { name: 'stale-phone-js', testMatch: stale, use: { ...devices['Desktop Chrome'], ...phone, javaScriptEnabled: true, baseURL: `http://127.0.0.1:${stalePort}` } },
    { name: 'stale-phone-nojs', testMatch: stale, use: { ...devices['Desktop Chrome'], ...phone, javaScriptEnabled: false, baseURL: `http://127.0.0.1:${stalePort}` } },
  ],
  webServer: [
    {
      command: `sh ./serve.sh ${port}`,
      url: `http://127.0.0.1:${port}/healthz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      command: `PORTAL_FRESH_SIGNIN_MINUTES=1 sh ./serve.sh ${stalePort}`,
      url: `http://127.0.0.1:${stalePort}/healthz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: 'ignore',
      stderr: 'pipe',
    },
  ],
});
