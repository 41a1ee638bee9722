import { test, expect, Page } from '@playwright/test';

// Per-photo consent on a phone (and a desktop), JavaScript on and off: the customer withdraws
// every public use of a photo with one save, and adding one back needs the explicit tick. At a
// desk, the officer finds the takedown task the withdrawal opened (photo number and platform,
// nothing of the customer), marks it done, and looks a contact up for marketing (yes / no only).

const OFFICER_STATE = '.auth/officer.json';
// Demo customers 001, 011, 021, … have photos.
const customers: Record<string, number> = { 'phone-js': 51, 'phone-nojs': 61, 'desktop-js': 71, 'desktop-nojs': 81 };

async function settled(page: Page, jsEnabled: boolean) {
  await page.waitForLoadState('load');
  if (jsEnabled) await page.waitForLoadState('networkidle');
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()} (page ${page.url()})`));
  return errors;
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

/** Withdraws every public use of the customer's first photo, then grants WeChat with the tick. */
async function changePhotoUses(page: Page, jsEnabled: boolean): Promise<string> {
  // "Photos on social media" must be on before a photo can go on a platform.
  await page.goto('/me/consents');
  await settled(page, jsEnabled);
  const social = page.locator('li[data-purpose=photos_social]');
  if ((await social.getAttribute('data-on')) === 'false') {
    await social.getByLabel('我已了解并明确同意这一用途').check();
    await social.getByRole('button').click();
    await expect(social).toHaveAttribute('data-on', 'true');
  }
  await page.getByRole('link', { name: '照片用途' }).first().click();
  await expect(page).toHaveURL(/\/me\/photos$/);
  await settled(page, jsEnabled);
  const photo = page.locator('section.photo').first();
  const id = (await photo.getAttribute('data-photo'))!;
  const section = page.locator(`section[data-photo="${id}"]`);
  await expect(section.locator('img')).toBeVisible();

  // One save withdraws everything public; no tick needed to withdraw.
  for (const box of await section.locator('input[type=checkbox]:not([name=confirm])').all()) await box.uncheck();
  await section.getByRole('button', { name: '保存这张照片的用途' }).click();
  await expect(page.getByRole('status')).toContainText('已保存');
  await expect(section.locator('[data-uses]')).toHaveText('未公开使用');

  // Adding WeChat without the tick is refused with a message, and nothing changes.
  await settled(page, jsEnabled);
  await section.getByLabel('微信').check();
  await section.getByRole('button', { name: '保存这张照片的用途' }).click();
  await expect(page).toHaveURL(new RegExp(`confirm=${id}#photo-${id}$`));
  await expect(section.getByRole('alert')).toBeVisible();
  await expect(section.locator('[data-uses]')).toHaveText('未公开使用');

  // With the tick it applies at once.
  await settled(page, jsEnabled);
  await section.getByLabel('微信').check();
  await section.getByLabel('我明确同意这张照片公开用于所勾选的用途').check();
  await section.getByRole('button', { name: '保存这张照片的用途' }).click();
  await expect(page.getByRole('status')).toContainText('已保存');
  await expect(section.locator('[data-uses]')).toHaveText('微信');

  // And withdrawn again: this one leaves a takedown task for staff.
  await settled(page, jsEnabled);
  await section.getByLabel('微信').uncheck();
  await section.getByRole('button', { name: '保存这张照片的用途' }).click();
  await expect(section.locator('[data-uses]')).toHaveText('未公开使用');
  return id;
}

test('a customer withdraws a photo from public use with one save, and adding needs the tick', async ({ page, javaScriptEnabled }, info) => {
  test.skip(info.project.name.startsWith('desktop'), 'the desktop projects run this beside the staff side below');
  const errors = watchErrors(page);
  const email = `customer${String(customers[info.project.name]).padStart(3, '0')}@example.com`;
  await signIn(page, email, javaScriptEnabled);
  await changePhotoUses(page, javaScriptEnabled);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  expect(errors).toEqual([]);
});

test('a withdrawn photo use reaches the takedown queue, and marketing sees only yes or no', async ({ browser, javaScriptEnabled }, info) => {
  test.skip(info.project.name.startsWith('phone'), 'the staff area is used at a desk');
  test.setTimeout(120_000);
  const base = info.project.use.baseURL as string;
  const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, javaScriptEnabled, baseURL: base, locale: 'zh-CN' };
  const customerCtx = await browser.newContext(phone);
  const officerCtx = await browser.newContext({ ...info.project.use, baseURL: base, storageState: OFFICER_STATE });
  const customer = await customerCtx.newPage();
  const officer = await officerCtx.newPage();
  const errors = [...watchErrors(customer)];
  const officerErrors = watchErrors(officer);
  const email = `customer${String(customers[info.project.name]).padStart(3, '0')}@example.com`;

  await signIn(customer, email, javaScriptEnabled);
  const photo = await changePhotoUses(customer, javaScriptEnabled);

  await officer.goto('/staff');
  await officer.getByRole('navigation', { name: '员工后台' }).getByRole('link', { name: '照片下架' }).click();
  await expect(officer).toHaveURL(/\/staff\/takedowns$/);
  await settled(officer, javaScriptEnabled);
  const task = officer.locator('[data-list=open] > li[data-use="social:wechat"]').filter({ hasText: `#${photo} ` }).last();
  await expect(task).toContainText('顾客撤回');
  await expect(officer.locator('main')).not.toContainText(email);
  await task.getByRole('button', { name: '已撤下' }).click();
  await expect(officer).toHaveURL(/done=1$/);
  await expect(officer.locator('[data-list=done]')).toContainText(`#${photo}`);

  // Marketing's lookup: per channel yes or no, nothing of the profile.
  await officer.goto('/staff/marketing');
  await settled(officer, javaScriptEnabled);
  await officer.getByLabel('手机号或邮箱').fill(email);
  await officer.getByRole('button', { name: /查找|搜索/ }).click();
  await expect(officer.locator('[data-section=may-contact] dd')).toHaveCount(3);
  for (const dd of await officer.locator('[data-section=may-contact] dd').all()) {
    await expect(dd).toHaveText(/^(可以联系|不可联系)$/);
  }
  await expect(officer.locator('[data-count]')).toHaveCount(6);
  expect(errors).toEqual([]);
  expect(officerErrors).toEqual([]);
  await customerCtx.close();
  await officerCtx.close();
});
