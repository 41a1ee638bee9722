import { test, expect, Page } from '@playwright/test';
// Written by tests/officer.setup.ts.
const OFFICER_STATE = '.auth/officer.json';

// A request end to end: the customer asks on a phone-sized page (any project's viewport), the
// privacy officer decides at a desk, the portal carries it out, the customer sees the outcome.
// Desktop projects only (the staff side), JavaScript on and off. The officer's session comes from
// tests/officer.setup.ts.

test.beforeEach(({}, info) => {
  test.skip(info.project.name.startsWith('phone'), 'the staff side is used at a desk');
});

const customers: Record<string, number> = { 'desktop-js': 36, 'desktop-nojs': 46 };

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

test('a customer asks for restriction, the officer approves it, the portal carries it out', { tag: '@smoke' }, async ({ browser, javaScriptEnabled }, info) => {
  test.setTimeout(150_000);
  const use = { ...info.project.use, baseURL: info.project.use.baseURL as string };
  const customerCtx = await browser.newContext(use);
  const officerCtx = await browser.newContext({ ...use, storageState: OFFICER_STATE });
  const customer = await customerCtx.newPage();
  const officer = await officerCtx.newPage();
  const email = `customer${String(customers[info.project.name]).padStart(3, '0')}@example.com`;

  await customerSignIn(customer, email, javaScriptEnabled);
  await customer.goto('/me/requests');
  await settled(customer, javaScriptEnabled);
  const restriction = customer.locator('details[data-kind=restriction]');
  await restriction.locator('summary').click();
  await restriction.getByLabel(/说明/).fill('请暂停使用我的信息');
  await restriction.getByRole('button', { name: '提交申请' }).click();
  await expect(customer).toHaveURL(/done=submitted$/);
  const item = customer.locator('ul.requests > li').filter({ hasText: '限制处理' }).first();
  const id = await item.getAttribute('data-request');
  expect(id).toBeTruthy();

  await officer.goto('/staff');
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

test('a customer on a phone gets a copy, a correction, no marketing and deletion, each decided by the officer', async ({ browser, javaScriptEnabled }, info) => {
  test.setTimeout(240_000);
  const base = info.project.use.baseURL as string;
  const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, javaScriptEnabled, baseURL: base, locale: 'zh-CN' };
  const customerCtx = await browser.newContext({ ...phone, acceptDownloads: true });
  const officerCtx = await browser.newContext({ ...info.project.use, baseURL: base, storageState: OFFICER_STATE });
  const customer = await customerCtx.newPage();
  const officer = await officerCtx.newPage();
  const n = info.project.name === 'desktop-js' ? 37 : 47;
  const email = `customer${String(n).padStart(3, '0')}@example.com`;
  const newPhone = info.project.name === 'desktop-js' ? '13966660037' : '13966660047';

  await customerSignIn(customer, email, javaScriptEnabled);
  const ask = async (kind: string, fill?: () => Promise<void>) => {
    await customer.goto('/me/requests');
    await settled(customer, javaScriptEnabled);
    const form = customer.locator(`details[data-kind=${kind}]`);
    await form.locator('summary').click();
    if (fill) await fill();
    if (kind === 'deletion') await form.getByLabel(/确认申请删除我的信息/).check();
    await form.getByRole('button', { name: '提交申请' }).click();
    await expect(customer).toHaveURL(/done=submitted$/);
    const ids = await customer.locator('ul.requests > li').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-request'))));
    return String(Math.max(...ids));
  };
  const copy = await ask('access');
  const correction = await ask('correction', () => customer.getByLabel('手机号').fill(newPhone));
  const objection = await ask('objection');

  const approve = async (id: string, before?: () => Promise<void>) => {
    await officer.goto(`/staff/requests/${id}`);
    await settled(officer, javaScriptEnabled);
    if (before) await before();
    await officer.getByRole('button', { name: '批准' }).click();
    await expect(officer).toHaveURL(/done=approve$/);
  };
  await approve(copy);
  await approve(correction, async () => {
    // Old beside new; only the phone is applied.
    await expect(officer.locator('table').filter({ hasText: newPhone })).toBeVisible();
    await officer.getByLabel(/采纳 手机号/).check();
  });
  await approve(objection);

  const doneAll = async (ids: string[]) =>
    expect(async () => {
      await customer.goto('/me/requests');
      for (const id of ids) {
        await expect(customer.locator(`li[data-request="${id}"]`)).toContainText('已完成', { timeout: 500 });
      }
    }).toPass({ timeout: 30_000 });
  await doneAll([copy, correction, objection]);

  // The copy downloads to the phone (signed in minutes ago, so no new code is needed).
  const [download] = await Promise.all([
    customer.waitForEvent('download'),
    customer.getByRole('link', { name: '下载副本' }).first().click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^my-data-\d+\.zip$/);
  const saved = await download.path();
  expect(saved).toBeTruthy();

  await customer.goto('/me');
  await expect(customer.locator('[data-section=contact]')).toContainText(`+86${newPhone}`);
  for (const purpose of ['短信营销', '邮件营销', '微信营销']) {
    await expect(customer.locator('[data-section=consents] dt', { hasText: purpose }).locator('xpath=following-sibling::dd[1]')).toHaveText('未同意');
  }

  // Deletion: the card still holds money, so the officer records it settled, then approves.
  const deletion = await ask('deletion');
  await officer.goto(`/staff/requests/${deletion}`);
  await settled(officer, javaScriptEnabled);
  await expect(officer.locator('[data-field=balance]')).not.toHaveText('¥0.00');
  // Settling names the amount, how it was settled, and needs the officer's explicit tick.
  await officer.getByLabel('结清方式').selectOption('cash');
  await officer.getByLabel(/我确认已与顾客结清 ¥/).check();
  await officer.getByRole('button', { name: '已与顾客结清余额' }).click();
  await expect(officer).toHaveURL(/done=settle$/);
  await approve(deletion);
  // Once carried out, the customer's session is gone with everything else, and the page says so.
  await expect(async () => {
    await customer.goto('/me');
    await expect(customer).toHaveURL(/\/signin\?erased=1$/, { timeout: 500 });
  }).toPass({ timeout: 30_000 });
  await expect(customer.getByText('您的信息已按您的申请删除')).toBeVisible();
  await customerCtx.close();
  await officerCtx.close();
});

test('the officer reads the team and the audit log on a phone as labelled lines, without scrolling sideways', async ({ browser, javaScriptEnabled }, info) => {
  const use = { ...info.project.use, baseURL: info.project.use.baseURL as string };
  const ctx = await browser.newContext({ ...use, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, storageState: OFFICER_STATE });
  const page = await ctx.newPage();
  for (const path of ['/staff/team', '/staff/audit']) {
    await page.goto(path);
    await settled(page, javaScriptEnabled);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} scrolls sideways`).toBeLessThanOrEqual(0);
    // Each cell stacks under the label of its column.
    const cell = page.locator('table.stack tbody tr').first().locator('td[data-label]').first();
    const label = await cell.evaluate((td) => getComputedStyle(td, '::before').content);
    expect(label, path).not.toBe('none');
    expect(label.replace(/"/g, ''), path).toBe(await cell.getAttribute('data-label'));
  }
  // The queue's filters: each label sits over its own select, and badges keep their words.
  await page.goto('/staff/requests');
  await settled(page, javaScriptEnabled);
  const filters = page.locator('form.filters .filter');
  await expect(filters).toHaveCount(3);
  for (let i = 0; i < 3; i++) {
    const label = await filters.nth(i).locator('label').boundingBox();
    const select = await filters.nth(i).locator('select').boundingBox();
    expect(label!.y + label!.height).toBeLessThanOrEqual(select!.y + 1);
    expect(Math.abs(label!.x - select!.x)).toBeLessThanOrEqual(1);
  }
  expect(await page.evaluate(() => {
    const tag = document.createElement('span');
    tag.className = 'tag';
    document.body.append(tag);
    return getComputedStyle(tag).whiteSpace;
  })).toBe('nowrap');
  await ctx.close();
});
