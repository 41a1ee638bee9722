import { test, expect, Page } from '@playwright/test';

// A customer on a phone (and on a desktop), JavaScript on and off: sign in with the mailed code,
// read "My data", make requests, follow them and cancel one. Each project uses its own demo
// customer (numbers 15, 25, 35, 45), so runs never share requests or throttles.

const customers: Record<string, number> = { 'phone-js': 15, 'phone-nojs': 25, 'desktop-js': 35, 'desktop-nojs': 45 };

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

// The request form: one folded form per kind (a <details>, so it works without JavaScript).
async function openKind(page: Page, kind: string) {
  const form = page.locator(`details[data-kind=${kind}]`);
  await form.locator('summary').click();
  await expect(form.locator('form')).toBeVisible();
  return form;
}

async function noHorizontalScroll(page: Page) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

test('a customer reads their data, makes requests, follows them and cancels one', { tag: '@smoke' }, async ({ page, javaScriptEnabled }, info) => {
  const errors = watchErrors(page);
  const n = customers[info.project.name];
  const email = `customer${String(n).padStart(3, '0')}@example.com`;
  await signIn(page, email, javaScriptEnabled);

  // My data: every category, in Chinese, fitting the screen.
  await settled(page, javaScriptEnabled);
  for (const section of ['contact', 'profile', 'sensitive', 'visits', 'membership', 'consents', 'messages', 'access', 'sharing']) {
    await expect(page.locator(`[data-section=${section}]`)).toBeVisible();
  }
  await expect(page.locator('[data-section=contact]')).toContainText(email);
  await noHorizontalScroll(page);

  // A question, then an objection to marketing.
  await page.getByRole('link', { name: '我的申请' }).first().click();
  await expect(page).toHaveURL(/\/me\/requests$/);
  await settled(page, javaScriptEnabled);
  let form = await openKind(page, 'question');
  await form.getByLabel(/说明/).fill('你们把我的照片给谁看了？');
  await form.getByRole('button', { name: '提交申请' }).click();
  await expect(page).toHaveURL(/\/me\/requests\?done=submitted$/);
  await expect(page.getByRole('status')).toContainText('申请已提交');
  await settled(page, javaScriptEnabled);
  form = await openKind(page, 'objection');
  // Objection points to the instant switches for one channel at a time.
  await expect(form.getByRole('link', { name: '管理我的授权' })).toHaveAttribute('href', '/me/consents');
  await form.getByRole('button', { name: '提交申请' }).click();
  await expect(page).toHaveURL(/\/me\/requests\?done=submitted$/);
  const list = page.locator('ul.requests > li');
  await expect(list.filter({ hasText: '隐私咨询或投诉' })).toContainText('已提交');
  await expect(list.filter({ hasText: '拒绝营销' })).toContainText('答复期限');

  // Every other kind: a copy, a correction (only the field that changes), deletion, restriction.
  const listed = await list.count();
  for (const [kind, label] of [
    ['access', '获取个人信息副本'],
    ['correction', '更正个人信息'],
    ['deletion', '删除个人信息'],
    ['restriction', '限制处理'],
  ]) {
    await settled(page, javaScriptEnabled);
    const form = await openKind(page, kind);
    if (kind === 'correction') await form.getByLabel('姓名').fill('新的名字');
    if (kind === 'deletion') {
      // What goes, what stays, and an explicit tick before it can be sent.
      await expect(form).toContainText('将保留（去除您的姓名和联系方式）');
      const tick = form.getByLabel(/确认申请删除我的信息/);
      await expect(tick).toHaveAttribute('required', '');
      await tick.check();
    }
    await form.getByRole('button', { name: '提交申请' }).click();
    await expect(page).toHaveURL(/\/me\/requests\?done=submitted$/);
    await expect(list.filter({ hasText: label }).filter({ hasText: '已提交' })).toHaveCount(1);
  }
  await expect(list).toHaveCount(listed + 4);

  // A correction with nothing to correct is refused, with a message, and nothing is added.
  await settled(page, javaScriptEnabled);
  const before = await list.count();
  form = await openKind(page, 'correction');
  await form.getByRole('button', { name: '提交申请' }).click();
  await expect(page).toHaveURL(/\/me\/requests\?error=invalid$/);
  await expect(page.getByRole('status')).toContainText('申请内容有误');
  await expect(list).toHaveCount(before);

  // Cancel the question.
  await settled(page, javaScriptEnabled);
  await list.filter({ hasText: '隐私咨询或投诉' }).getByRole('button', { name: '撤回申请' }).click();
  await expect(page).toHaveURL(/\/me\/requests\?done=cancelled$/);
  await expect(list.filter({ hasText: '隐私咨询或投诉' })).toContainText('已撤回');
  await noHorizontalScroll(page);
  expect(errors).toEqual([]);
});
