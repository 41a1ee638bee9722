import { test, expect, Page } from '@playwright/test';
import { createHmac } from 'node:crypto';

// The staff area at desktop size, JavaScript on and off: sign-in with a second factor, intake at
// the counter, search. Accounts come from the demo salon (README, "Demo").

test.beforeEach(({}, info) => {
  test.skip(info.project.name.startsWith('phone'), 'the staff area is used at a desk');
});

/** Fails the test on any page error or console error (CSP violations, hydration panics). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (page ${page.url()})`);
  });
  return errors;
}

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
  const n = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

// Each project signs in with its own account, so no TOTP code is ever used twice.
const withSecondFactor: Record<string, { email: string; password: string; secret: string; name: string }> = {
  // The owner, not the store manager: officer.setup.ts signs the store manager in.
  'desktop-js': {
    email: 'owner@salon.example',
    password: 'peony lantern owner 76',
    secret: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
    name: '吴老板',
  },
  'desktop-nojs': {
    email: 'stylist.wang@salon.example',
    password: 'peony lantern wang 73',
    secret: 'KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF',
    name: '王造型师',
  },
};

async function signIn(page: Page, email: string, password: string, jsEnabled: boolean) {
  await page.goto('/staff/signin');
  await settled(page, jsEnabled);
  await page.getByLabel(/电子邮箱|Email address/).fill(email);
  await page.getByLabel(/^密码$|^Password$/).fill(password);
  await page.getByRole('button', { name: /登录|Sign in/ }).click();
}

test('a member of staff signs in with a password and an authenticator code', { tag: '@smoke' }, async ({ page, javaScriptEnabled }, info) => {
  const errors = watchErrors(page);
  const who = withSecondFactor[info.project.name];
  await signIn(page, who.email, 'a wrong password!', javaScriptEnabled);
  await expect(page).toHaveURL(/\/staff\/signin\?error=failed$/);
  await expect(page.getByRole('alert')).toContainText('登录失败');

  await signIn(page, who.email, who.password, javaScriptEnabled);
  await expect(page).toHaveURL(/\/staff\/code$/);
  await settled(page, javaScriptEnabled);
  await page.getByLabel(/6 位验证码|6-digit code/).fill(totp(who.secret));
  await page.getByRole('button', { name: /确认|Confirm/ }).click();
  await expect(page).toHaveURL(/\/staff$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(who.name);
  await expect(page.locator('svg.chart')).toBeVisible();
  if (who.email.startsWith('owner')) {
    await expect(page.locator('ul.posture li')).toHaveCount(5);
    await expect(page.getByRole('link', { name: '审计日志' })).toBeVisible();
  } else {
    // A stylist's navigation offers neither intake nor staff management.
    await expect(page.getByRole('link', { name: '新建顾客' })).toHaveCount(0);
    await expect(page.getByRole('link', { name: '员工', exact: true })).toHaveCount(0);
  }
  expect(errors).toEqual([]);
});

test('front desk takes in a new customer at the counter and finds them again', async ({ page, javaScriptEnabled }, info) => {
  const errors = watchErrors(page);
  const phone = info.project.name === 'desktop-js' ? '13700001111' : '13700002222';
  const name = info.project.name === 'desktop-js' ? '柜台新客甲' : '柜台新客乙';
  await signIn(page, 'desk@salon.example', 'peony lantern desk 72', javaScriptEnabled);
  await expect(page).toHaveURL(/\/staff$/);

  await page.getByRole('link', { name: '新建顾客' }).click();
  await expect(page).toHaveURL(/\/staff\/customers\/new$/);
  await settled(page, javaScriptEnabled);
  await page.getByLabel('姓名').fill(name);
  await page.getByLabel('手机号').fill(phone);
  // Every consent starts unticked.
  for (const box of await page.locator('fieldset input[type=checkbox]').all()) {
    await expect(box).not.toBeChecked();
  }
  await page.getByLabel(/我已向顾客出示现行隐私政策/).check();
  await page.getByLabel('邮件营销').check();
  await page.getByRole('button', { name: '创建档案' }).click();

  await expect(page).toHaveURL(/\/staff\/customers\/\d+\?saved=1$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(page.locator('[data-field=phone]')).toHaveText(`+86${phone}`);
  await expect(page.locator('[data-purpose=marketing_email]')).toHaveText('已同意');
  await expect(page.locator('[data-purpose=marketing_sms]')).toHaveText('未同意');
  // Front desk sees no service profile or visits.
  await expect(page.locator('[data-section=profile]')).toHaveCount(0);
  await expect(page.locator('[data-section=visits]')).toHaveCount(0);
  const recordUrl = page.url().replace(/\?saved=1$/, '');

  // Search by phone: one match opens the record; the number never appears in the URL.
  await page.getByRole('link', { name: '查找顾客' }).click();
  await settled(page, javaScriptEnabled);
  await page.getByLabel(/手机号、完整邮箱或姓名/).fill(phone);
  await page.getByRole('button', { name: '查找' }).click();
  await expect(page).toHaveURL(recordUrl);
  expect(page.url()).not.toContain(phone);

  // Search by part of a name: the other project's customer may or may not exist yet, so the
  // answer is either the list (with ours in it) or our record straight away.
  await page.getByRole('link', { name: '查找顾客' }).click();
  await settled(page, javaScriptEnabled);
  await page.getByLabel(/手机号、完整邮箱或姓名/).fill('柜台新客');
  await page.getByRole('button', { name: '查找' }).click();
  await expect(page.getByRole('link', { name }).or(page.getByRole('heading', { level: 1, name }))).toBeVisible();
  expect(page.url()).not.toContain('柜台');
  expect(page.url()).not.toContain(encodeURIComponent('柜台'));
  expect(errors).toEqual([]);
});
