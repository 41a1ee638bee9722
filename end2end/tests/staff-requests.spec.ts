import { test, expect, Page, Browser } from '@playwright/test';
import { createHmac } from 'node:crypto';

// A request end to end: the customer asks on a phone-sized page (any project's viewport), the
// privacy officer decides at a desk, the portal carries it out, the customer sees the outcome.
// Desktop projects only (the staff side), JavaScript on and off.

test.beforeEach(({}, info) => {
  test.skip(info.project.name.startsWith('phone'), 'the staff side is used at a desk');
});

const customers: Record<string, number> = { 'desktop-js': 36, 'desktop-nojs': 46 };

function totp(base32: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

async function settled(page: Page, jsEnabled: boolean) {
  await page.waitForLoadState('load');
  if (jsEnabled) await page.waitForLoadState('networkidle');
}

async function customerSignIn(page: Page, email: string, jsEnabled: boolean) {
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

/** The officer signs in; a code another test just used is refused (replay), so wait for the next. */
async function officerSignIn(page: Page, jsEnabled: boolean) {
  for (let attempt = 0; attempt < 4; attempt++) {
    await page.goto('/staff/signin');
    await settled(page, jsEnabled);
    await page.getByLabel(/电子邮箱|Email address/).fill('officer@salon.example');
    await page.getByLabel(/^密码$|^Password$/).fill('peony lantern officer 71');
    await page.getByRole('button', { name: /登录|Sign in/ }).click();
    await expect(page).toHaveURL(/\/staff\/code$/);
    await settled(page, jsEnabled);
    await page.getByLabel(/6 位验证码|6-digit code/).fill(totp('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'));
    await page.getByRole('button', { name: /确认|Confirm/ }).click();
    await page.waitForURL(/\/staff(\/code\?error=code)?$/);
    if (page.url().endsWith('/staff')) return;
    await page.waitForTimeout(31_000 - (Date.now() % 30_000));
  }
  throw new Error('officer could not sign in');
}

test('a customer asks for restriction, the officer approves it, the portal carries it out', async ({ browser, javaScriptEnabled }, info) => {
  test.setTimeout(150_000);
  const use = { ...info.project.use, baseURL: info.project.use.baseURL as string };
  const customerCtx = await browser.newContext(use);
  const officerCtx = await browser.newContext(use);
  const customer = await customerCtx.newPage();
  const officer = await officerCtx.newPage();
  const email = `customer${String(customers[info.project.name]).padStart(3, '0')}@example.com`;

  await customerSignIn(customer, email, javaScriptEnabled);
  await customer.goto('/me/requests');
  await settled(customer, javaScriptEnabled);
  await customer.getByLabel('申请类型').selectOption('restriction');
  await customer.getByLabel(/说明/).fill('请暂停使用我的信息');
  await customer.getByRole('button', { name: '提交申请' }).click();
  await expect(customer).toHaveURL(/done=submitted$/);
  const item = customer.locator('ul.requests > li').filter({ hasText: '限制处理' }).first();
  const id = await item.getAttribute('data-request');
  expect(id).toBeTruthy();

  await officerSignIn(officer, javaScriptEnabled);
  await officer.getByRole('link', { name: '申请' }).click();
  await expect(officer.locator(`tr[data-request="${id}"]`)).toBeVisible();
  await officer.goto(`/staff/requests/${id}`);
  await settled(officer, javaScriptEnabled);
  await expect(officer.getByText('请暂停使用我的信息')).toBeVisible();
  await officer.getByRole('button', { name: '开始审核' }).click();
  await expect(officer.locator('[data-field=status]')).toHaveText('审核中');
  await settled(officer, javaScriptEnabled);
  await officer.getByRole('button', { name: '批准' }).click();
  await expect(officer).toHaveURL(/done=approve$/);

  // The portal carries it out within seconds; the customer sees it done, and the banner.
  await expect(async () => {
    await customer.goto('/me/requests');
    await expect(customer.locator(`li[data-request="${id}"]`)).toContainText('已完成', { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await customer.goto('/me');
  await expect(customer.getByRole('status')).toContainText('限制处理');
  await customerCtx.close();
  await officerCtx.close();
});
