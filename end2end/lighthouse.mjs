// A phone's first visit, measured (issue 17 item 5): Lighthouse from npm with its mobile defaults
// (simulated slow 4G, 4x CPU slowdown, a cold cache) in Debian's Chromium, against the release
// build, on the six pages a new customer meets. It starts the portal itself (serve.sh, release
// profile, the demo salon), signs a demo customer in through the dev mailbox as a browser would,
// and hands the session cookie to Lighthouse for the signed-in pages.
//
//   node lighthouse.mjs            (from end2end/; `make lighthouse` builds the release first)
//
// Writes $CARGO_TARGET_DIR/lighthouse/summary.txt (read by `make bench`) and one JSON report per
// page beside it; exits 1 when a page misses a target.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';
import { chromium } from '@playwright/test';
import { createRequire } from 'node:module';

const lighthouseVersion = createRequire(import.meta.url)('lighthouse/package.json').version;

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.LIGHTHOUSE_PORT || 3350);
const base = `http://127.0.0.1:${port}`;
const chromePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const out = join(process.env.CARGO_TARGET_DIR || join(here, '..', 'target'), 'lighthouse');
const runs = Number(process.env.LIGHTHOUSE_RUNS || 3);
const targets = { score: 95, lcpMs: 2500, tbtMs: 200, bytes: 300 * 1024 };
const pages = [
  { path: '/', signedIn: false },
  { path: '/privacy', signedIn: false },
  { path: '/signin', signedIn: false },
  { path: '/me', signedIn: true },
  { path: '/me/requests', signedIn: true },
  { path: '/me/consents', signedIn: true },
];

mkdirSync(out, { recursive: true });

const server = spawn('sh', [join(here, 'serve.sh'), String(port)], {
  env: { ...process.env, PORTAL_E2E_PROFILE: 'release' },
  stdio: 'ignore',
});
const stop = () => server.kill('SIGTERM');
process.on('exit', stop);

async function waitForServer() {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the portal did not start');
}

/** Signs a demo customer in (link and code through the dev mailbox); returns the Cookie header. */
async function signIn(email) {
  const browser = await chromium.launch({ executablePath: chromePath, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ locale: 'zh-CN' });
    await page.goto(`${base}/signin`);
    await page.getByLabel(/电子邮箱|Email address/).fill(email);
    await page.getByRole('button', { name: /发送登录链接|Send me a sign-in link/ }).click();
    let code = '';
    for (let i = 0; i < 60 && !code; i++) {
      await page.goto(`${base}/dev/mailbox`);
      const text = (await page.locator('article.mail').filter({ hasText: email }).first().locator('pre.mail-body').textContent({ timeout: 500 }).catch(() => '')) || '';
      code = (text.match(/(?:验证码：|where you asked: )(\d{6})/) || [])[1] || '';
      if (!code) await new Promise((r) => setTimeout(r, 250));
    }
    if (!code) throw new Error('no sign-in code arrived');
    await page.goto(`${base}/signin/sent`);
    await page.getByLabel(/6 位验证码|6-digit code/).fill(code);
    await page.getByRole('button', { name: /^(登录|Sign in)$/ }).click();
    await page.waitForURL(/\/me$/);
    const cookies = await page.context().cookies();
    return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  } finally {
    await browser.close();
  }
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
}

async function main() {
  await waitForServer();
  const cookie = await signIn('customer150@example.com');
  const chrome = await chromeLauncher.launch({
    chromePath,
    chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--lang=zh-CN'],
  });
  const rows = [];
  try {
    for (const p of pages) {
      const found = [];
      for (let i = 0; i < runs; i++) {
        const result = await lighthouse(`${base}${p.path}`, {
          port: chrome.port,
          output: 'json',
          logLevel: 'error',
          onlyCategories: ['performance'],
          extraHeaders: p.signedIn ? { Cookie: cookie } : undefined,
        });
        const lhr = result.lhr;
        if (lhr.finalDisplayedUrl && !lhr.finalDisplayedUrl.startsWith(`${base}${p.path}`)) {
          throw new Error(`${p.path} ended at ${lhr.finalDisplayedUrl}: not the page asked for`);
        }
        const a = lhr.audits;
        found.push({
          score: Math.round((lhr.categories.performance.score || 0) * 100),
          lcpMs: a['largest-contentful-paint'].numericValue,
          tbtMs: a['total-blocking-time'].numericValue,
          bytes: a['total-byte-weight'].numericValue,
          lcpElement: a['largest-contentful-paint-element']?.details?.items?.[0]?.items?.[0]?.node?.snippet || '',
        });
        writeFileSync(join(out, `${p.path.replace(/\W+/g, '_') || 'home'}-${i + 1}.json`), result.report);
      }
      rows.push({
        path: p.path,
        score: median(found.map((f) => f.score)),
        lcpMs: median(found.map((f) => f.lcpMs)),
        tbtMs: median(found.map((f) => f.tbtMs)),
        bytes: median(found.map((f) => f.bytes)),
        lcpElement: found[0].lcpElement,
      });
    }
  } finally {
    await chrome.kill();
  }
  const ok = (r) => r.score >= targets.score && r.lcpMs <= targets.lcpMs && r.tbtMs <= targets.tbtMs && r.bytes <= targets.bytes;
  const lines = [
    `Lighthouse ${lighthouseVersion} mobile defaults (simulated slow 4G, 4x CPU), release build, median of ${runs}`,
    `targets: performance >= ${targets.score}, LCP <= ${targets.lcpMs} ms, TBT <= ${targets.tbtMs} ms, transfer <= ${targets.bytes / 1024} KiB`,
    '| page          | perf | LCP ms | TBT ms | transfer KiB | meets |',
    '|---------------|------|--------|--------|--------------|-------|',
    ...rows.map((r) => `| ${r.path.padEnd(13)} | ${String(r.score).padStart(4)} | ${r.lcpMs.toFixed(0).padStart(6)} | ${r.tbtMs.toFixed(0).padStart(6)} | ${(r.bytes / 1024).toFixed(1).padStart(12)} | ${ok(r) ? 'yes' : 'NO'}   |`),
    ...rows.map((r) => `LCP element of ${r.path}: ${r.lcpElement.slice(0, 120)}`),
  ];
  const summary = lines.join('\n') + '\n';
  writeFileSync(join(out, 'summary.txt'), summary);
  process.stdout.write(summary);
  stop();
  process.exit(rows.every(ok) ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  stop();
  process.exit(2);
});
