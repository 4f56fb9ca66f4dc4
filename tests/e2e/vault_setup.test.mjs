// Browser tests of setting up vaults and their schedules (web/pages/vault_setup.js): an
// operator makes a 2-of-3 vault over three local directories with the wizard (a wrong k is
// refused at its field first), lands on its page, sets a backup schedule due in the next
// minute (Asia/Taipei) that the real `tessera serve` runs, so a snapshot appears on the
// page; the scheduled backup run now; an auditor sees the schedule but no wizard and no
// form. Screenshots of the wizard and the schedule section at both viewports, with the
// layout and label checks. Run: tests/e2e/run.sh, or TESSERA_BIN=… node --test
// vault_setup.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, VIEWPORTS, unlabelled, layoutProblems, shoot } from './lib.mjs';

const PASSWORD = { chen: 'operator password 備份 2026', li: 'auditor password 稽核 2026' };
const VAULT = 'gongwen-115';
let harness;
let base;
let dataDir;
let storeDirs;

before(async () => {
  harness = new Harness('vault-setup');
  harness.addAccount('chen', 'operator', PASSWORD.chen, ['--display-name', '陳備份']);
  harness.addAccount('li', 'auditor', PASSWORD.li, ['--display-name', '李稽核']);
  dataDir = path.join(harness.work, '公文資料');
  fs.mkdirSync(path.join(dataDir, '函稿'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, '公文 第1號.txt'), '主旨：一一五年度預算案，請查照。\n');
  fs.writeFileSync(path.join(dataDir, '函稿', '第2號.txt'), '說明：檢送會議紀錄一份。\n');
  storeDirs = [1, 2, 3].map((i) => path.join(harness.work, '儲存', `store${i}`));
  fs.mkdirSync(storeDirs[1], { recursive: true }); // store 2 exists (empty); the others are made
  await harness.serve();
  base = harness.base;
  await harness.launch();
});

after(() => harness?.stop());

// The next whole minute in Taiwan time at least 20 s away, as HH:MM, and the ISO weekday.
function soonInTaipei() {
  const at = new Date(Date.now() + 20_000 + 60_000);
  at.setUTCSeconds(0, 0);
  const local = new Date(at.getTime() + 8 * 3600_000);
  const hhmm = `${String(local.getUTCHours()).padStart(2, '0')}:${String(local.getUTCMinutes()).padStart(2, '0')}`;
  return { at, hhmm, weekday: ((local.getUTCDay() + 6) % 7) + 1 };
}

async function fillWizard(page, k) {
  await page.getByLabel('備份庫名稱', { exact: true }).fill(VAULT);
  const paths = page.getByLabel('目錄路徑', { exact: true });
  assert.equal(await paths.count(), 3, 'three store rows to start with');
  for (let i = 0; i < 3; i++) await paths.nth(i).fill(storeDirs[i]);
  await page.getByLabel('還原所需的儲存位置數（k）', { exact: true }).fill(String(k));
}

test('the operator makes a 2-of-3 vault with the wizard: stores checked, a wrong k refused at its field, then its page', async () => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'chen');
    await page.waitForSelector('#main h1');
    assert.match(await page.locator('#main').textContent(), /尚未設定備份庫/);
    await page.getByRole('link', { name: '新增備份庫' }).click();
    await page.waitForSelector('form.vault-wizard');
    assert.match(page.url(), /#\/vault-new$/);

    const posts = [];
    page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/vaults')) posts.push(r.url()); });
    await fillWizard(page, 4);
    // The sentence says what k of n means, and that 4 of 3 cannot be.
    assert.match(await page.locator('.k-explain').textContent(), /k 須介於 1 與 3 之間/);
    await page.getByRole('button', { name: '建立備份庫' }).click();
    const kField = page.getByLabel('還原所需的儲存位置數（k）', { exact: true });
    await page.waitForSelector('.field-error');
    assert.equal(await page.locator('.field-error').count(), 1, 'one field marked: the first problem');
    assert.equal(await page.locator('.field-error').textContent(), 'k 不可大於儲存位置的數目（3）。');
    assert.equal(await kField.getAttribute('aria-invalid'), 'true');
    assert.match(await kField.getAttribute('aria-describedby'), /-error/);
    assert.equal(await page.evaluate(() => document.activeElement?.name), 'k', 'the focus is on k');
    assert.deepEqual(posts, [], 'nothing was sent');

    await kField.fill('2');
    assert.equal(await page.locator('.k-explain').textContent(),
      '共 3 個儲存位置：任何 2 個即可還原全部資料；少於 2 個則無法得知任何內容。最多可同時失去 1 個。');

    // 測試連線 per store: store 1 is not there yet, store 2 is there and empty.
    const checks = page.locator('.store-row');
    await checks.nth(0).getByRole('button', { name: '測試儲存位置 1 的連線' }).click();
    await page.waitForFunction(() => document.querySelector('.store-row .store-check')?.dataset.state === 'ok');
    assert.match(await checks.nth(0).locator('.store-check').textContent(), /目錄尚不存在，建立備份庫時會建立/);
    await checks.nth(1).getByRole('button', { name: '測試儲存位置 2 的連線' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.store-row .store-check')[1]?.dataset.state === 'ok');
    assert.match(await checks.nth(1).locator('.store-check').textContent(), /可連線、可寫入，目前是空的/);

    await page.getByRole('button', { name: '建立備份庫' }).click();
    await page.waitForFunction((v) => location.hash === `#/vault/${v}`, VAULT);
    await page.waitForSelector('#vault-snapshots');
    assert.match(await page.locator('#main h1').textContent(), new RegExp(VAULT));
    assert.match(await page.locator('.vault-summary .k-of-n').textContent(), /^2\/3/);
    assert.equal(await page.locator('.vault-summary .result.ok').count(), 3, 'three healthy stores');
    for (const d of storeDirs) assert.ok(fs.existsSync(path.join(d, 'tessera-vault.json')), `${d} holds the vault's descriptor`);
    assert.equal(posts.length, 1);
    // The same name again is refused by the server, shown at the name.
    await page.goto(`${base}#/vault-new`);
    await page.waitForSelector('form.vault-wizard');
    await page.getByLabel('備份庫名稱', { exact: true }).fill(VAULT);
    const paths = page.getByLabel('目錄路徑', { exact: true });
    for (let i = 0; i < 3; i++) await paths.nth(i).fill(path.join(harness.work, '儲存', `other${i}`));
    await page.getByRole('button', { name: '建立備份庫' }).click();
    await page.waitForSelector('.wizard-status .error');
    assert.match(await page.locator(".wizard-status .error").textContent(), /already set up on this server/);
    assert.match(await page.locator('.wizard-status .error').textContent(), new RegExp(VAULT));
  } finally {
    await context.close();
  }
});

test('the operator sets a backup schedule due in the next minute: serve runs it and the snapshot appears on the page', async () => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'chen');
    await page.goto(`${base}#/vault/${VAULT}`);
    await page.waitForSelector('form.schedule-form');
    assert.match(await page.locator('.schedule-facts').textContent(), /備份排程未設定/);
    assert.match(await page.locator('#vault-snapshots').textContent(), /尚無快照/);
    const soon = soonInTaipei();
    const form = page.locator('form.schedule-form');
    await form.getByLabel('定期備份', { exact: true }).check();
    const dayNames = ['一', '二', '三', '四', '五', '六', '日'];
    await form.getByLabel(`星期${dayNames[soon.weekday - 1]}`, { exact: true }).check();
    await form.locator('input[name="backup-time"]').fill(soon.hhmm);
    await form.getByLabel('排程備份的路徑（每行一個）', { exact: true }).fill(dataDir);
    // A wrong time is refused at its field first.
    await form.locator('input[name="backup-time"]').fill('25:00');
    await form.getByRole('button', { name: '儲存排程' }).click();
    await page.waitForSelector('form.schedule-form .field-error');
    assert.equal(await form.locator('.field-error').textContent(), '請輸入 HH:MM 格式的時間。');
    await form.locator('input[name="backup-time"]').fill(soon.hhmm);
    await form.getByRole('button', { name: '儲存排程' }).click();
    await page.waitForFunction(() => /排程已儲存/.test(document.querySelector('.schedule-status')?.textContent || ''));
    // The next run, 民國 and Gregorian, at the chosen minute.
    const next = page.locator('.schedule-facts time.next-backup');
    assert.equal(new Date(await next.getAttribute('datetime')).getTime(), soon.at.getTime());
    const roc = soon.at.getUTCFullYear() - 1911;
    assert.match(await next.textContent(), new RegExp(`民國${roc}年.*${soon.hhmm}（${soon.at.getUTCFullYear()}-`));
    assert.match(await page.locator('.schedule-facts').textContent(), new RegExp(`每週${dayNames[soon.weekday - 1]} ${soon.hhmm} 備份 ${dataDir}`));
    assert.match(await page.locator('.last-backup').textContent(), /尚未執行/);

    // serve starts it at that minute; the page shows the snapshot once it is made.
    const deadline = soon.at.getTime() + 90_000;
    let done = false;
    while (Date.now() < deadline) {
      await page.waitForTimeout(3000);
      await page.reload();
      await page.waitForSelector('.schedule-facts');
      const outcome = await page.locator('.last-backup [data-outcome]').getAttribute('data-outcome').catch(() => null);
      if (outcome === 'done' && await page.locator('#vault-snapshots tbody tr').count() === 1) { done = true; break; }
      assert.notEqual(outcome, 'failed', await page.locator('.last-backup').textContent());
    }
    assert.ok(done, 'the scheduled backup ran and its snapshot is listed');
    assert.ok(Date.now() >= soon.at.getTime(), 'not before its time');
    const row = await page.$$eval('#vault-snapshots tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.equal(row[0][2], '2', 'two files backed up');
    assert.match(row[0][4], new RegExp(dataDir));
    assert.match(await page.locator('.last-backup').textContent(), /完成（工作 [0-9a-f]+）/);
    // The next one is a week on.
    assert.equal(new Date(await page.locator('time.next-backup').getAttribute('datetime')).getTime(), soon.at.getTime() + 7 * 86400_000);

    // 立即執行一次排程備份: a second snapshot, shown when the job ends.
    await page.getByRole('button', { name: '立即執行一次排程備份' }).click();
    await page.waitForFunction(() => document.querySelectorAll('#vault-snapshots tbody tr').length === 2, null, { timeout: 60_000 });
  } finally {
    await context.close();
  }
});

test('the auditor sees the schedule, no wizard link, no form; the server refuses the changes too', async () => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'li');
    await page.goto(`${base}#/vaults`);
    await page.waitForSelector('section.vault');
    assert.equal(await page.getByRole('link', { name: '新增備份庫' }).count(), 0, 'no wizard link');
    await page.goto(`${base}#/vault/${VAULT}`);
    await page.waitForSelector('.schedule-facts');
    assert.equal(await page.locator('form.schedule-form').count(), 0, 'no schedule form');
    assert.equal(await page.locator('.run-now button').count(), 0, 'no run-now buttons');
    assert.match(await page.locator('.last-backup').textContent(), /完成/);
    assert.ok(await page.locator('time.next-backup').count(), 'the next run is shown');
    await page.goto(`${base}#/vault-new`);
    await page.waitForSelector('#main h1');
    assert.equal(await page.locator('form.vault-wizard').count(), 0, 'no wizard for an auditor');
    const statuses = await page.evaluate(async (v) => {
      const s = await (await fetch('/api/v1/session')).json();
      const headers = { 'X-CSRF-Token': s.csrf, 'Content-Type': 'application/json' };
      const put = await fetch(`/api/v1/vaults/${v}/schedule`, { method: 'PUT', headers, body: '{"backup": null}' });
      const make = await fetch('/api/v1/vaults', { method: 'POST', headers, body: '{"name": "x", "k": 1, "stores": []}' });
      return [put.status, make.status];
    }, VAULT);
    assert.deepEqual(statuses, [403, 403]);
  } finally {
    await context.close();
  }
});

test('screenshots of the wizard (file and S3 stores) and the schedule section at both sizes: labelled, nothing overflowing', async () => {
  const problems = [];
  for (const viewport of VIEWPORTS) {
    const { context, page } = await harness.newPage(viewport);
    try {
      const check = async (name) => {
        await page.evaluate(() => document.fonts.ready);
        await shoot(page, name, viewport);
        for (const p of await layoutProblems(page)) problems.push(`${name} ${viewport.width}×${viewport.height}: ${p}`);
        for (const p of await unlabelled(page)) problems.push(`${name} ${viewport.width}×${viewport.height}: unlabelled ${p}`);
      };
      await harness.signIn(page, 'chen');
      await page.goto(`${base}#/vaults`);
      await page.waitForSelector('section.vault');
      await page.goto(`${base}#/vault-new`);
      await page.waitForSelector('form.vault-wizard');
      await page.locator('.store-row').nth(2).getByLabel('種類', { exact: true }).selectOption('s3');
      await page.locator('.store-row').nth(2).getByLabel('儲存桶（bucket）', { exact: true }).fill('gongwen-backup');
      await page.getByLabel('以通行密語保護伺服器上的金鑰檔', { exact: true }).check();
      await page.getByLabel('還原所需的儲存位置數（k）', { exact: true }).fill('5');
      await page.getByRole('button', { name: '建立備份庫' }).click();
      await page.waitForSelector('.field-error');
      await check('vault-wizard');
      await page.goto(`${base}#/vault/${VAULT}`);
      await page.waitForSelector('form.schedule-form');
      await page.locator('section.vault-schedule').scrollIntoViewIfNeeded();
      await check('vault-schedule');
    } finally {
      await context.close();
    }
  }
  assert.deepEqual(problems, []);
});

test('no Content-Security-Policy violation or script error; nothing left 127.0.0.1', () => {
  assert.deepEqual(harness.cspViolations, []);
  assert.deepEqual(harness.external, []);
});
