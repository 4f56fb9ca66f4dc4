// Browser tests of the console's 公文 exchange pages (web/pages/exchange.js) over a real
// exchange network on 127.0.0.1, set up with the real command line as
// tests/integration/exchange_network.sh does: a test CA, a signed registry (agencies A and
// B, C with a certificate ending in 20 days, D suspended), an exchange center
// (`tessera exchange center run`), agency A's gateway in the harness's `tessera serve`
// (its console is the one driven here) and agency B's gateway in a second `tessera serve`
// with its own home, started only once A's 函 waits at the center, so that B's receipt
// arrives while the document's page is open.
// In Chromium: a clerk of A composes a 函 (two paragraphs, an attachment) to B; an empty
// 主旨 is refused with the field's message beside it; the sent 函 is shown rendered in its
// sandboxed frame, and B's state turns from 已送達交換中心 to 已接收 without a reload; the
// sent box lists it; B's command line finds it in B's inbox; B's 函 to A is in A's inbox.
// An operator sees the registry (allow-listed addresses, certificate expiry, the one under
// 30 days marked) and the gateway's health, and is refused (403) when sending.
// Every page is shot at both viewports with the label and layout checks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, VIEWPORTS, ROOT, WEB_ROOT, freePort, menuRoutes, unlabelled, layoutProblems, shoot } from './lib.mjs';

const A = 'A15060000H'; // 臺南市政府: the console's gateway
const B = '376570000A'; // 臺南市政府教育局: a gateway of its own
const C = '379000000A'; // 臺南市政府衛生局: registered, certificate ending in 20 days
const D = 'A09000000D'; // 臺南市政府環境保護局: suspended
const PASSWORD = { wang: 'clerk password 承辦 2026', ops: 'operator password 維運 2026' };
const SUBJECT = '函轉有關居家辦公期間公文電子交換作業相關事宜';
const PARAGRAPHS = ['依檔管局110年5月27日檔資字第1100022201號函辦理。', '請貴局轉知所屬學校配合辦理，並於文到七日內回復。'];
const ATTACHMENT = { name: '附件一.txt', text: '居家辦公期間公文交換作業說明：一、二、三。\n' };
const NUMBER = '府研智字第1150681935號';
const B_SUBJECT = '檢送本局一一五年度資訊安全稽核報告';

let harness;
let work;
let homeB;
let centerHome;
let bSettings;
let bConsolePort;
let sentId;
const abs = (...p) => path.join(work, ...p);
const certArgs = (name) => ['--cert', abs('certs', `${name}.pem`), '--key', abs('certs', `${name}.key`)];
// B's gateway from the command line, as exchange_network.sh's GB.
const gatewayB = (args) => harness.cli(['exchange', ...args, '--agency', B, ...certArgs('b'),
  '--source-address', '127.0.0.12', '--malware-db', abs('clamav')], {}, homeB);

before(async () => {
  harness = new Harness('exchange');
  work = harness.work;
  homeB = abs('home-b');
  centerHome = abs('center');
  const mgmt = abs('management');
  for (const d of [homeB, centerHome, mgmt, abs('certs')]) fs.mkdirSync(d, { recursive: true });
  const cli = (args, home = mgmt) => harness.cli(args, {}, home);

  // A test CA and every party's certificate; C's ends in 20 days.
  cli(['pki', 'init-ca', '--dir', abs('ca'), '--name', 'Tessera Test GCA']);
  const issue = (name, ip, out, extra = []) =>
    cli(['pki', 'issue', '--ca', abs('ca'), '--name', name, '--ip', ip, '--out', abs('certs', out), ...extra]);
  issue('center-a', '127.0.0.1', 'center-a');
  issue(`${A} 臺南市政府`, '127.0.0.11', 'a');
  issue(`${B} 臺南市政府教育局`, '127.0.0.12', 'b');
  issue(`${C} 臺南市政府衛生局`, '127.0.0.13', 'c', ['--days', '20']);
  issue(`${D} 臺南市政府環境保護局`, '127.0.0.14', 'd');

  // The management center's registry, signed and installed on every host.
  const centerPort = await freePort();
  const R = (args) => cli(['exchange', 'registry', ...args]);
  R(['init', '--network', 'tainan-test']);
  R(['anchor', 'add', abs('ca', 'ca.pem')]);
  R(['center', 'add', 'center-a', '--url', `https://127.0.0.1:${centerPort}`, '--ip', '127.0.0.1', '--cert', abs('certs', 'center-a.pem')]);
  R(['agency', 'add', A, '--name', '臺南市政府', '--center', 'center-a', '--cert', abs('certs', 'a.pem'), '--ip', '127.0.0.11']);
  R(['agency', 'add', B, '--name', '臺南市政府教育局', '--center', 'center-a', '--cert', abs('certs', 'b.pem'), '--ip', '127.0.0.12']);
  R(['agency', 'add', C, '--name', '臺南市政府衛生局', '--center', 'center-a', '--cert', abs('certs', 'c.pem'), '--ip', '127.0.0.13']);
  R(['agency', 'add', D, '--name', '臺南市政府環境保護局', '--center', 'center-a', '--cert', abs('certs', 'd.pem'), '--ip', '127.0.0.14']);
  R(['suspend', D, '--reason', 'security-incident', '--note', '資安事件調查中']);
  R(['publish']);
  const mdir = path.join(mgmt, 'exchange', 'management');
  const pub = path.join(mdir, fs.readdirSync(mdir).find((f) => f.endsWith('.pub.pem')));
  for (const home of [centerHome, harness.home, homeB]) {
    cli(['exchange', 'registry', 'install', path.join(mdir, 'current.json'), '--key', pub], home);
  }
  execFileSync('bash', [path.join(ROOT, 'scripts/make-clamav-test-db.sh'), abs('clamav')], { stdio: 'ignore' });

  await harness.spawn('center', ['exchange', 'center', 'run', '--id', 'center-a', '--listen', `127.0.0.1:${centerPort}`,
    ...certArgs('center-a')], centerPort, { home: centerHome });

  const gateway = (name, code, ip) => ['[exchange]', `agency = "${code}"`, `certificate = "${abs('certs', `${name}.pem`)}"`,
    `key = "${abs('certs', `${name}.key`)}"`, `malware_db = "${abs('clamav')}"`, `source_address = "${ip}"`, 'receive_wait = 1',
    // no mail journaling listeners: two serves here, and other test files', run at once
    '', '[archive]', 'lmtp = ""', 'smtp = ""'];
  // A's gateway is the console's.
  await harness.serve(gateway('a', A, '127.0.0.11'));
  harness.addAccount('wang', 'clerk', PASSWORD.wang, ['--agency', A, '--display-name', '王小明']);
  harness.addAccount('ops', 'operator', PASSWORD.ops, ['--display-name', '陳維運']);
  // B's: started in the first test, once A's 函 waits at the center.
  bConsolePort = await freePort();
  bSettings = abs('b.toml');
  fs.writeFileSync(bSettings, [...gateway('b', B, '127.0.0.12'), '',
    '[console]', `listen = "127.0.0.1:${bConsolePort}"`, `web_root = "${WEB_ROOT}"`, ''].join('\n'));
  await harness.launch();
});

after(async () => {
  if (harness) await harness.stop();
});

const stateOf = (page, code) => page.locator('#ex-receipts tbody tr', { hasText: code }).locator('.ex-state');

test('a clerk of A sends a 函 to B, sees it rendered, and B\'s receipt arrive without a reload', async () => {
  const { context, page } = await harness.newPage();
  await harness.signIn(page, 'wang');
  const routes = await menuRoutes(page);
  assert.ok(routes.includes('exchange'), `the clerk's menu: ${routes}`);
  assert.ok(!routes.includes('exchange-admin'), 'a clerk has no 交換管理');

  await page.goto(`${harness.base}#/compose`);
  await page.getByRole('heading', { level: 1, name: '撰寫函' }).waitFor();
  // Recipients from the registry: this agency and the suspended one shown, not selectable.
  assert.equal(await page.locator(`input[name="to"][value="${D}"]`).isDisabled(), true, 'the suspended agency cannot be chosen');
  assert.match(await page.locator(`label[for="ex-to-${D}"]`).textContent(), /停止服務中/);
  assert.equal(await page.locator(`input[name="to"][value="${A}"]`).isDisabled(), true, 'nor this agency');
  // The filter keeps only what matches.
  await page.getByLabel('篩選正本機關（名稱或代碼）').fill('衛生');
  assert.equal(await page.locator('fieldset[data-field="to"] li.ex-agency:not([hidden])').count(), 1);
  assert.match(await page.locator('fieldset[data-field="to"] li.ex-agency:not([hidden])').textContent(), /臺南市政府衛生局/);
  await page.getByLabel('篩選正本機關（名稱或代碼）').fill('');
  await page.locator(`input[name="to"][value="${B}"]`).check();

  // No 主旨: the API's message for the field beside it, the field focused; nothing sent.
  await page.getByRole('button', { name: '發送' }).click();
  const subjectError = page.locator('.field-error[data-for="subject"]');
  await subjectError.waitFor();
  assert.match(await subjectError.textContent(), /subject: is required/);
  assert.equal(await page.evaluate(() => document.activeElement?.name), 'subject', 'the 主旨 field has the focus');
  assert.equal(await page.locator('textarea[name="subject"]').getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('.form-status .error').textContent(), /subject/);
  await shoot(page, 'exchange-compose-error', VIEWPORTS[0]);

  // The 函: two paragraphs, an attachment.
  await page.getByLabel('主旨（必填）').fill(SUBJECT);
  await page.getByLabel('說明第 1 段', { exact: true }).fill(PARAGRAPHS[0]);
  await page.getByRole('button', { name: '新增一段說明' }).click();
  await page.getByLabel('說明第 2 段', { exact: true }).fill(PARAGRAPHS[1]);
  await page.getByLabel('速別').selectOption('速件');
  await page.getByLabel('發文字號').fill(NUMBER);
  assert.match(await page.getByLabel('發文日期').inputValue(), /^中華民國1\d\d年\d+月\d+日$/, 'the date is filled in');
  await page.getByLabel('署名').fill('市長 黃偉哲');
  await page.getByLabel('附件檔案').setInputFiles({ name: ATTACHMENT.name, mimeType: 'text/plain', buffer: Buffer.from(ATTACHMENT.text) });
  assert.match(await page.locator('.ex-files').textContent(), new RegExp(`${ATTACHMENT.name}.*${Buffer.byteLength(ATTACHMENT.text)} B`));
  assert.equal(await page.locator('.field-error').count(), 1, 'the earlier message stays until the next try');
  await page.getByRole('button', { name: '發送' }).click();

  // Lands on the new document.
  await page.waitForURL(/#\/document\//, { timeout: 30_000 });
  sentId = decodeURIComponent(page.url().split('#/document/')[1]);
  await page.getByRole('heading', { level: 1, name: SUBJECT }).waitFor();
  const rendered = await page.frameLocator('iframe.ex-frame').locator('body').textContent();
  assert.ok(rendered.includes(SUBJECT), `the frame shows the subject: ${rendered.slice(0, 200)}`);
  assert.ok(rendered.includes(PARAGRAPHS[1]) && rendered.includes('二、'), 'and the second paragraph, numbered');
  assert.equal(await page.locator('iframe.ex-frame').getAttribute('sandbox'), '');
  // B has not received yet (its gateway is not running): at the center.
  assert.equal(await stateOf(page, B).getAttribute('data-state'), 'accepted');
  assert.match(await stateOf(page, B).textContent(), /已送達交換中心/);
  assert.match(await page.locator('.ex-poll').textContent(), /每 3 秒自動更新/);
  // The attachment downloads as sent.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: `下載 ${ATTACHMENT.name}` }).click()]);
  assert.equal(download.suggestedFilename(), ATTACHMENT.name);
  assert.equal(fs.readFileSync(await download.path(), 'utf8'), ATTACHMENT.text);

  // It polls while B is not final, and stops once the page is left.
  const polls = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/exchange/documents/') && !r.url().includes('/attachments/')) polls.push(Date.now()); });
  await page.waitForRequest((r) => r.url().includes('/api/v1/exchange/documents/'), { timeout: 10_000 });
  await page.goto(`${harness.base}#/exchange?box=sent`);
  await page.locator('tbody tr', { hasText: SUBJECT }).waitFor();
  const left = polls.length;
  await page.waitForTimeout(4000);
  assert.equal(polls.length, left, 'no polling once the document\'s page is left');
  await page.goBack();
  await page.getByRole('heading', { level: 1, name: SUBJECT }).waitFor();
  assert.equal(await stateOf(page, B).getAttribute('data-state'), 'accepted');

  // B's gateway starts; its receipt reaches A's; the page shows it without reloading.
  await page.evaluate(() => { window.notReloaded = true; });
  await harness.spawn('serve-b', ['--settings', bSettings, 'serve'], bConsolePort, { home: homeB });
  await page.locator(`#ex-receipts .ex-state[data-state="received"]`).waitFor({ timeout: 60_000 });
  assert.match(await stateOf(page, B).textContent(), /已接收/);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page was not reloaded');
  await page.locator('.ex-poll', { hasText: '所有受文者皆已完成' }).waitFor();
  // In English too, from the same answer.
  await page.locator('#lang-switch').click();
  await page.getByRole('heading', { level: 2, name: 'Receipts' }).waitFor();
  assert.match(await stateOf(page, B).textContent(), /^Received$/);
  await page.locator('#lang-switch').click();
  await page.getByRole('heading', { level: 2, name: '受文者回執' }).waitFor();

  // B holds it: its command line lists it with the attachment.
  const inboxB = JSON.parse(gatewayB(['inbox', '--json']));
  const got = inboxB.find((e) => e.id === sentId);
  assert.ok(got, `B's inbox has ${sentId}: ${JSON.stringify(inboxB)}`);
  assert.equal(got.subject, SUBJECT);
  assert.equal(got.sender, A);
  assert.equal(fs.readFileSync(path.join(got.files, ATTACHMENT.name), 'utf8'), ATTACHMENT.text);

  // The sent box lists it, newest first, with B's state in words.
  await page.getByRole('link', { name: '← 回公文交換' }).click();
  await page.waitForURL(/box=sent/);
  const row = page.locator('tbody tr', { hasText: SUBJECT });
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(`${NUMBER}.*臺南市政府教育局（${B}）.*已接收`));
  assert.equal(await page.locator('.ex-tabs a[aria-current="page"]').textContent(), '發文');
  await context.close();
});

test('B\'s 函 arrives in A\'s inbox', async () => {
  // B sends with its command line (the DI as exchange_lib.sh writes one).
  const di = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE 函 SYSTEM "104_2_utf8.dtd">
<函>
<發文機關><全銜>臺南市政府教育局</全銜><機關代碼>${B}</機關代碼></發文機關>
<函類別 代碼="函"/>
<地址>730201臺南市新營區民治路36號</地址>
<聯絡方式>承辦人：林小姐</聯絡方式>
<受文者><全銜>臺南市政府</全銜><機關代碼>${A}</機關代碼></受文者>
<發文日期><年月日>中華民國115年12月4日</年月日></發文日期>
<發文字號><字>南市教資</字><文號><年度>115</年度><流水號>0012345</流水號></文號></發文字號>
<速別 代碼="普通件"/>
<主旨><文字>${B_SUBJECT}</文字></主旨>
<段落 段名="說明："><條列 序號="一、"><文字>依本府115年度資訊安全稽核計畫辦理。</文字></條列></段落>
<正本><全銜>臺南市政府</全銜></正本>
<署名>局長 鄭新輝</署名>
</函>
`;
  fs.writeFileSync(abs('b-letter.di'), di);
  const sent = JSON.parse(gatewayB(['send', abs('b-letter.di'), '--json']));
  assert.ok(sent.id, 'B sent');

  const { context, page } = await harness.newPage();
  await harness.signIn(page, 'wang');
  // A's gateway receives by long poll: the inbox shows it within seconds.
  let found = false;
  await page.goto(`${harness.base}#/exchange?box=inbox`);
  for (let i = 0; i < 30 && !found; i += 1) {
    if (i > 0) await page.reload();
    await page.locator('#main [role="status"]').filter({ hasNotText: '載入中' }).first().waitFor();
    found = await page.locator('tbody tr', { hasText: B_SUBJECT }).count() > 0;
    if (!found) await page.waitForTimeout(1000);
  }
  assert.ok(found, 'B\'s 函 is in A\'s inbox');
  const row = page.locator('tbody tr', { hasText: B_SUBJECT });
  assert.match(await row.textContent(), /南市教資.*臺南市政府教育局（376570000A）.*已接收/);
  await row.getByRole('link', { name: B_SUBJECT }).click();
  await page.getByRole('heading', { level: 1, name: B_SUBJECT }).waitFor();
  assert.match(await page.locator('.headers').textContent(), /收文.*臺南市政府教育局/);
  const rendered = await page.frameLocator('iframe.ex-frame').locator('body').textContent();
  assert.ok(rendered.includes('依本府115年度資訊安全稽核計畫辦理。'), `the frame shows B's 函: ${rendered.slice(0, 200)}`);
  await context.close();
});

test('an operator sees the registry and the gateway\'s health, and may not send', async () => {
  const { context, page } = await harness.newPage();
  await harness.signIn(page, 'ops');
  const routes = await menuRoutes(page);
  assert.ok(routes.includes('exchange-admin') && routes.includes('exchange'), `the operator's menu: ${routes}`);
  await page.goto(`${harness.base}#/exchange?box=sent`);
  await page.locator('tbody tr', { hasText: SUBJECT }).waitFor();
  assert.equal(await page.getByRole('link', { name: '撰寫函' }).count(), 0, 'no 撰寫函 for an operator');

  await page.goto(`${harness.base}#/exchange-admin`);
  await page.getByRole('heading', { level: 1, name: '交換管理' }).waitFor();
  const agencies = page.locator('.ex-registry table').first();
  await agencies.waitFor();
  const rowOf = (code) => agencies.locator('tbody tr', { hasText: code });
  assert.match(await rowOf(A).textContent(), /臺南市政府.*center-a.*127\.0\.0\.11.*正常/);
  assert.match(await rowOf(B).textContent(), /127\.0\.0\.12/);
  assert.match(await rowOf(D).textContent(), /停止服務：security-incident、資安事件調查中/);
  // Every certificate with its expiry; C's, under 30 days, marked.
  assert.match(await rowOf(A).locator('.ex-cert').textContent(), /有效至 民國\d+年.*剩 \d+ 天/);
  const soon = page.locator('.ex-cert.soon');
  assert.equal(await soon.count(), 1, 'one certificate ends within 30 days');
  assert.match(await soon.textContent(), /臺南市政府衛生局.*剩 (19|20) 天/);
  assert.match(await page.locator('.ex-registry dl').textContent(), /tainan-test/);
  // The health the gateway of `tessera serve` recorded: the certificate and clock checks.
  const check = (name) => page.locator(`.ex-health .ex-state[data-check="${name}"]`);
  await check('clock').waitFor();
  for (const name of ['registry', 'certificate', 'clock', 'center']) {
    assert.equal(await check(name).count(), 1, `the ${name} check is shown`);
  }
  assert.equal(await check('clock').getAttribute('data-state'), 'ok');
  assert.equal(await check('certificate').getAttribute('data-state'), 'ok');
  assert.match(await page.locator('.ex-health tbody').textContent(), /時鐘（與交換中心比對）.*正常/);

  // Operators run the exchange; they do not send: 403 from the API.
  const answer = await page.evaluate(async ([to]) => {
    const csrf = (await (await fetch('/api/v1/session')).json()).csrf;
    const r = await fetch('/api/v1/exchange/documents', {
      method: 'POST', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
      body: JSON.stringify({ subject: '維運人員不應發文', to: [to] }),
    });
    return { status: r.status, body: await r.json() };
  }, [B]);
  assert.equal(answer.status, 403, JSON.stringify(answer.body));
  assert.match(answer.body.error.message, /does not send/);
  // And the page is not theirs either.
  await page.goto(`${harness.base}#/compose`);
  await page.locator('#main .error').waitFor();
  assert.equal(await page.locator('textarea[name="subject"]').count(), 0);
  await context.close();
});

test('every exchange page at both sizes: labelled, laid out, shot', async () => {
  assert.ok(sentId, 'the first test sent a document');
  const pages = [
    ['wang', 'exchange-inbox', '#/exchange?box=inbox', 'tbody tr'],
    ['wang', 'exchange-sent', '#/exchange?box=sent', 'tbody tr'],
    ['wang', 'exchange-compose', '#/compose', 'input[name="to"]'],
    ['wang', 'exchange-document', `#/document/${encodeURIComponent(sentId)}`, 'iframe.ex-frame'],
    ['ops', 'exchange-admin', '#/exchange-admin', '.ex-health table'],
  ];
  const problems = [];
  for (const viewport of VIEWPORTS) {
    for (const who of ['wang', 'ops']) {
      const { context, page } = await harness.newPage(viewport);
      await harness.signIn(page, who);
      for (const [, name, hash, ready] of pages.filter((p) => p[0] === who)) {
        await page.goto(`${harness.base}${hash}`);
        await page.locator(ready).first().waitFor();
        await page.waitForTimeout(300);
        for (const u of await unlabelled(page)) problems.push(`${name} ${viewport.width}: unlabelled ${u}`);
        for (const p of await layoutProblems(page)) problems.push(`${name} ${viewport.width}: ${p}`);
        await shoot(page, name, viewport);
      }
      await context.close();
    }
  }
  assert.deepEqual(problems, []);
  assert.deepEqual(harness.cspViolations, []);
  assert.deepEqual(harness.external, []);
});
