// Browser test of the exchange operators' changes in #/exchange-admin (web/pages/exchange.js,
// server/console_exchange_ops.hpp) on the management host: its registry is set up with the
// real command line as tests/integration/exchange_registry.sh does (a test CA, a center,
// agencies A and B, published as serial 1), and `tessera serve` runs its console there (the
// draft in <home>/exchange/management makes it the management host).
// In Chromium an operator suspends B (the reason is required, then confirmed), changes B's
// allowed addresses (a wrong address is refused with the API's message beside the field,
// nothing saved), sees the draft's changes, publishes with a confirmation, and then the
// published registry — read back with `tessera exchange registry show --json` — carries
// B's suspension and addresses. A clerk has no 交換管理. Shots at both viewports.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Harness, VIEWPORTS, freePort, menuRoutes, unlabelled, layoutProblems, shoot } from './lib.mjs';

const A = 'A15060000H'; // 臺南市政府
const B = '376570000A'; // 臺南市政府教育局
const PASSWORD = { ops: 'operator password 維運 2026', wang: 'clerk password 承辦 2026' };

let harness;
let work;
const abs = (...p) => path.join(work, ...p);

before(async () => {
  harness = new Harness('exchange-ops');
  work = harness.work;
  fs.mkdirSync(abs('certs'), { recursive: true });
  const cli = (args) => harness.cli(args);
  cli(['pki', 'init-ca', '--dir', abs('ca'), '--name', 'Tessera Test GCA']);
  const issue = (name, ip, out) =>
    cli(['pki', 'issue', '--ca', abs('ca'), '--name', name, '--ip', ip, '--out', abs('certs', out)]);
  issue('center-a', '127.0.0.1', 'center-a');
  issue(`${A} 臺南市政府`, '127.0.0.11', 'a');
  issue(`${B} 臺南市政府教育局`, '127.0.0.12', 'b');
  const R = (args) => cli(['exchange', 'registry', ...args]);
  R(['init', '--network', 'tainan-test']);
  R(['anchor', 'add', abs('ca', 'ca.pem')]);
  R(['center', 'add', 'center-a', '--url', `https://127.0.0.1:${await freePort()}`, '--ip', '127.0.0.1', '--cert', abs('certs', 'center-a.pem')]);
  R(['agency', 'add', A, '--name', '臺南市政府', '--center', 'center-a', '--cert', abs('certs', 'a.pem'), '--ip', '127.0.0.11']);
  R(['agency', 'add', B, '--name', '臺南市政府教育局', '--center', 'center-a', '--cert', abs('certs', 'b.pem'), '--ip', '127.0.0.12']);
  R(['publish']);
  await harness.serve(['[archive]', 'lmtp = ""', 'smtp = ""']);
  harness.addAccount('ops', 'operator', PASSWORD.ops, ['--display-name', '陳維運']);
  harness.addAccount('wang', 'clerk', PASSWORD.wang, ['--agency', A, '--display-name', '王小明']);
  await harness.launch();
});

after(async () => {
  if (harness) await harness.stop();
});

const published = () => JSON.parse(harness.cli(['--json', 'exchange', 'registry', 'show']));

test('an operator suspends an agency, changes its addresses and publishes the draft', async () => {
  const { context, page } = await harness.newPage(VIEWPORTS[0]);
  await harness.signIn(page, 'ops');
  assert.ok((await menuRoutes(page)).includes('exchange-admin'), 'the operator has 交換管理');
  await page.goto(`${harness.base}#/exchange-admin`);
  await page.getByRole('heading', { level: 2, name: '登錄表草稿（管理中心）' }).waitFor();
  await page.locator('.ops-nochanges').waitFor();
  assert.match(await page.locator('.ex-draft').textContent(), /目前發布版次：1/);
  const card = () => page.locator(`.ops-agency[data-code="${B}"]`);
  assert.match(await card().textContent(), /臺南市政府教育局/);

  // 中止服務: the reason is required; then a confirmation.
  await card().getByRole('button', { name: '中止服務' }).click();
  assert.match(await card().locator('.ops-suspend .field-error').textContent(), /請選擇中止原因/);
  await card().getByLabel('中止原因').selectOption('security-incident');
  await card().getByLabel('說明').fill('疑似遭入侵，暫停交換');
  await card().getByRole('button', { name: '中止服務' }).click();
  await page.getByRole('alertdialog').waitFor();
  await shoot(page, 'exchange-ops-confirm', VIEWPORTS[0]);
  await page.getByRole('button', { name: '確定中止' }).click();
  await card().locator('.ops-suspended').waitFor();
  assert.match(await card().locator('.ops-suspended').textContent(), /資安事件、疑似遭入侵，暫停交換.*console:ops/);

  // Addresses: a wrong one is refused beside the field, nothing saved.
  await card().getByLabel('允許的來源位址').fill('127.0.0.12\n300.1.2.3');
  await card().getByRole('button', { name: '儲存位址' }).click();
  const aerr = card().locator('.ops-address-form .field-error');
  await page.waitForFunction((code) => document.querySelector(`.ops-agency[data-code="${code}"] .ops-address-form .field-error`)?.textContent, B);
  assert.match(await aerr.textContent(), /300\.1\.2\.3/);
  assert.equal(await card().getByLabel('允許的來源位址').getAttribute('aria-invalid'), 'true');
  await shoot(page, 'exchange-ops-address-error', VIEWPORTS[0]);
  await card().getByLabel('允許的來源位址').fill('127.0.0.12\n192.0.2.8');
  await card().getByRole('button', { name: '儲存位址' }).click();
  // The section is drawn anew from the draft: the change shows among the draft's changes.
  await page.locator('.ops-publish tbody tr', { hasText: '允許的來源位址' }).waitFor();
  assert.match(await card().locator('.ops-agency-status').textContent(), /已存入草稿，發布後生效/);
  assert.equal(await card().getByLabel('允許的來源位址').inputValue(), '127.0.0.12\n192.0.2.8');

  // The draft's changes, then 發布 with a confirmation.
  const changes = page.locator('.ops-publish table tbody tr');
  assert.equal(await changes.count(), 1, await page.locator('.ex-draft').textContent());
  assert.match(await changes.first().textContent(), new RegExp(`${B}.*臺南市政府教育局.*修改.*允許的來源位址、服務狀態`));
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    assert.deepEqual(await unlabelled(page), [], 'every control has a label');
    assert.deepEqual(await layoutProblems(page), [], `layout at ${viewport.width}`);
    await shoot(page, 'exchange-ops-draft', viewport);
  }
  await page.setViewportSize(VIEWPORTS[0]);
  assert.equal(published().agencies.find((a) => a.code === B).suspension, undefined, 'not in effect before publishing');
  await page.getByRole('button', { name: '發布', exact: true }).click();
  await page.getByRole('button', { name: '確定發布' }).click();
  await page.waitForFunction(() => /已發布版次 2/.test(document.querySelector('.ops-pub-status')?.textContent || ''));
  await page.locator('.ops-nochanges').waitFor();
  assert.equal(await page.getByRole('button', { name: '發布', exact: true }).isDisabled(), true, 'nothing left to publish');
  assert.equal(await card().locator('.ops-agency-status').textContent(), '', 'no earlier message stays');

  // The publication, as the command line reads it.
  const reg = published();
  assert.equal(reg.serial, 2);
  const b = reg.agencies.find((a) => a.code === B);
  assert.equal(b.suspension.reason, 'security-incident');
  assert.equal(b.suspension.note, '疑似遭入侵，暫停交換');
  assert.deepEqual(b.addresses, ['127.0.0.12', '192.0.2.8']);
  assert.equal(reg.agencies.find((a) => a.code === A).suspension, undefined);
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    assert.deepEqual(await unlabelled(page), []);
    assert.deepEqual(await layoutProblems(page), [], `layout at ${viewport.width}`);
    await shoot(page, 'exchange-ops-published', viewport);
  }
  await context.close();
});

test('a clerk has no 交換管理 on the management host', async () => {
  const { context, page } = await harness.newPage(VIEWPORTS[1]);
  await harness.signIn(page, 'wang');
  assert.ok(!(await menuRoutes(page)).includes('exchange-admin'));
  await context.close();
  assert.deepEqual(harness.cspViolations, []);
  assert.deepEqual(harness.external, []);
});
