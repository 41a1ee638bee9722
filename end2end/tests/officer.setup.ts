import { test as setup, expect } from '@playwright/test';
import { createHmac } from 'node:crypto';

// Signs the demo privacy officer in once, with a TOTP code, and keeps the session for the tests
// that need an officer (a TOTP code is accepted only once, so each test signing in on its own
// would wait for the next 30-second step).

const OFFICER_STATE = '.auth/officer.json';

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

setup('the privacy officer signs in once', { tag: '@smoke' }, async ({ page }) => {
  await page.goto('/staff/signin');
  await page.getByLabel(/电子邮箱|Email address/).fill('officer@salon.example');
  await page.getByLabel(/^密码$|^Password$/).fill('peony lantern officer 71');
  await page.getByRole('button', { name: /登录|Sign in/ }).click();
  await expect(page).toHaveURL(/\/staff\/code$/);
  await page.getByLabel(/6 位验证码|6-digit code/).fill(totp('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'));
  await page.getByRole('button', { name: /确认|Confirm/ }).click();
  await expect(page).toHaveURL(/\/staff$/);
  await page.context().storageState({ path: OFFICER_STATE });
});
