// Restoring from a vault in the console: a 2-of-3 vault over local directories made and
// backed up with the command line (Chinese names in subdirectories); in Chromium an operator
// browses the newest snapshot, restores two chosen files (one in a subdirectory) into a new
// directory, then the whole snapshot into another, each compared byte for byte with the
// source; a non-empty directory is refused with the server's reason; the progress shows its
// totals; an auditor sees no restore form. The tessera.toml [s3] profiles reach the console's
// vault stores. Screenshots of the vault page with the restore section at both viewports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Harness, freePort, unlabelled, layoutProblems, shoot, VIEWPORTS } from './lib.mjs';

const VAULT = 'main';
const PASSWORD = { chen: '陳的備份密碼 2026!', li: '李的稽核密碼 2026!' };
// The files backed up: Chinese names, two levels of subdirectories, one larger file.
const FILES = {
  '說明.txt': '本目錄存放本局公文與人事資料。\n',
  '公文/函-1140001.txt': '主旨：請查照。\n說明：依據本局規定辦理。\n',
  '公文/附件/簽呈.txt': '簽呈：擬准予備查，敬請核示。\n',
  '公文/附件/會議紀錄.txt': '會議紀錄（不要還原）\n',
  '人事/名冊.csv': '姓名,職稱\n王小明,科員\n李小華,科長\n',
};
const BIG = '檔案/大型掃描.bin';
const CHOSEN = ['說明.txt', '公文/附件/簽呈.txt'];

const harness = new Harness('vault-restore');
let dataDir;     // what was backed up
let snapshotId;  // its snapshot, by the command line

before(async () => {
  const work = harness.work;
  const stores = [1, 2, 3].map((i) => ['--store', `file://${path.join(work, 'stores', `s${i}`)}`]).flat();
  harness.cli(['--vault', VAULT, 'vault', 'init', ...stores, '--threshold', '2']);
  dataDir = path.join(work, '機關資料');
  for (const [name, body] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(dataDir, name)), { recursive: true });
    fs.writeFileSync(path.join(dataDir, name), body);
  }
  fs.mkdirSync(path.join(dataDir, path.dirname(BIG)), { recursive: true });
  fs.writeFileSync(path.join(dataDir, BIG), crypto.randomBytes(24 << 20));
  harness.cli(['--vault', VAULT, 'vault', 'backup', dataDir]);
  const snaps = JSON.parse(harness.cli(['--vault', VAULT, '--json', 'vault', 'snapshots']));
  assert.equal(snaps.length, 1);
  snapshotId = snaps[0].id;

  // A second vault whose third store is an S3 bucket named through a profile of the server's
  // settings file: only `tessera serve` passing its store options lets the console use it.
  harness.cli(['--vault', 'remote', 'vault', 'init',
    ...[1, 2, 3].map((i) => ['--store', `file://${path.join(work, 'remote', `s${i}`)}`]).flat(), '--threshold', '2']);
  const config = path.join(harness.home, 'vaults', 'remote', 'vault.json');
  const c = JSON.parse(fs.readFileSync(config, 'utf8'));
  c.stores[2] = 's3://tessera-e2e/remote?profile=nas';
  fs.writeFileSync(config, JSON.stringify(c));

  harness.addAccount('chen', 'operator', PASSWORD.chen, ['--display-name', '陳維運']);
  harness.addAccount('li', 'auditor', PASSWORD.li, ['--display-name', '李稽核']);
  // The archive's listeners on free ports: the default ones may be taken by another run.
  const [lmtp, smtp] = [await freePort(), await freePort()];
  await harness.serve(['[archive]', `lmtp = "127.0.0.1:${lmtp}"`, `smtp = "127.0.0.1:${smtp}"`, '', '[s3.profiles.nas]', 'endpoint = "http://127.0.0.1:9"',
    'access_key = "AKIDEXAMPLE"', 'secret_key = "e2e-not-a-secret"']);
  await harness.launch();
});

after(() => harness.stop());

// --- helpers -----------------------------------------------------------------------------

const restored = (target, name) => path.join(target, dataDir, name);

// Every file under dir, relative, sorted.
function filesUnder(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

async function openVault(page) {
  await page.goto(`${harness.base}#/vault/${VAULT}`);
  await page.waitForSelector('.vault-restore-table tbody tr');
}

// Records every state and text of the restore's progress region from now on.
async function watchRestore(page) {
  await page.evaluate(() => {
    window.seen = [];
    const region = document.getElementById('vault-restore-status');
    const note = () => {
      const bar = region.querySelector('progress');
      window.seen.push([region.dataset.state || '', region.textContent,
        bar ? [bar.getAttribute('value'), bar.getAttribute('max')] : null]);
    };
    new MutationObserver(note).observe(region, { childList: true, subtree: true, characterData: true, attributes: true });
  });
}

const finished = (page) => page.waitForSelector(
  '#vault-restore-status[data-state="done"], #vault-restore-status[data-state="failed"], #vault-restore-status[data-state="error"]', { timeout: 60_000 });

// The entries listed in the restore section: [name text, type].
const listed = (page) => page.$$eval('.vault-restore-table tbody tr', (trs) => trs.map((tr) => [tr.querySelector('td.name').textContent, tr.dataset.type]));

// --- tests -------------------------------------------------------------------------------

test('the operator restores two chosen files (one in a subdirectory) into a new directory', async (t) => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'chen');
    await openVault(page);
    assert.equal(await page.locator('#vault-restore-status').getAttribute('aria-live'), 'polite');
    // The newest snapshot is chosen, browsing starts in the directory backed up.
    assert.equal(await page.locator('select[name="snapshot"]').inputValue(), snapshotId);
    assert.match(await page.locator('#vault-restore-title').textContent(), /還原/);
    assert.deepEqual(await listed(page), [['人事/', 'dir'], ['公文/', 'dir'], ['檔案/', 'dir'], ['說明.txt', 'file']]);
    assert.ok(await page.getByLabel('全部（整份快照）').isChecked(), 'everything by default');
    assert.ok(await page.getByLabel('還原 說明.txt').isDisabled(), 'single files wait until 全部 is unticked');

    await page.getByLabel('全部（整份快照）').uncheck();
    await page.getByLabel('還原 說明.txt').check();
    await page.getByRole('button', { name: '開啟目錄 公文' }).click();
    await page.waitForFunction(() => document.querySelector('.vault-restore-table tbody tr td.name')?.textContent === '附件/');
    assert.deepEqual(await listed(page), [['附件/', 'dir'], ['函-1140001.txt', 'file']]);
    await page.getByRole('button', { name: '開啟目錄 附件' }).click();
    await page.waitForSelector('tr[data-type="file"] >> text=簽呈.txt');
    assert.match(await page.locator('.vault-restore-crumbs').textContent(), /公文.*附件/);
    await page.getByLabel('還原 簽呈.txt').check();
    const chosenText = await page.locator('.vault-restore-chosen').textContent();
    assert.match(chosenText, /已選 2 項/, chosenText);

    const target = path.join(harness.work, '還原', '第一次');
    await page.getByLabel('還原到伺服器上的目錄').fill(target);
    assert.deepEqual(await unlabelled(page), [], 'every control has a label');
    await watchRestore(page);
    const post = page.waitForRequest((r) => r.url().endsWith(`/api/v1/vaults/${VAULT}/restores`) && r.method() === 'POST');
    await page.getByRole('button', { name: '開始還原' }).click();
    const req = await post;
    assert.deepEqual(req.postDataJSON(), {
      snapshot: snapshotId, target, paths: CHOSEN.map((n) => path.join(dataDir, n)).sort(),
    });
    await finished(page);
    const done = await page.locator('#vault-restore-status').textContent();
    assert.equal(await page.locator('#vault-restore-status').getAttribute('data-state'), 'done', done);
    const bytes = CHOSEN.reduce((n, f) => n + Buffer.byteLength(FILES[f]), 0);
    assert.match(done, new RegExp(`已還原 2 / 2 個檔案，${bytes} B / ${bytes} B（100%）`), done);
    assert.match(done, /還原完成：快照 [0-9a-f]{8} 的 2 個檔案/, done);
    assert.ok(done.includes(target), `the result names the target: ${done}`);
    assert.deepEqual(await page.$eval('#vault-restore-status progress', (p) => [p.value, p.max]), [100, 100]);
    const seen = await page.evaluate(() => window.seen);
    t.diagnostic(`restore progress seen: ${JSON.stringify([...new Set(seen.map(([st, text]) => `${st}: ${text}`))])}`);

    // The two files, byte for byte; nothing else.
    for (const name of CHOSEN) assert.equal(fs.readFileSync(restored(target, name), 'utf8'), FILES[name], name);
    assert.deepEqual(filesUnder(target), CHOSEN.map((n) => path.relative('/', path.join(dataDir, n))).sort());
    assert.ok(!fs.existsSync(restored(target, '公文/附件/會議紀錄.txt')), 'an unchosen file beside a chosen one');
    assert.ok(!fs.existsSync(restored(target, '人事')), 'an unchosen directory');
    assert.doesNotMatch(await page.locator('#main').textContent(), /null|undefined|\[object/, 'no stray values shown');
    await shoot(page, 'vault-restore-chosen-done', VIEWPORTS[0]);
  } finally {
    await context.close();
  }
});

test('the whole snapshot into another directory, with its progress totals; every file compared', async (t) => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'chen');
    await openVault(page);
    assert.ok(await page.getByLabel('全部（整份快照）').isChecked());
    const target = path.join(harness.work, '還原', '全部');
    await page.getByLabel('還原到伺服器上的目錄').fill(target);
    await watchRestore(page);
    const post = page.waitForRequest((r) => r.url().endsWith(`/api/v1/vaults/${VAULT}/restores`) && r.method() === 'POST');
    await page.getByRole('button', { name: '開始還原' }).click();
    assert.deepEqual((await post).postDataJSON(), { snapshot: snapshotId, target });
    assert.ok(await page.getByRole('button', { name: '開始還原' }).isDisabled(), 'disabled while the job runs');
    await finished(page);
    const done = await page.locator('#vault-restore-status').textContent();
    assert.equal(await page.locator('#vault-restore-status').getAttribute('data-state'), 'done', done);
    const n = Object.keys(FILES).length + 1;
    assert.match(done, new RegExp(`已還原 ${n} / ${n} 個檔案，24\\.\\d MB / 24\\.\\d MB（100%）`), done);
    assert.match(done, new RegExp(`還原完成：快照 ${snapshotId.slice(0, 8)} 的 ${n} 個檔案`), done);
    const seen = await page.evaluate(() => window.seen);
    // Every progress shown while it ran had its totals: N / M files, X / Y, a bar of 100.
    for (const [st, text, bar] of seen.filter(([st]) => st === 'running')) {
      if (!bar || bar[0] === null) continue;  // before the restore counted the snapshot
      assert.match(text, new RegExp(`已還原 \\d+ / ${n} 個檔案，[\\d.]+ (B|KB|MB) / 24\\.\\d MB（\\d+%）`), `${st}: ${text}`);
      assert.equal(bar[1], '100');
    }
    t.diagnostic(`restore progress seen: ${JSON.stringify([...new Set(seen.map(([st, text]) => `${st}: ${text}`))])}`);
    assert.ok(!(await page.getByRole('button', { name: '開始還原' }).isDisabled()), 'enabled again');

    const source = filesUnder(dataDir);
    assert.equal(source.length, n);
    assert.deepEqual(filesUnder(path.join(target, dataDir)), source);
    for (const f of source) {
      assert.ok(fs.readFileSync(path.join(target, dataDir, f)).equals(fs.readFileSync(path.join(dataDir, f))), `${f} differs`);
    }
  } finally {
    await context.close();
  }
});

test('a non-empty target is refused with the server\'s reason, and nothing is written there', async () => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'chen');
    await openVault(page);
    const target = path.join(harness.work, '已有資料');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, '舊檔.txt'), '舊資料');
    await page.getByLabel('還原到伺服器上的目錄').fill(target);
    await page.getByRole('button', { name: '開始還原' }).click();
    await finished(page);
    assert.equal(await page.locator('#vault-restore-status').getAttribute('data-state'), 'error');
    const text = await page.locator('#vault-restore-status .error').textContent();
    assert.ok(text.includes(`target directory ${target} is not empty`), text);
    assert.deepEqual(fs.readdirSync(target), ['舊檔.txt']);
    assert.equal(fs.readFileSync(path.join(target, '舊檔.txt'), 'utf8'), '舊資料');

    // A relative path is stopped in the page, before any request.
    await page.getByLabel('還原到伺服器上的目錄').fill('restore/here');
    let posted = false;
    page.on('request', (r) => { if (r.url().endsWith('/restores')) posted = true; });
    await page.getByRole('button', { name: '開始還原' }).click();
    assert.match(await page.locator('#vault-restore-status .error').textContent(), /必須是絕對路徑/);
    assert.equal(posted, false);
    // …and the server says the same to a request made without the page.
    const answer = await page.evaluate(async (v) => {
      const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
      const r = await fetch(`/api/v1/vaults/${v}/restores`, { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ snapshot: 'latest', target: 'restore/here' }) });
      return [r.status, await r.text()];
    }, VAULT);
    assert.equal(answer[0], 400);
    assert.match(answer[1], /absolute/);
  } finally {
    await context.close();
  }
});

test('an auditor sees the vault without a restore form; a restore request is refused', async () => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'li');
    await page.goto(`${harness.base}#/vault/${VAULT}`);
    await page.waitForSelector('#vault-snapshots tbody tr');
    assert.equal(await page.locator('form.vault-restore-form').count(), 0, 'no restore form');
    assert.equal(await page.locator('#vault-restore-status').count(), 0);
    assert.equal(await page.getByRole('button', { name: '開始還原' }).count(), 0);
    const status = await page.evaluate(async (v) => {
      const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
      const r = await fetch(`/api/v1/vaults/${v}/restores`, { method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' }, body: JSON.stringify({ snapshot: 'latest', target: '/tmp/auditor-restore' }) });
      return r.status;
    }, VAULT);
    assert.equal(status, 403);
    assert.ok(!fs.existsSync('/tmp/auditor-restore'));
  } finally {
    await context.close();
  }
});

test('the server\'s [s3] profiles reach the console\'s vault stores', async () => {
  const { context, page } = await harness.newPage();
  try {
    await harness.signIn(page, 'li');
    await page.goto(`${harness.base}#/vault/remote`);
    await page.waitForSelector('.vault-summary tbody tr');
    const rows = await page.$$eval('.vault-summary tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    assert.equal(rows.length, 3);
    assert.equal(rows[2][2], 's3');
    // Opened with the profile's endpoint (nothing listens there), not refused as unknown.
    assert.doesNotMatch(rows[2][3], /unknown S3 profile/, rows[2][3]);
    assert.match(rows[2][3], /異常/, rows[2][3]);
    assert.match(rows[2][3], /127\.0\.0\.1:9/, rows[2][3]);
    assert.doesNotMatch(rows[2][3], /e2e-not-a-secret/);
  } finally {
    await context.close();
  }
});

for (const viewport of VIEWPORTS) {
  test(`the vault page with its restore section at ${viewport.width} px: labelled, no layout problems`, async () => {
    const { context, page } = await harness.newPage(viewport);
    try {
      await harness.signIn(page, 'chen');
      await openVault(page);
      await page.getByLabel('全部（整份快照）').uncheck();
      await page.getByRole('button', { name: '開啟目錄 公文' }).click();
      await page.waitForSelector('tr[data-type="file"] >> text=函-1140001.txt');
      await page.getByLabel('還原 附件').check();
      await page.getByLabel('還原 函-1140001.txt').check();
      await page.getByLabel('還原到伺服器上的目錄').fill(path.join(harness.work, '還原', '畫面'));
      assert.match(await page.locator('.vault-restore-chosen').textContent(), /已選 2 項/);
      assert.deepEqual(await unlabelled(page), [], 'every control has a label');
      assert.deepEqual(await layoutProblems(page), [], 'no layout problems');
      assert.doesNotMatch(await page.locator('#main').textContent(), /null|undefined|\[object/, 'no stray values shown');
      await shoot(page, 'vault-restore', viewport);
    } finally {
      await context.close();
    }
  });
}

test('no CSP violation and nothing requested outside 127.0.0.1', () => {
  assert.deepEqual(harness.cspViolations, []);
  assert.deepEqual(harness.external, []);
});
