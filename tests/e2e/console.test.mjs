// Browser tests of the web console: the real `tessera serve` (HTTPS, self-signed) on free
// 127.0.0.1 ports, accounts and Chinese mail made with the real command line, Debian's
// Chromium driven by playwright-core. Run: TESSERA_BIN=PATH/TO/tessera node --test
// console.test.mjs (tests/e2e/run.sh does this). Fails — never skips — without Chromium.
//
// Screenshots of every page at 1280×800 and 390×844 go to $TESSERA_E2E_ARTIFACTS (default
// build/e2e-artifacts), with a layout check on each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, VIEWPORTS, freePort, totp, menuRoutes, unlabelled, layoutProblems, shoot } from './lib.mjs';

const PASSWORD = { admin: 'admin password 管理 2026', auditor: 'auditor password 稽核 2026', wang: 'clerk password 承辦 2026',
  ops: 'operator password 維運 2026', chen: 'operator password 備份 2026' };
const VAULT = 'main';                                  // the vault made in before()
const BACKUP_FILES = { '公文 第1號.txt': '公文內容：一一五年度第一號。\n', '報告/年度報告.txt': '年度報告：稅收成長。\n',
  'notes.txt': 'plain ASCII notes\n' };

let harness;      // the serve, the browser, the command line (lib.mjs)
let work;         // its scratch directory
let base;         // https://127.0.0.1:PORT/
const ids = {};   // Message-ID → archive id
let opsSecret;    // the operator's TOTP secret (base32)
let dataDir;      // the directory the operator backs up from the vault page
const cli = (args, env) => harness.cli(args, env);
const newPage = (viewport) => harness.newPage(viewport);
const signIn = (page, name, password) => harness.signIn(page, name, password);

// --- the mail imported for the test -----------------------------------------------------

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const word = (s) => `=?UTF-8?B?${b64(s)}?=`;
const MAIL = {
  plain: {
    file: '1-plain.eml', id: 'plain-1@ntbt.gov.tw', subject: '國稅局 課稅公文',
    text: '王小明您好：\n檢送國稅局課稅公文一份，請查照。\n',
  },
  html: { file: '2-html.eml', id: 'html-2@ntbt.gov.tw', subject: '國稅局 年度報告（HTML）' },
  attach: { file: '3-attach.eml', id: 'attach-3@ntbt.gov.tw', subject: '國稅局 附件公文', attachment: '報告.txt',
    attachmentText: '附件內容：一一三年度稅收報告。\n' },
  other: { file: '4-other.eml', id: 'other-4@ntbt.gov.tw', subject: '人事室 會議通知' },
};

function writeMail(dir) {
  const files = {};
  files[MAIL.plain.file] = [
    `From: ${word('鄭國稅')} <cheng@ntbt.gov.tw>`,
    `To: ${word('王小明')} <wang@ntbt.gov.tw>`,
    `Subject: ${word(MAIL.plain.subject)}`,
    `Message-ID: <${MAIL.plain.id}>`,
    'Date: Tue, 02 Jan 2024 09:00:00 +0800',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(MAIL.plain.text),
    '',
  ].join('\r\n');
  const html = '<html><body><p>年度報告內容：<b>稅收</b>成長。</p>'
    + '<script>document.title = "pwned"; window.pwned = 1; try { parent.pwned = 1; } catch (e) {} '
    + 'document.body.setAttribute("data-pwned", "script");</script>'
    + '<img src="x" onerror="document.body.setAttribute(\'data-pwned\', \'onerror\'); document.title = \'pwned\'">'
    + '<img src="http://tracker.example.invalid/pixel.gif?uid=42" alt="tracker">'
    + '<p><a href="https://www.ntbt.gov.tw/">國稅局網站</a></p></body></html>';
  files[MAIL.html.file] = [
    'From: chief@ntbt.gov.tw',
    'To: bob@ntbt.gov.tw',
    `Subject: ${word(MAIL.html.subject)}`,
    `Message-ID: <${MAIL.html.id}>`,
    'Date: Wed, 03 Jan 2024 10:30:00 +0800',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="alt-b"',
    '',
    '--alt-b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64('年度報告內容：稅收成長。\n'),
    '--alt-b',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64(html),
    '--alt-b--',
    '',
  ].join('\r\n');
  files[MAIL.attach.file] = [
    'From: chief@ntbt.gov.tw',
    `To: ${word('王小明')} <wang@ntbt.gov.tw>`,
    `Subject: ${word(MAIL.attach.subject)}`,
    `Message-ID: <${MAIL.attach.id}>`,
    'Date: Thu, 04 Jan 2024 14:15:00 +0800',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mix-b"',
    '',
    '--mix-b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64('請參閱附件報告。\n'),
    '--mix-b',
    `Content-Type: text/plain; charset=utf-8; name="${word(MAIL.attach.attachment)}"`,
    `Content-Disposition: attachment; filename*=UTF-8''${encodeURIComponent(MAIL.attach.attachment)}`,
    'Content-Transfer-Encoding: base64',
    '',
    b64(MAIL.attach.attachmentText),
    '--mix-b--',
    '',
  ].join('\r\n');
  files[MAIL.other.file] = [
    'From: personnel@ntbt.gov.tw',
    'To: staff@ntbt.gov.tw',
    `Subject: ${word(MAIL.other.subject)}`,
    `Message-ID: <${MAIL.other.id}>`,
    'Date: Fri, 05 Jan 2024 08:00:00 +0800',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    b64('下週一召開會議。\n'),
    '',
  ].join('\r\n');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
}

// --- the server -----------------------------------------------------------------------

before(async () => {
  harness = new Harness('console');
  work = harness.work;
  const mailDir = path.join(work, 'mail');
  writeMail(mailDir);

  cli(['archive', 'import', mailDir]);
  const all = JSON.parse(cli(['--json', 'archive', 'search', '', '--limit', '100']));
  for (const hit of all.hits) ids[hit.message_id.replace(/^<|>$/g, '')] = hit.id;
  for (const m of Object.values(MAIL)) assert.ok(ids[m.id], `imported ${m.file} (ids: ${JSON.stringify(ids)})`);

  harness.addAccount('admin', 'admin', PASSWORD.admin, ['--display-name', '系統管理者']);
  harness.addAccount('auditor', 'auditor', PASSWORD.auditor, ['--display-name', '李稽核']);
  harness.addAccount('wang', 'clerk', PASSWORD.wang, ['--agency', 'A15060000H', '--display-name', '王小明']);
  harness.addAccount('ops', 'operator', PASSWORD.ops, ['--display-name', '陳維運']);
  opsSecret = JSON.parse(cli(['console', 'account', 'totp-enable', 'ops', '--json'])).secret;
  // Once the archive has roles it decides what each console account may read (docs/api.md).
  cli(['archive', 'users', 'grant', 'wang', '--role', 'clerk', '--address', 'wang@ntbt.gov.tw']);
  cli(['archive', 'users', 'grant', 'auditor', '--role', 'auditor']);
  cli(['archive', 'users', 'grant', 'admin', '--role', 'admin']);
  harness.addAccount('chen', 'operator', PASSWORD.chen, ['--display-name', '陳備份']);

  // A 2-of-3 vault over local directories (no passphrase), and files to back up from the console.
  const stores = [1, 2, 3].map((i) => ['--store', `file://${path.join(work, 'stores', `s${i}`)}`]).flat();
  cli(['--vault', VAULT, 'vault', 'init', ...stores, '--threshold', '2']);
  dataDir = path.join(work, '備份資料');
  for (const [name, body] of Object.entries(BACKUP_FILES)) {
    fs.mkdirSync(path.dirname(path.join(dataDir, name)), { recursive: true });
    fs.writeFileSync(path.join(dataDir, name), body);
  }
  // something to read for a moment, so that the progress can be seen
  fs.writeFileSync(path.join(dataDir, 'scan.bin'), crypto.randomBytes(16 << 20));

  const [lmtp, smtp] = [await freePort(), await freePort()];
  await harness.serve(['[archive]', `lmtp = "127.0.0.1:${lmtp}"`, `smtp = "127.0.0.1:${smtp}"`]);
  base = harness.base;
  await harness.launch();
});

after(() => harness?.stop());

// --- helpers -----------------------------------------------------------------------------

const subjects = (page) => page.$$eval('.hit-subject a', (as) => as.map((a) => a.textContent.trim()).sort());

async function search(page, query) {
  await page.goto(`${base}#/search`);
  await page.getByLabel('查詢字詞').fill(query);
  await page.getByRole('button', { name: '查詢', exact: true }).click();
  await page.waitForSelector('.hits, .results .error, .result-count:not(:empty)');
  await page.waitForFunction(() => !document.querySelector('.result-count')?.textContent.includes('載入'));
}

// --- the tests -------------------------------------------------------------------------

let auditor; // {context, page} of the auditor, kept across tests

test('sign-in page: zh-Hant-TW, labelled fields, a wrong password is refused with a message', async () => {
  auditor = await newPage();
  const { page } = auditor;
  await page.goto(base);
  await page.waitForSelector('#main form');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hant-TW');
  assert.ok(await page.locator('header').count() && await page.locator('main#main').count(), 'landmarks header and main');
  assert.equal(await page.locator('a.skip-link[href="#main"]').count(), 1, 'a skip link');
  assert.deepEqual(await unlabelled(page), [], 'every control has a label');
  for (const label of ['帳號', '密碼']) assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, label);
  assert.equal(await page.getByLabel(/動態驗證碼/).count(), 1, 'a TOTP field');
  assert.equal(await page.locator('#menu').isVisible(), false, 'no menu before signing in');

  await page.getByLabel('帳號', { exact: true }).fill('auditor');
  await page.getByLabel('密碼', { exact: true }).fill('not the password at all');
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST');
  await page.getByRole('button', { name: '登入' }).click();
  assert.equal((await answer).status(), 401);
  const error = page.locator('#main .error[role="alert"]');
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /帳號、密碼或驗證碼不正確/);
  assert.ok(text.length > '帳號、密碼或驗證碼不正確'.length + 2, `the server's message is shown too: ${text}`);
  assert.match(page.url(), /#\/sign-in$/);
});

test('the auditor signs in: menu has search, the audit log and the vaults, not accounts', async () => {
  const { page } = auditor;
  await signIn(page, 'auditor');
  assert.deepEqual(await menuRoutes(page), ['search', 'retention', 'audit', 'vaults']);
  assert.match(await page.locator('#who').textContent(), /李稽核（稽核人員）/);
  assert.match(page.url(), /#\/search$/);
});

test('keyboard: Tab reaches the search box, typing Chinese and Enter searches', async () => {
  const { page } = auditor;
  await page.reload();
  await page.waitForSelector('input[name="q"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link', 'the first Tab reaches the skip link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.closest('main')?.id), 'main', 'which moves focus into main');
  assert.match(page.url(), /#\/search$/, 'without leaving the page');
  let reached = false;
  for (let i = 0; i < 30 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.name === 'q');
  }
  assert.ok(reached, 'Tab reaches the search box');
  assert.equal(await page.evaluate(() => document.activeElement.labels[0].textContent), '查詢字詞');
  await page.keyboard.type('國稅局');
  const req = page.waitForRequest((r) => r.url().includes('/api/v1/archive/search'));
  await page.keyboard.press('Enter');
  assert.equal(new URL((await req).url()).searchParams.get('q'), '國稅局');
  await page.waitForSelector('.hit');
  assert.deepEqual(await subjects(page), [MAIL.plain.subject, MAIL.html.subject, MAIL.attach.subject].sort());
  const list = await page.locator('.hits').textContent();
  assert.match(list, /民國113年1月2日 09:00（2024-01-02）/, 'dates as 民國 and Gregorian, local time');
  assert.match(list, /cheng@ntbt\.gov\.tw/, 'the sender');
  assert.match(list, /wang@ntbt\.gov\.tw/, 'the recipients');
  assert.match(list, new RegExp(MAIL.attach.attachment.replace('.', '\\.')), 'attachment names');
  assert.match(await page.locator('.result-count').textContent(), /共 3 筆符合/);

  // A result opens from the keyboard: focus its link, Enter.
  await page.locator('.hit-subject a', { hasText: MAIL.plain.subject }).focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('article.message h1');
  assert.equal(await page.locator('article.message h1').textContent(), MAIL.plain.subject);
  assert.match(await page.locator('.mail-text').textContent(), /檢送國稅局課稅公文一份/);
});

test('the filter fields are combined into q', async () => {
  const { page } = auditor;
  await page.goto(`${base}#/search`);
  await page.getByLabel('查詢字詞').fill('國稅局');
  await page.getByLabel('寄件者', { exact: true }).fill('chief');
  await page.getByLabel('日期起（含）').fill('2024-01-03');
  await page.getByLabel('僅含附件者').check();
  const req = page.waitForRequest((r) => r.url().includes('/api/v1/archive/search'));
  await page.getByRole('button', { name: '查詢', exact: true }).click();
  const q = new URL((await req).url()).searchParams.get('q');
  assert.equal(q, '國稅局 from:chief after:2024-01-03 has:attachment');
  await page.waitForSelector('.hit, .result-count');
  await page.waitForFunction(() => !document.querySelector('.result-count')?.textContent.includes('載入'));
  assert.deepEqual(await subjects(page), [MAIL.attach.subject]);
});

test('the HTML message: sandboxed frame, no script ran, nothing remote loaded, the blocked note shown', async () => {
  const { page } = auditor;
  await search(page, '國稅局');
  await page.locator('.hit-subject a', { hasText: MAIL.html.subject }).click();
  await page.waitForSelector('article.message h1');
  assert.equal(await page.locator('article.message h1').textContent(), MAIL.html.subject);
  const frameEl = page.locator('iframe.mail-html');
  assert.equal(await frameEl.getAttribute('sandbox'), '', 'an empty sandbox: no scripts, no same origin');
  const srcdoc = await frameEl.getAttribute('srcdoc');
  assert.ok(srcdoc && srcdoc.includes('年度報告內容'), 'the HTML is in srcdoc');
  assert.doesNotMatch(srcdoc, /<script|onerror|tracker\.example/i, 'the server sanitised the HTML');
  const frame = page.frameLocator('iframe.mail-html');
  await frame.locator('body').waitFor();
  assert.match(await frame.locator('body').textContent(), /年度報告內容/);
  await page.waitForTimeout(300); // give any script or load a chance to happen
  assert.equal(await frame.locator('body').getAttribute('data-pwned'), null, 'no script or handler ran in the frame');
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'no script reached the page');
  assert.doesNotMatch(await page.title(), /pwned/);
  assert.equal(await frame.locator('img[src^="http"]').count(), 0, 'no remote image in the frame');
  const note = await page.locator('.notice.blocked').textContent();
  const n = Number(note.match(/已封鎖 (\d+) 個遠端內容/)?.[1]);
  assert.ok(n >= 1, `the note says how many remote items were blocked: ${note}`);
  assert.deepEqual(harness.external, [], 'no request left 127.0.0.1');
});

test('the EML download is the message as it was received', async () => {
  const { page } = auditor;
  const id = ids[MAIL.html.id];
  await page.goto(`${base}#/message/${id}`);
  const link = page.locator('a[data-kind="eml"]');
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), `message-${id}.eml`);
  const got = fs.readFileSync(await download.path());
  const want = fs.readFileSync(path.join(work, 'mail', MAIL.html.file));
  assert.ok(got.equals(want), `the EML matches the imported file (${got.length} vs ${want.length} bytes)`);
});

test('an attachment downloads under its name with its content', async () => {
  const { page } = auditor;
  await page.goto(`${base}#/message/${ids[MAIL.attach.id]}`);
  const link = page.locator('a[data-kind="attachment"]');
  await link.waitFor();
  assert.match(await link.textContent(), new RegExp(MAIL.attach.attachment.replace('.', '\\.')));
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), MAIL.attach.attachment);
  assert.equal(fs.readFileSync(await download.path(), 'utf8'), MAIL.attach.attachmentText);
});

test('the audit log shows the console search by console:auditor, and the chain holds', async () => {
  const { page } = auditor;
  await page.goto(`${base}#/audit`);
  await page.waitForSelector('table.responsive, #main .error');
  const rows = await page.$$eval('table.responsive tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.ok(rows.some((r) => r[2] === 'console:auditor' && r[3] === 'archive.search' && r[4].includes('國稅局')),
    `a search by console:auditor for 國稅局 among ${rows.length} rows: ${JSON.stringify(rows.slice(0, 5))}`);
  assert.match(await page.locator('.chain').getAttribute('class'), /\bok\b/);
  assert.match(await page.locator('.chain').textContent(), /雜湊鏈完整/);
});

test('English as a second language, remembered across reloads', async () => {
  const { page } = auditor;
  await page.goto(`${base}#/search`);
  await page.getByRole('button', { name: 'Switch to English' }).click();
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  assert.equal(await page.locator('#menu a[data-route="search"]').textContent(), 'Mail search');
  await page.reload();
  await page.waitForSelector('#menu a[data-route="search"]');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('h1').textContent(), 'Mail search');
  assert.equal(await page.getByLabel('Search terms').count(), 1);
  await page.locator('#lang-switch').click();
  await page.waitForFunction(() => document.documentElement.lang === 'zh-Hant-TW');
  assert.equal(await page.locator('h1').textContent(), '郵件查詢');
});

test('an ended session (401) leads to sign-in with a note, and back to the page after', async () => {
  const { context, page } = auditor;
  await page.goto(`${base}#/search`);
  await page.waitForSelector('#menu a[data-route="audit"]');
  await context.clearCookies();
  await page.locator('#menu a[data-route="audit"]').click();
  await page.waitForSelector('#main form input[name="name"]');
  assert.match(page.url(), /#\/sign-in$/);
  assert.match(await page.locator('#main .notice').textContent(), /工作階段已結束/);
  await page.getByLabel('帳號', { exact: true }).fill('auditor');
  await page.getByLabel('密碼', { exact: true }).fill(PASSWORD.auditor);
  await page.getByRole('button', { name: '登入' }).click();
  await page.waitForSelector('table.responsive, .chain');
  assert.match(page.url(), /#\/audit$/, 'back where the session ended');
});

test('sign-out sends the CSRF token and ends the session', async () => {
  const { page } = auditor;
  const csrf = await page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).csrf);
  assert.match(csrf, /^[0-9a-f]{64}$/);
  const req = page.waitForRequest((r) => r.url().endsWith('/api/v1/session') && r.method() === 'DELETE');
  await page.getByRole('button', { name: '登出' }).click();
  assert.equal((await req).headers()['x-csrf-token'], csrf);
  await page.waitForSelector('#main form input[name="name"]');
  assert.equal(await page.evaluate(async () => (await fetch('/api/v1/session')).status), 401);
  assert.equal(await page.locator('#menu').isVisible(), false);
  await auditor.context.close();
});

test('the clerk sees only their own mail, and no audit log', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page, 'wang');
    assert.deepEqual(await menuRoutes(page), ['search']);
    await search(page, '國稅局');
    assert.deepEqual(await subjects(page), [MAIL.plain.subject, MAIL.attach.subject].sort());
    await page.goto(`${base}#/message/${ids[MAIL.html.id]}`);
    await page.waitForSelector('#main .error');
    assert.match(await page.locator('#main .error').textContent(), /找不到資料|沒有權限/);
    await page.goto(`${base}#/audit`);
    await page.waitForSelector('#main .error');
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/audit')).status), 403, 'the server refuses the audit log too');
    await page.goto(`${base}#/vault/${VAULT}`);
    await page.waitForSelector('#main .error');
    assert.equal(await page.locator('form.vault-action').count(), 0, 'no vault forms for a clerk');
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/vaults')).status), 403, 'the server refuses the vaults too');
  } finally {
    await context.close();
  }
});

test('the admin: menu has the vaults and accounts, which lists the five', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page, 'admin');
    assert.deepEqual(await menuRoutes(page), ['search', 'retention', 'audit', 'vaults', 'accounts']);
    await page.locator('#menu a[data-route="accounts"]').click();
    await page.waitForSelector('table.responsive tbody tr');
    const names = await page.$$eval('table.responsive tbody tr', (trs) => trs.map((tr) => tr.cells[0].textContent).sort());
    assert.deepEqual(names, ['admin', 'auditor', 'chen', 'ops', 'wang']);
    assert.match(await page.locator('table.responsive').textContent(), /王小明/);
  } finally {
    await context.close();
  }
});

test('a TOTP account: refused without the code, signed in with it; an operator has the vaults but no mail pages', async () => {
  const { context, page } = await newPage();
  try {
    await page.goto(base);
    await page.getByLabel('帳號', { exact: true }).fill('ops');
    await page.getByLabel('密碼', { exact: true }).fill(PASSWORD.ops);
    await page.getByRole('button', { name: '登入' }).click();
    await page.locator('#main .error').waitFor();
    await page.getByLabel('密碼', { exact: true }).fill(PASSWORD.ops);
    await page.getByLabel(/動態驗證碼/).fill(totp(opsSecret));
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST');
    await page.getByRole('button', { name: '登入' }).click();
    assert.equal((await answer).status(), 200);
    await page.waitForSelector('#sign-out:not([hidden])');
    assert.deepEqual(await menuRoutes(page), ['vaults']);
    await page.waitForSelector('section.vault');
    assert.match(page.url(), /#\/vaults$/, 'the vaults are the operator\'s first page');
    await page.goto(`${base}#/search`);
    await page.waitForSelector('#main .error');
  } finally {
    await context.close();
  }
});

// --- the vault pages ---------------------------------------------------------------------

// Records every state and text the job's progress region shows, from now on.
async function watchProgress(page) {
  await page.evaluate(() => {
    window.seen = [];
    const region = document.getElementById('job-status');
    const note = () => window.seen.push([region.dataset.state || '', region.textContent]);
    new MutationObserver(note).observe(region, { childList: true, subtree: true, characterData: true, attributes: true });
  });
}
const submitButtons = (page) => page.$$eval('form.vault-action button[type="submit"]', (bs) => bs.map((b) => b.disabled));
const drillsThisYear = async (page) => Number(await page.locator('#main .kpi-drills').first().getAttribute('data-n'));

test('the operator: the vaults page, a backup with live progress, a drill with a store lost, one that cannot pass', async (t) => {
  const { context, page } = await newPage();
  try {
    await signIn(page, 'chen');
    assert.deepEqual(await menuRoutes(page), ['vaults']);
    await page.waitForSelector('section.vault');
    const card = page.locator(`section.vault[data-vault="${VAULT}"]`);
    const facts = await card.locator('.vault-facts').textContent();
    assert.match(facts, /2\/3/, `k-of-n shown: ${facts}`);
    assert.equal(await card.locator('.snapshot-count').textContent(), '0');
    assert.equal(await card.locator('tbody tr').count(), 3, 'three stores');
    assert.equal(await card.locator('tbody .result.ok').count(), 3, 'all three stores ok');
    const before = await drillsThisYear(page);
    assert.equal(before, 0);

    await card.locator('h2 a').click();
    await page.waitForSelector('#vault-snapshots');
    assert.equal(await page.locator('h1').textContent(), `備份庫：${VAULT}`);
    assert.match(await page.locator('#vault-snapshots').textContent(), /尚無快照/);
    assert.equal(await page.locator('#job-status').getAttribute('aria-live'), 'polite');
    assert.deepEqual(await unlabelled(page), [], 'every control has a label');

    // Back up now: the paths, the POST with the CSRF token, progress, then the snapshot.
    await page.getByLabel('要備份的路徑（每行一個）').fill(`${dataDir}\n`);
    await watchProgress(page);
    const csrf = await page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).csrf);
    const post = page.waitForRequest((r) => r.url().endsWith(`/api/v1/vaults/${VAULT}/backups`) && r.method() === 'POST');
    const polls = [];
    page.on('request', (r) => { if (r.url().includes('/api/v1/jobs/')) polls.push(Date.now()); });
    await page.getByRole('button', { name: '立即備份' }).click();
    const req = await post;
    assert.equal(req.headers()['x-csrf-token'], csrf, 'the CSRF header');
    assert.deepEqual(req.postDataJSON(), { paths: [dataDir] });
    assert.deepEqual(await submitButtons(page), [true, true], 'both buttons disabled while the job runs');
    await page.waitForSelector('#job-status[data-state="done"], #job-status[data-state="failed"], #job-status[data-state="error"]', { timeout: 30_000 });
    const done = await page.locator('#job-status').textContent();
    assert.equal(await page.locator('#job-status').getAttribute('data-state'), 'done', done);
    const seen = await page.evaluate(() => window.seen);
    assert.ok(seen.some(([st, text]) => (st === 'running' && /備份進行中：已讀取 \d+ 個檔案/.test(text)) || st === 'starting'),
      `progress shown before the end: ${JSON.stringify(seen)}`);
    assert.ok(polls.length >= 1, 'the job was polled');
    t.diagnostic(`backup progress seen: ${JSON.stringify(seen.map(([st, text]) => `${st}: ${text}`).filter((x, i, all) => all.indexOf(x) === i))}; ${polls.length} polls`);
    const shortId = done.match(/備份完成：快照 ([0-9a-f]+)，(\d+) 個檔案/);
    assert.ok(shortId, `the result names the snapshot: ${done}`);
    assert.equal(Number(shortId[2]), Object.keys(BACKUP_FILES).length + 1, 'every file backed up');
    assert.deepEqual(await submitButtons(page), [false, false], 'buttons enabled again');
    await page.waitForFunction((id) => document.getElementById('vault-snapshots').textContent.includes(id), shortId[1]);
    const row = await page.$$eval('#vault-snapshots tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.equal(row.length, 1, 'one snapshot listed');
    assert.equal(row[0][1], shortId[1]);
    assert.ok(row[0][4].includes(dataDir), `the paths: ${row[0][4]}`);
    assert.match(row[0][0], /民國\d+年\d+月\d+日 \d\d:\d\d（\d{4}-\d\d-\d\d）/);
    assert.equal(await page.locator('.vault-summary .snapshot-count').textContent(), '1');

    // A drill with store 1 treated as lost, from the keyboard.
    await watchProgress(page);
    const drillPost = page.waitForRequest((r) => r.url().endsWith(`/api/v1/vaults/${VAULT}/drills`) && r.method() === 'POST');
    await page.getByLabel(/^第 1 個：file:/).focus();
    await page.keyboard.press('Space');
    assert.ok(await page.getByLabel(/^第 1 個：file:/).isChecked());
    let reached = false;
    for (let i = 0; i < 5 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.textContent === '執行還原演練');
    }
    assert.ok(reached, 'Tab reaches the drill button');
    await page.keyboard.press('Enter');
    const dreq = await drillPost;
    assert.equal(dreq.headers()['x-csrf-token'], csrf);
    assert.deepEqual(dreq.postDataJSON(), { lose: [1] });
    await page.waitForSelector('#job-status[data-state="done"], #job-status[data-state="failed"], #job-status[data-state="error"]', { timeout: 30_000 });
    const drillDone = await page.locator('#job-status').textContent();
    assert.equal(await page.locator('#job-status').getAttribute('data-state'), 'done', drillDone);
    assert.match(drillDone, /還原演練通過：RTO [\d.]+ 秒，RPO .+，驗證 \d+ 個檔案/);
    await page.waitForSelector('#vault-drills tbody tr');
    const drills = await page.$$eval('#vault-drills tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.equal(drills.length, 1);
    assert.equal(drills[0][1], '通過');
    assert.match(drills[0][2], /\d/, 'RTO shown');
    assert.match(drills[0][3], /\d/, 'RPO shown');
    assert.equal(drills[0][5], '1', 'store 1 was treated as lost');
    assert.equal(await drillsThisYear(page), before + 1, 'the yearly count went up');
    assert.match(await page.locator('.vault-summary .last-drill').textContent(), /通過/);

    // Losing two of three stores: the drill cannot pass, and says why; the count stays.
    await page.getByLabel(/^第 2 個：file:/).check();
    await watchProgress(page);
    await page.getByRole('button', { name: '執行還原演練' }).click();
    await page.waitForSelector('#job-status[data-state="done"], #job-status[data-state="failed"], #job-status[data-state="error"]', { timeout: 30_000 });
    const failed = await page.locator('#job-status').textContent();
    assert.equal(await page.locator('#job-status').getAttribute('data-state'), 'failed', failed);
    assert.match(failed, /^(還原演練未通過|工作失敗)：.{10,}/, `the server's reason is shown: ${failed}`);
    t.diagnostic(`a drill losing stores 1 and 2: ${failed}`);
    await page.waitForFunction(() => document.querySelectorAll('#vault-drills tbody tr').length === 2);
    assert.equal(await page.locator('#vault-drills tbody tr').first().locator('td').nth(1).textContent(), '未通過');
    assert.equal(await drillsThisYear(page), before + 1, 'a failed drill is not counted');
    assert.match(await page.locator('#vault-drills .per-year').textContent(), /通過 1 次，未通過 1 次/);
    assert.deepEqual(await submitButtons(page), [false, false]);

    // The list page says so too.
    await page.locator('#menu a[data-route="vaults"]').click();
    await page.waitForSelector('section.vault');
    assert.equal(await drillsThisYear(page), before + 1);
    assert.match(await page.locator('section.vault .last-drill').textContent(), /未通過.*RTO .*RPO /, 'the last drill is the failed one');
  } finally {
    await context.close();
  }
});

test('the auditor reads the vault page without its forms; POST is refused; English too', async () => {
  const { context, page } = await newPage();
  try {
    await signIn(page, 'auditor');
    await page.goto(`${base}#/vault/${VAULT}`);
    await page.waitForSelector('#vault-snapshots tbody tr');
    assert.equal(await page.locator('form.vault-action').count(), 0, 'no forms');
    assert.equal(await page.locator('#job-status').count(), 0, 'no job region');
    assert.equal(await page.locator('#vault-drills tbody tr').count(), 2);
    assert.equal(await page.locator('#menu a[aria-current="page"]').getAttribute('data-route'), 'vaults');
    const status = await page.evaluate(async (v) => {
      const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
      const r = await fetch(`/api/v1/vaults/${v}/drills`, { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: '{}' });
      return r.status;
    }, VAULT);
    assert.equal(status, 403, 'the server refuses an auditor\'s drill');
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    assert.equal(await page.locator('h1').textContent(), `Vault: ${VAULT}`);
    assert.deepEqual(await page.$$eval('#vault-drills tbody tr', (trs) => trs.map((tr) => tr.cells[1].textContent)), ['Failed', 'Passed']);
    await page.locator('#lang-switch').click();
    await page.waitForFunction(() => document.documentElement.lang === 'zh-Hant-TW');
  } finally {
    await context.close();
  }
});

test('every page at 1280×800 and 390×844: screenshots, labelled controls, no horizontal overflow', async () => {
  const problems = [];
  for (const viewport of VIEWPORTS) {
    const { context, page } = await newPage(viewport);
    try {
      const check = async (name) => {
        await page.evaluate(() => document.fonts.ready);
        await shoot(page, name, viewport);
        for (const p of await layoutProblems(page)) problems.push(`${name} ${viewport.width}×${viewport.height}: ${p}`);
        for (const p of await unlabelled(page)) problems.push(`${name} ${viewport.width}×${viewport.height}: unlabelled ${p}`);
      };
      await page.goto(base);
      await page.waitForSelector('#main form input[name="name"]');
      await check('sign-in');
      await signIn(page, 'admin');
      await search(page, '國稅局');
      await page.waitForSelector('.hit');
      await check('search');
      await page.goto(`${base}#/message/${ids[MAIL.html.id]}`);
      await page.waitForSelector('article.message iframe');
      await page.frameLocator('iframe.mail-html').locator('body').waitFor();
      await check('message-html');
      await page.goto(`${base}#/message/${ids[MAIL.attach.id]}`);
      await page.waitForSelector(`article.message h1:text("${MAIL.attach.subject}")`);
      await check('message-attachment');
      await page.goto(`${base}#/audit`);
      await page.waitForSelector('table.responsive');
      await check('audit');
      await page.goto(`${base}#/accounts`);
      await page.waitForSelector('table.responsive');
      await check('accounts');
      await page.goto(`${base}#/vaults`);
      await page.waitForSelector('section.vault table.responsive');
      await check('vaults');
      await page.goto(`${base}#/vault/${VAULT}`);
      await page.waitForSelector('#vault-drills table.responsive');
      await check('vault');
    } finally {
      await context.close();
    }
  }
  assert.deepEqual(problems, []);
});

test('no Content-Security-Policy violation or script error on the console\'s pages; nothing left 127.0.0.1', () => {
  assert.deepEqual(harness.cspViolations, []);
  assert.deepEqual(harness.external, []);
});
