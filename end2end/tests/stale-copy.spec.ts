import { test, expect, Page } from '@playwright/test';
import { createHmac } from 'node:crypto';

// A copy downloaded on a phone with a stale sign-in, on the second portal of the run, whose fresh
// window is one minute (PORTAL_FRESH_SIGNIN_MINUTES=1, see playwright.config.ts): the customer
// asks for a copy, the privacy officer approves it, more than a minute passes; My requests then
// says to confirm it is you first, a new code brings the customer back there, and the copy
// downloads. JavaScript on and off. Each project has its own customer and officer, so no code is
// used twice.

const who: Record<string, { customer: string; officer: string; password: string; secret: string }> = {
  'stale-phone-js': {
    customer: 'customer018@example.com',
    officer: 'owner@salon.example',
    password: 'peony lantern owner 76',
    secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
  },
  'stale-phone-nojs': {
    customer: 'customer028@example.com',
    officer: 'officer@salon.example',
    password: 'peony lantern officer 71',
    secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
  },
};

async function settled(page: Page, jsEnabled: boolean) {
  await page.waitForLoadState('load');
  if (jsEnabled) await page.waitForLoadState('networkidle');
}

/** RFC 6238 (SHA-1, 6 digits, 30 s) from a base32 secret, as an authenticator app computes it. */
function totp(base32: string, at = Date.now()): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Asks for a code on the page it is on (the sign-in form) and types it; the newest mail wins. */
async function codeSignIn(page: Page, email: string, jsEnabled: boolean, landing: RegExp) {
  await settled(page, jsEnabled);
  const before = await mailCount(page, email);
  const form = page.url();
  await page.getByLabel(/电子邮箱|Email address/).fill(email);
  await page.getByRole('button', { name: /发送登录链接|Send me a sign-in link/ }).click();
  await expect(page).toHaveURL(/\/signin\/sent$/);
  let code = '';
  await expect(async () => {
    await page.goto('/dev/mailbox');
    const mails = signInMails(page, email);
    expect(await mails.count()).toBeGreaterThan(before);
    const text = (await mails.first().locator('pre.mail-body').textContent({ timeout: 500 })) ?? '';
    code = text.match(/(?:验证码：|where you asked: )(\d{6})/)![1];
  }).toPass({ timeout: 15_000 });
  expect(form).toContain('/signin');
  await page.goto('/signin/sent');
  await settled(page, jsEnabled);
  await page.getByLabel(/6 位验证码|6-digit code/).fill(code);
  await page.getByRole('button', { name: /^(登录|Sign in)$/ }).click();
  await expect(page).toHaveURL(landing);
}

/** The sign-in mails to `email` in the dev mailbox, newest first. */
function signInMails(page: Page, email: string) {
  return page.locator('article.mail').filter({ hasText: email }).filter({ hasText: /验证码|where you asked/ });
}

async function mailCount(page: Page, email: string): Promise<number> {
  const here = page.url();
  await page.goto('/dev/mailbox');
  const n = await signInMails(page, email).count();
  await page.goto(here);
  return n;
}

test('a copy downloads on a phone after a stale sign-in is confirmed with a new code', async ({ browser, page, javaScriptEnabled }, info) => {
  test.setTimeout(180_000);
  const w = who[info.project.name];
  test.skip(!w, 'the stale-sign-in portal only');

  // The customer signs in and asks for a copy.
  await page.goto('/signin');
  await codeSignIn(page, w.customer, javaScriptEnabled, /\/me$/);
  const signedInAt = Date.now();
  await page.goto('/me/requests');
  await settled(page, javaScriptEnabled);
  const access = page.locator('details[data-kind=access]');
  await access.locator('summary').click();
  await access.getByRole('button', { name: '提交申请' }).click();
  await expect(page).toHaveURL(/done=submitted$/);
  const ids = await page.locator('ul.requests > li').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-request'))));
  const id = Math.max(...ids);

  // The privacy officer approves it at a desk.
  const officerCtx = await browser.newContext({ viewport: { width: 1280, height: 800 }, javaScriptEnabled, baseURL: info.project.use.baseURL, locale: 'zh-CN' });
  const officer = await officerCtx.newPage();
  await officer.goto('/staff/signin');
  await settled(officer, javaScriptEnabled);
  await officer.getByLabel(/电子邮箱|Email address/).fill(w.officer);
  await officer.getByLabel(/^密码$|^Password$/).fill(w.password);
  await officer.getByRole('button', { name: /登录|Sign in/ }).click();
  await expect(officer).toHaveURL(/\/staff\/code$/);
  await settled(officer, javaScriptEnabled);
  await officer.getByLabel(/6 位验证码|6-digit code/).fill(totp(w.secret));
  await officer.getByRole('button', { name: /确认|Confirm/ }).click();
  await expect(officer).toHaveURL(/\/staff$/);
  await officer.goto(`/staff/requests/${id}`);
  await settled(officer, javaScriptEnabled);
  await officer.getByRole('button', { name: '批准' }).click();
  await expect(officer).toHaveURL(/done=approve$/);
  await officerCtx.close();

  // The copy is ready; wait until the sign-in is older than the one-minute window.
  await expect(async () => {
    await page.goto('/me/requests');
    await expect(page.locator(`li[data-request="${id}"]`)).toContainText('已完成', { timeout: 500 });
  }).toPass({ timeout: 30_000 });
  await page.waitForTimeout(Math.max(0, signedInAt + 62_000 - Date.now()));

  // Stale: the page says to confirm first, and offers no link that would save a sign-in page.
  await page.goto('/me/requests');
  await settled(page, javaScriptEnabled);
  const copyLinks = page.locator('a[href^="/me/exports/"]');
  await expect(copyLinks).toHaveCount(0);
  const confirm = page.getByRole('link', { name: /先确认是您本人/ });
  await expect(confirm).toContainText(`#${id}`);
  await confirm.first().click();
  await expect(page).toHaveURL(/\/signin\?next=\/me\/requests&fresh=1$/);
  await expect(page.getByRole('status')).toBeVisible();

  // A new code brings the customer back to My requests, where the copy downloads.
  await codeSignIn(page, w.customer, javaScriptEnabled, /\/me\/requests$/);
  await settled(page, javaScriptEnabled);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    copyLinks.first().click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^my-data-\d+\.zip$/);
});
