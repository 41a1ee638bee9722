import { test, expect, Page } from '@playwright/test';

// A customer whose phone cannot open a ZIP reads the copy's page in the browser: labelled
// sections in their language, yuan and dates, no stored code, fitting a 390 px screen, with
// JavaScript on and off. Each phone project uses its own demo customer.

const customers: Record<string, number> = { 'phone-js': 17, 'phone-nojs': 27 };

async function settled(page: Page, jsEnabled: boolean) {
  await page.waitForLoadState('load');
  if (jsEnabled) await page.waitForLoadState('networkidle');
}

async function signIn(page: Page, email: string, jsEnabled: boolean) {
  await page.goto('/signin');
  await settled(page, jsEnabled);
  await page.getByLabel(/电子邮箱|Email address/).fill(email);
  await page.getByRole('button', { name: /发送登录链接|Send me a sign-in link/ }).click();
  await expect(page).toHaveURL(/\/signin\/sent$/);
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

async function noHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

test('a phone that cannot open a ZIP reads the copy in the browser, in Chinese and in English', async ({ page, javaScriptEnabled }, info) => {
  test.skip(!(info.project.name in customers), 'a phone journey');
  const email = `customer${String(customers[info.project.name]).padStart(3, '0')}@example.com`;
  await signIn(page, email, javaScriptEnabled);

  await page.goto('/me/copy');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('您的个人信息副本');
  for (const section of ['联系方式', '到店记录', '会员卡', '授权', '与第三方共享']) {
    await expect(page.getByRole('heading', { level: 2, name: section, exact: true })).toBeVisible();
  }
  const main = page.getByRole('main');
  await expect(main).toContainText(email);
  await expect(main).toContainText('¥');
  await expect(main).toContainText(/已同意|未同意/);
  for (const code of ['marketing_sms', 'amount_cents', 'top_up', 'front_desk']) {
    await expect(main).not.toContainText(code);
  }
  await noHorizontalScroll(page);
  await page.screenshot({ path: info.outputPath('copy-zh.png'), fullPage: true });

  // In English, switched as a customer would, with the site's language switch.
  await page.goto('/me');
  await settled(page, javaScriptEnabled);
  await page.locator('form.lang-switch button').click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await page.goto('/me/copy');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('a copy of your data');
  await expect(page.getByRole('heading', { level: 2, name: 'Visits', exact: true })).toBeVisible();
  await expect(main).toContainText(/Given|Not given/);
  await noHorizontalScroll(page);
  await page.screenshot({ path: info.outputPath('copy-en.png'), fullPage: true });
});
