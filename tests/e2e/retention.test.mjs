// Browser tests of the retention pages (保存與銷毀: rules, legal holds, destruction batches
// with a second person's approval) and of restoring a message to a mailbox from the
// message view. The real `tessera serve`, Chinese mail imported with the real command line,
// and an SMTP sink in this process as the server's [console] restore_relay.
// Run: TESSERA_BIN=PATH/TO/tessera node --test retention.test.mjs (tests/e2e/run.sh).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Harness, VIEWPORTS, freePort, menuRoutes, unlabelled, layoutProblems, shoot } from './lib.mjs';

const PASSWORD = { rec1: '檔管一 password 2026', rec2: '檔管二 password 2026', audit: '稽核 password 2026',
  wang: '承辦 password 2026' };
const HOLD = { name: '112年度訴字第123號', reason: '訴訟進行中，相關公文暫停銷毀' };
const NOTE = '115年度第1批郵件銷毀';

let harness;
let base;
const ids = {};   // key of MAIL → archive id
let sink;         // the SMTP sink: {port, messages: [{from, to: [], data}], close()}

// --- the mail -----------------------------------------------------------------------------

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const word = (s) => `=?UTF-8?B?${b64(s)}?=`;
// expired: under the 1-year rule for *@ntbt.gov.tw made in the test, dated 2020.
// held: the same, but under a legal hold. restore: from elsewhere (permanent by default).
const MAIL = {
  expired: { id: 'old-1@ntbt.gov.tw', subject: '國稅局 一〇九年度課稅通知', from: `${word('鄭國稅')} <cheng@ntbt.gov.tw>`,
    date: 'Mon, 06 Jan 2020 09:00:00 +0800', text: '一〇九年度課稅通知，請查照。\n' },
  held: { id: 'old-2@ntbt.gov.tw', subject: '國稅局 訴訟案件相關公文', from: `${word('國稅局長')} <chief@ntbt.gov.tw>`,
    date: 'Tue, 07 Jan 2020 10:00:00 +0800', text: '訴訟案件相關公文，請妥為保存。\n' },
  restore: { id: 'keep-3@tainan.gov.tw', subject: '臺南市政府 調閱回復測試公文', from: `${word('臺南市政府')} <chief@tainan.gov.tw>`,
    date: 'Thu, 04 Jan 2024 14:15:00 +0800', text: '本公文供調閱後回復至信箱之用。\n' },
};

function writeMail(dir) {
  fs.mkdirSync(dir, { recursive: true });
  Object.entries(MAIL).forEach(([key, m], i) => {
    fs.writeFileSync(path.join(dir, `${i + 1}-${key}.eml`), [
      `From: ${m.from}`,
      `To: ${word('王小明')} <wang@ntbt.gov.tw>`,
      `Subject: ${word(m.subject)}`,
      `Message-ID: <${m.id}>`,
      `Date: ${m.date}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      b64(m.text),
      '',
    ].join('\r\n'));
  });
}

// --- a tiny SMTP server that keeps what it is sent ------------------------------------------

async function smtpSink() {
  const messages = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    let data = null;   // the DATA being received, or null for commands
    let envelope = { from: '', to: [] };
    const reply = (line) => socket.write(`${line}\r\n`);
    reply('220 sink.test ESMTP');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        if (data !== null) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data += buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 5);
          messages.push({ ...envelope, data: Buffer.from(data.replace(/^\.\./gm, '.'), 'latin1').toString('utf8') });
          data = null;
          envelope = { from: '', to: [] };
          reply('250 2.0.0 kept');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') socket.write('250-sink.test\r\n250 8BITMIME\r\n');
        else if (verb === 'HELO') reply('250 sink.test');
        else if (verb === 'MAIL') { envelope.from = line.replace(/^MAIL FROM:\s*<?([^>]*)>?.*$/i, '$1'); reply('250 2.1.0 ok'); }
        else if (verb === 'RCPT') { envelope.to.push(line.replace(/^RCPT TO:\s*<?([^>]*)>?.*$/i, '$1')); reply('250 2.1.5 ok'); }
        else if (verb === 'DATA') { data = ''; reply('354 end with <CRLF>.<CRLF>'); if (buffer.startsWith('.\r\n')) buffer = `\r\n${buffer}`; }
        else if (verb === 'RSET') { envelope = { from: '', to: [] }; reply('250 ok'); }
        else if (verb === 'NOOP') reply('250 ok');
        else if (verb === 'QUIT') { reply('221 bye'); socket.end(); return; }
        else reply('502 5.5.2 not implemented');
      }
    });
    socket.on('error', () => {});
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, messages, close: () => new Promise((r) => server.close(r)) };
}

// --- the server -----------------------------------------------------------------------------

before(async () => {
  harness = new Harness('retention');
  const mailDir = path.join(harness.work, 'mail');
  writeMail(mailDir);
  harness.cli(['archive', 'import', mailDir]);
  const all = JSON.parse(harness.cli(['--json', 'archive', 'search', '', '--limit', '100']));
  for (const [key, m] of Object.entries(MAIL)) {
    const hit = all.hits.find((x) => x.message_id.replace(/^<|>$/g, '') === m.id);
    assert.ok(hit, `imported ${m.id}`);
    ids[key] = hit.id;
  }
  harness.addAccount('rec1', 'records', PASSWORD.rec1, ['--display-name', '林檔管']);
  harness.addAccount('rec2', 'records', PASSWORD.rec2, ['--display-name', '張檔管']);
  harness.addAccount('audit', 'auditor', PASSWORD.audit, ['--display-name', '李稽核']);
  harness.addAccount('wang', 'clerk', PASSWORD.wang, ['--agency', 'A15060000H', '--display-name', '王小明']);
  // The archive's roles decide once it has any (docs/api.md): every account gets its own.
  harness.cli(['archive', 'users', 'grant', 'wang', '--role', 'clerk', '--address', 'wang@ntbt.gov.tw']);
  harness.cli(['archive', 'users', 'grant', 'rec1', '--role', 'records']);
  harness.cli(['archive', 'users', 'grant', 'rec2', '--role', 'records']);
  harness.cli(['archive', 'users', 'grant', 'audit', '--role', 'auditor']);

  sink = await smtpSink();
  // The archive's own listeners on free ports too (their defaults may be taken).
  const [lmtp, smtp] = [await freePort(), await freePort()];
  await harness.serve(['[archive]', `lmtp = "127.0.0.1:${lmtp}"`, `smtp = "127.0.0.1:${smtp}"`],
    { consoleLines: [`restore_relay = "smtp://127.0.0.1:${sink.port}"`] });
  base = harness.base;
  await harness.launch();
});

after(async () => {
  await harness?.stop();
  await sink?.close();
});

// --- helpers --------------------------------------------------------------------------------

async function signedIn(name, viewport = VIEWPORTS[0]) {
  const { context, page } = await harness.newPage(viewport);
  await harness.signIn(page, name);
  return { context, page };
}

async function openRetention(page) {
  await page.goto(`${base}#/retention`);
  await page.waitForSelector('.retention-batches, #main .error');
}

async function openBatch(page, id) {
  await page.goto(`${base}#/batch/${id}`);
  await page.waitForSelector('.batch-facts, #main .error');
}

// Screenshot at both widths, each with the label and layout checks.
async function checkPage(name, hash, ready, who) {
  for (const viewport of VIEWPORTS) {
    const { context, page } = await signedIn(who, viewport);
    await page.goto(`${base}${hash}`);
    await page.waitForSelector(ready);
    assert.deepEqual(await unlabelled(page), [], `${name} at ${viewport.width}: every control labelled`);
    assert.deepEqual(await layoutProblems(page), [], `${name} at ${viewport.width}: layout`);
    await shoot(page, `retention-${name}`, viewport);
    await context.close();
  }
}

const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));
const statusText = (page) => page.locator('#retention-status, #batch-status').first().textContent();

// The subjects a search on the search page finds, asked again for a few seconds until they
// are `expected` (the running server's index catches up with the store every 2 s).
async function searchSubjects(page, query, expected) {
  let got;
  for (let i = 0; i < 10; i++) {
    got = await searchOnce(page, query);
    if (JSON.stringify(got) === JSON.stringify(expected)) break;
    await page.waitForTimeout(1000);
  }
  return got;
}

async function searchOnce(page, query) {
  await page.goto(`${base}#/search`);
  await page.getByLabel('查詢字詞').fill(query);
  await page.getByRole('button', { name: '查詢', exact: true }).click();
  await page.waitForSelector('.hits, .results .error, .result-count:not(:empty)');
  await page.waitForFunction(() => !document.querySelector('.result-count')?.textContent.includes('載入'));
  return texts(page, '.hit-subject a');
}

let batchId;

// --- the tests ------------------------------------------------------------------------------

test('records officer 1: a rule, a legal hold and a destruction batch; approving it alone is refused', async () => {
  const { context, page } = await signedIn('rec1');
  assert.deepEqual(await menuRoutes(page), ['search', 'retention', 'audit', 'vaults']);
  await openRetention(page);
  assert.equal(await page.locator('h1').textContent(), '保存年限與銷毀');
  assert.match(await page.locator('.default-class').textContent(), /永久/);
  assert.match(await page.locator('.retention-rules').textContent(), /尚未設定任何規則/);

  // A rule: mail from *@ntbt.gov.tw is kept one year.
  const rules = page.locator('.rule-form');
  await rules.getByLabel('條件種類').selectOption('sender');
  await rules.getByLabel('條件內容').fill('*@ntbt.gov.tw');
  await rules.getByLabel('保存年限').selectOption('1');
  await rules.getByRole('button', { name: '新增規則' }).click();
  await page.waitForSelector('.retention-rules table');
  assert.match(await statusText(page), /已新增規則/);
  const ruleRow = await texts(page, '.retention-rules tbody tr');
  assert.equal(ruleRow.length, 1);
  assert.match(ruleRow[0], /寄件者：\*@ntbt\.gov\.tw/);
  assert.match(ruleRow[0], /1 年/);
  assert.match(ruleRow[0], /rec1/);
  assert.match(ruleRow[0], /民國\d+年/);

  // An empty hold is refused before it is sent; then a hold on the held message by number.
  const holds = page.locator('.hold-form');
  await holds.getByRole('button', { name: '新增保全' }).click();
  assert.match(await statusText(page), /請填寫：名稱/);
  await holds.getByLabel('名稱（例如案號）').fill(HOLD.name);
  await holds.getByLabel('事由').fill(HOLD.reason);
  await holds.getByLabel('保全範圍').selectOption('messages');
  await holds.getByLabel('範圍內容').fill(String(ids.held));
  await holds.getByRole('button', { name: '新增保全' }).click();
  await page.waitForSelector('.retention-holds table');
  const holdRow = await texts(page, '.retention-holds tbody tr');
  assert.equal(holdRow.length, 1);
  assert.match(holdRow[0], new RegExp(HOLD.name));
  assert.match(holdRow[0], new RegExp(HOLD.reason));
  assert.match(holdRow[0], new RegExp(`指定郵件編號：${ids.held}`));
  assert.match(holdRow[0], /保全中/);

  // The batch lists the expired message and not the held one (nor the permanent one).
  await page.getByLabel('說明（選填）').fill(NOTE);
  await page.getByRole('button', { name: '提出銷毀清冊' }).click();
  await page.waitForSelector('.batch-facts');
  batchId = Number(/#\/batch\/(\d+)/.exec(page.url())[1]);
  assert.ok(batchId > 0, page.url());
  assert.equal(await page.locator('.batch-state').textContent(), '待核定');
  assert.equal(await page.locator('.batch-facts .batch-count').textContent(), '1 封');
  assert.match(await page.locator('.proposed-by').textContent(), /rec1，民國\d+年/);
  assert.deepEqual(await texts(page, '.item-subject'), [MAIL.expired.subject]);
  assert.match(await page.locator('.batch').textContent(), new RegExp(NOTE));

  // The proposer may not approve: the server's reason is shown.
  await page.getByRole('button', { name: '核定此清冊' }).click();
  await page.waitForSelector('#batch-status .error');
  const refusal = await page.locator('#batch-status .error').textContent();
  assert.match(refusal, /沒有權限/);
  assert.match(refusal, /second person must approve/);
  assert.match(refusal, /檔案銷毀須經另一人核准/);
  assert.equal(await page.locator('.batch-state').textContent(), '待核定', 'still proposed');
  await shoot(page, 'retention-batch-refused', VIEWPORTS[0]);
  await context.close();

  await checkPage('overview', '#/retention', '.retention-batches table', 'rec1');
  await checkPage('batch-proposed', `#/batch/${batchId}`, '.batch-actions', 'rec1');
});

test('records officer 2 approves; purging asks first, naming the count; the held message stays', async () => {
  assert.ok(batchId, 'the first test proposed a batch');
  const { context, page } = await signedIn('rec2');
  await openRetention(page);
  const row = await texts(page, '.retention-batches tbody tr');
  assert.equal(row.length, 1);
  assert.match(row[0], /待核定/);
  assert.match(row[0], /1 封/);
  assert.match(row[0], /rec1/);
  await page.getByRole('link', { name: `開啟銷毀清冊第 ${batchId} 號` }).click();
  await page.waitForSelector('.batch-facts');

  await page.getByRole('button', { name: '核定此清冊' }).click();
  await page.waitForFunction(() => document.querySelector('.batch-state')?.textContent === '已核定，待銷毀');
  assert.match(await statusText(page), /已核定銷毀清冊/);
  assert.match(await page.locator('.approved-by').textContent(), /rec2，民國\d+年\d+月\d+日 \d\d:\d\d（\d{4}-\d\d-\d\d）/);
  assert.equal(await page.getByRole('button', { name: '核定此清冊' }).count(), 0, 'no approval of an approved batch');
  await checkPage('batch-approved', `#/batch/${batchId}`, '.purge-block', 'rec2');

  // Purge: a confirmation naming the count; cancelling destroys nothing.
  await page.getByRole('button', { name: '執行銷毀' }).click();
  const dialog = page.getByRole('alertdialog');
  assert.match(await dialog.textContent(), /確定要銷毀本清冊所列的 1 封郵件嗎/);
  await shoot(page, 'retention-purge-confirm', VIEWPORTS[0]);
  await dialog.getByRole('button', { name: '取消' }).click();
  assert.equal(await page.getByRole('alertdialog').count(), 0);
  assert.equal(await page.locator('.batch-state').textContent(), '已核定，待銷毀');
  await page.getByRole('button', { name: '執行銷毀' }).click();
  await page.getByRole('button', { name: '確定銷毀 1 封郵件' }).click();
  await page.waitForFunction(() => document.querySelector('.batch-state')?.textContent === '已銷毀');
  assert.match(await statusText(page), /已銷毀 1 封郵件，保留 0 封/);
  assert.match(await page.locator('.purge-result').textContent(), /已銷毀 1 封，保留 0 封/);
  assert.match(await page.locator('.purged-by').textContent(), /rec2/);
  assert.deepEqual(await texts(page, '.outcome'), ['已銷毀']);
  await checkPage('batch-purged', `#/batch/${batchId}`, '.purge-result', 'rec2');

  // Gone from search; the held one is still there.
  assert.deepEqual(await searchSubjects(page, '國稅局', [MAIL.held.subject]), [MAIL.held.subject]);
  await context.close();
});

test('a hold is released, and a second batch is rejected with a reason', async () => {
  const { context, page } = await signedIn('rec2');
  await openRetention(page);
  await page.getByRole('button', { name: `解除保全「${HOLD.name}」` }).click();
  await page.waitForFunction(() => document.querySelector('.hold-state')?.textContent.startsWith('已解除'));
  assert.match(await page.locator('.hold-state').textContent(), /已解除（rec2，民國\d+年/);
  assert.match(await statusText(page), new RegExp(`保全「${HOLD.name}」已解除`));

  // Released, the message is expired and listed; rec1 rejects the batch.
  await page.getByLabel('說明（選填）').fill('保全解除後補列');
  await page.getByRole('button', { name: '提出銷毀清冊' }).click();
  await page.waitForSelector('.batch-facts');
  const second = Number(/#\/batch\/(\d+)/.exec(page.url())[1]);
  assert.notEqual(second, batchId);
  assert.deepEqual(await texts(page, '.item-subject'), [MAIL.held.subject]);
  await context.close();

  const other = await signedIn('rec1');
  await openBatch(other.page, second);
  await other.page.getByRole('button', { name: '駁回', exact: true }).click();
  assert.match(await other.page.locator('#batch-status .error').textContent(), /請填寫：駁回理由/);
  await other.page.getByLabel('駁回理由').fill('尚有業務需要，暫不銷毀');
  await other.page.getByRole('button', { name: '駁回', exact: true }).click();
  await other.page.waitForFunction(() => document.querySelector('.batch-state')?.textContent === '已駁回');
  assert.match(await other.page.locator('.rejected-by').textContent(), /rec1/);
  assert.equal(await other.page.locator('.reject-reason').textContent(), '尚有業務需要，暫不銷毀');
  assert.equal(await other.page.locator('.batch-actions form, .batch-actions button').count(), 0, 'nothing more to do');
  await checkPage('batch-rejected', `#/batch/${second}`, '.reject-reason', 'rec1');
  // The message is still in the archive.
  assert.deepEqual(await searchSubjects(other.page, '國稅局', [MAIL.held.subject]), [MAIL.held.subject]);
  await other.context.close();
});

test('the auditor reads the retention pages without forms; a change is refused with 403', async () => {
  const { context, page } = await signedIn('audit');
  assert.deepEqual(await menuRoutes(page), ['search', 'retention', 'audit', 'vaults']);
  await openRetention(page);
  await page.waitForSelector('.retention-batches table');
  assert.match(await page.locator('.read-only').textContent(), /僅能檢視/);
  assert.equal(await page.locator('#main form').count(), 0, 'no forms');
  assert.equal(await page.locator('#main button').count(), 0, 'no buttons');
  assert.match(await page.locator('.retention-rules tbody').textContent(), /\*@ntbt\.gov\.tw/);
  assert.match(await page.locator('.retention-holds tbody').textContent(), new RegExp(HOLD.name));
  const states = await texts(page, '.retention-batches .batch-state');
  assert.deepEqual(states.sort(), ['已銷毀', '已駁回'].sort());
  await openBatch(page, batchId);
  assert.equal(await page.locator('.batch-actions').count(), 0, 'no actions on a batch');
  assert.deepEqual(await texts(page, '.outcome'), ['已銷毀']);
  // The message view has no restore form for an auditor.
  await page.goto(`${base}#/message/${ids.restore}`);
  await page.waitForSelector('.message');
  assert.equal(await page.locator('.restore').count(), 0);

  // Reached anyway, the server refuses (with the CSRF token, so it is the role).
  const answer = await page.evaluate(async () => {
    const s = await (await fetch('/api/v1/session')).json();
    const r = await fetch('/api/v1/archive/retention/holds', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf },
      body: JSON.stringify({ name: '稽核測試', reason: '不應成功', criterion: { kind: 'messages', messages: [1] } }),
    });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(answer.status, 403);
  assert.equal(answer.body.error.code, 'permission_denied');
  await context.close();
  await checkPage('overview-auditor', '#/retention', '.retention-batches table', 'audit');
  await checkPage('batch-auditor', `#/batch/${batchId}`, '.batch-facts', 'audit');
});

test('the clerk restores a message to their own mailbox; another address is refused', async () => {
  const { context, page } = await signedIn('wang');
  assert.deepEqual(await menuRoutes(page), ['search'], 'no retention for a clerk');
  await page.goto(`${base}#/message/${ids.restore}`);
  const to = page.locator('.restore-form').getByLabel('收件信箱');
  await to.waitFor();
  assert.equal(await to.inputValue(), 'wang@ntbt.gov.tw', 'the clerk\'s own address by default');
  assert.match(await page.locator('.restore').textContent(), /僅能回復至您自己的信箱：wang@ntbt\.gov\.tw/);
  const before = sink.messages.length;
  await page.getByRole('button', { name: '回復至信箱' }).click();
  await page.waitForSelector('.restore-result[data-state]');
  assert.equal(await page.locator('.restore-result').getAttribute('data-state'), 'done',
    await page.locator('.restore-result').textContent());
  assert.match(await page.locator('.restore-result').textContent(), /已寄出至：wang@ntbt\.gov\.tw/);
  assert.equal(sink.messages.length, before + 1, 'the sink received the message');
  const got = sink.messages.at(-1);
  assert.deepEqual(got.to, ['wang@ntbt.gov.tw']);
  assert.ok(got.data.includes(`Subject: ${word(MAIL.restore.subject)}`), `the Subject in:\n${got.data.slice(0, 800)}`);
  assert.match(got.data, /^Resent-To: wang@ntbt\.gov\.tw\r?$/m);
  assert.match(got.data, /^Resent-From: <archive@[^>]+>\r?$/m);
  assert.match(got.data, /^Resent-Date: /m);
  assert.ok(got.data.includes(b64(MAIL.restore.text).slice(0, 40)), 'the body as archived');
  await shoot(page, 'retention-restore-done', VIEWPORTS[0]);

  // To another's address: the server's refusal is shown, and nothing is sent.
  await to.fill('chief@tainan.gov.tw');
  await page.getByRole('button', { name: '回復至信箱' }).click();
  await page.waitForSelector('.restore-result[data-state="error"]');
  const refusal = await page.locator('.restore-result .error').textContent();
  assert.match(refusal, /沒有權限/);
  assert.match(refusal, /a clerk restores mail only to their own addresses/);
  assert.equal(sink.messages.length, before + 1, 'nothing more was sent');
  await context.close();
  await checkPage('restore-form', `#/message/${ids.restore}`, '.restore-form', 'wang');
});

test('no request left 127.0.0.1 and no page broke the Content-Security-Policy', () => {
  assert.deepEqual(harness.cspViolations, []);
  assert.deepEqual(harness.external, []);
});
