import { test, expect, Page } from '@playwright/test';

// Every test runs in four projects: phone (390 px) and desktop, each with JavaScript on and off.

/** Fails the test on any page error or console error (CSP violations, hydration panics). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} @ ${m.location().url} (page ${page.url()})`);
  });
  return errors;
}

/** With JavaScript on, wait until the wasm bundle has hydrated the page. */
async function settled(page: Page, jsEnabled: boolean) {
  await page.waitForLoadState('load');
  if (jsEnabled) {
    await page.waitForFunction(() =>
      performance.getEntriesByType('resource').some((e) => e.name.endsWith('.wasm')),
    );
    await page.waitForLoadState('networkidle');
  }
}

async function noHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

test('the privacy notice is shown in Chinese by default', { tag: '@smoke' }, async ({ page, javaScriptEnabled }) => {
  const errors = watchErrors(page);
  await page.goto('/privacy');
  await settled(page, javaScriptEnabled);
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('隐私政策');
  await expect(page.getByRole('button', { name: /English/ })).toBeVisible();
  await expect(page.getByRole('link', { name: '隐私政策' })).toBeVisible();
  await noHorizontalScroll(page);
  expect(errors).toEqual([]);
});

test.describe('with an English browser', () => {
  test.use({ locale: 'en-US' });

  test('the privacy notice is shown in English', async ({ page, javaScriptEnabled }) => {
    const errors = watchErrors(page);
    await page.goto('/privacy');
    await settled(page, javaScriptEnabled);
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
    await expect(page.getByRole('heading', { level: 1 })).toContainText('Privacy notice');
    await expect(page.getByRole('button', { name: /中文/ })).toBeVisible();
    expect(errors).toEqual([]);
  });
});

test('the language switch works both ways and is remembered', async ({ page, javaScriptEnabled }) => {
  const errors = watchErrors(page);
  await page.goto('/privacy');
  await settled(page, javaScriptEnabled);
  await page.getByRole('button', { name: /English/ }).click();
  await expect(page).toHaveURL(/\/privacy$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Privacy notice');
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');

  await page.reload();
  await settled(page, javaScriptEnabled);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Privacy notice');

  await page.getByRole('button', { name: /中文/ }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('隐私政策');
  await expect(page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  expect(errors).toEqual([]);
});

test('earlier versions of the notice are listed and can be read', async ({ page, javaScriptEnabled }) => {
  const errors = watchErrors(page);
  await page.goto('/privacy');
  await settled(page, javaScriptEnabled);
  await expect(page.getByText('现行版本')).toBeVisible();
  await page.getByRole('link', { name: /第 1 版/ }).click();
  await expect(page).toHaveURL(/\/privacy\/1$/);
  await expect(page.getByText('您正在查看历史版本。')).toBeVisible();
  await page.getByRole('link', { name: '查看现行版本' }).click();
  await expect(page).toHaveURL(/\/privacy$/);
  await expect(page.getByText('您正在查看历史版本。')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('the dev mailbox page is there in dev mode', async ({ page, javaScriptEnabled }) => {
  await page.goto('/dev/mailbox');
  await settled(page, javaScriptEnabled);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('开发邮箱');
  await noHorizontalScroll(page);
});

test('switching language keeps the query string, so an open sign-in link survives it', async ({ page, javaScriptEnabled }) => {
  await page.goto('/signin?error=email');
  await settled(page, javaScriptEnabled);
  await page.getByRole('button', { name: /English/ }).click();
  await expect(page).toHaveURL(/\/signin\?error=email$/);
  await expect(page.getByRole('alert')).toContainText('Please enter a valid email address');
});
