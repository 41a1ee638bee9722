import { test, expect, Page } from '@playwright/test';

// The consent page on a phone (and a desktop), JavaScript on and off: each purpose a switch,
// off until turned on; health data and photos need an explicit tick; one tap withdraws.

const customers: Record<string, number> = { 'phone-js': 19, 'phone-nojs': 29, 'desktop-js': 39, 'desktop-nojs': 49 };

async function settled(page: Page, jsEnabled: boolean) {
  await page.waitForLoadState('load');
  if (jsEnabled) await page.waitForLoadState('networkidle');
}

async function signIn(page: Page, email: string, jsEnabled: boolean) {
  await page.goto('/signin');
  await settled(page, jsEnabled);
  await page.getByLabel(/电子邮箱|Email address/).fill(email);
  await page.getByRole('button', { name: /发送登录链接|Send me a sign-in link/ }).click();
  let code = '';
  await expect(async () => {
    await page.goto('/dev/mailbox');
    const mail = page.locator('article.mail').filter({ hasText: email }).first();
    const text = (await mail.locator('pre.mail-body').textContent({ timeout: 500 })) ?? '';
    code = text.match(/(?:验证码：|where you asked: )(\d{6})/)![1];
  }).toPass({ timeout: 15_000 });
  await page.goto('/signin/sent');
  await settled(page, jsEnabled);
  await page.getByLabel(/6 位验证码|6-digit code/).fill(code);
  await page.getByRole('button', { name: /^(登录|Sign in)$/ }).click();
  await expect(page).toHaveURL(/\/me$/);
}

test('a customer switches consents on and off, with an explicit tick for sensitive notes', { tag: '@smoke' }, async ({ page, javaScriptEnabled }, info) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const email = `customer${String(customers[info.project.name]).padStart(3, '0')}@example.com`;
  await signIn(page, email, javaScriptEnabled);
  await page.getByRole('link', { name: '授权' }).first().click();
  await expect(page).toHaveURL(/\/me\/consents$/);
  await settled(page, javaScriptEnabled);
  await expect(page.locator('ul.switches > li')).toHaveCount(6);

  const item = (purpose: string) => page.locator(`li[data-purpose=${purpose}]`);
  const flip = async (purpose: string) => {
    await settled(page, javaScriptEnabled);
    await item(purpose).getByRole('button').click();
  };
  // Whatever the demo left on, turn email marketing off then on again.
  if ((await item('marketing_email').getAttribute('data-on')) === 'true') {
    await flip('marketing_email');
    await expect(page.getByRole('status')).toContainText('已关闭');
  }
  await flip('marketing_email');
  await expect(page.getByRole('status')).toContainText('已开启');
  await expect(item('marketing_email')).toHaveAttribute('data-on', 'true');
  await flip('marketing_email');
  await expect(item('marketing_email')).toHaveAttribute('data-on', 'false');

  // Sensitive notes: off first if the demo had it on; then on only with the tick.
  if ((await item('sensitive_notes').getAttribute('data-on')) === 'true') {
    await flip('sensitive_notes');
    await expect(item('sensitive_notes')).toHaveAttribute('data-on', 'false');
  }
  await flip('sensitive_notes');
  await expect(page).toHaveURL(/confirm=sensitive_notes$/);
  await expect(item('sensitive_notes').getByRole('alert')).toBeVisible();
  await expect(item('sensitive_notes')).toHaveAttribute('data-on', 'false');
  await settled(page, javaScriptEnabled);
  await item('sensitive_notes').getByLabel('我已了解并明确同意这一用途').check();
  await item('sensitive_notes').getByRole('button').click();
  await expect(item('sensitive_notes')).toHaveAttribute('data-on', 'true');
  await expect(page.locator('[data-section=history] li').first()).toContainText('敏感信息');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  expect(errors).toEqual([]);
});
