// What the browser tests share: a `tessera serve` started on free 127.0.0.1 ports with its
// own home, the real command line against that home, Debian's Chromium with nothing allowed
// off 127.0.0.1, signing in, and the checks every page gets (labelled controls, layout,
// screenshots). Each *.test.mjs makes one Harness in before() and stops it in after().
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '../..');
export const WEB_ROOT = path.join(ROOT, 'web');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(process.env.TESSERA_E2E_ARTIFACTS || path.join(ROOT, 'build/e2e-artifacts'));
export const VIEWPORTS = [{ width: 1280, height: 800 }, { width: 390, height: 844 }];

// The binary under test, from TESSERA_BIN (tests/e2e/run.sh sets it).
export function tesseraBinary() {
  const bin = process.env.TESSERA_BIN;
  assert.ok(bin, 'TESSERA_BIN must name the tessera binary (tests/e2e/run.sh PATH/TO/tessera)');
  const abs = path.resolve(bin);
  assert.ok(fs.existsSync(abs), `no tessera binary at ${abs}`);
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium; scripts/install-deps.sh does)`);
  return abs;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Waits until 127.0.0.1:port accepts, failing early (with the log) if the child exits.
export async function waitForPort(port, child, ms, log = () => '') {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${child.spawnargs.slice(-1)[0]} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${log()}`);
    }
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); resolve(true); });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${ms} ms:\n${log()}`);
}

// RFC 6238 (HMAC-SHA-1, 30 s, 6 digits) from an RFC 4648 base32 secret.
export function totp(secret, now = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[=\s]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const offset = mac[19] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const running = new Set();
// If the runner itself is ended, the servers go with it.
process.on('exit', () => {
  for (const child of running) if (child.exitCode === null) try { child.kill('SIGTERM'); } catch { /* gone */ }
});

// Stops a child with SIGTERM (SIGKILL after 10 s) and resolves when it has exited.
export function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, 10_000);
    child.once('exit', () => { clearTimeout(timer); running.delete(child); resolve(); });
    child.kill('SIGTERM');
  });
}

export class Harness {
  // name: this test file's, for the scratch directory and the artefacts' names.
  constructor(name) {
    this.name = name;
    this.tessera = tesseraBinary();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), `tessera-e2e-${name}-`));
    this.home = path.join(this.work, 'home');
    this.children = [];     // [{child, log, name}]
    this.external = [];     // every request that would have left 127.0.0.1 (aborted)
    this.cspViolations = []; // the console's own pages must cause none
    this.passwords = {};    // account → password, for signIn
  }

  // The real command line against this harness's home (or another one).
  cli(args, env = {}, home = this.home) {
    try {
      return execFileSync(this.tessera, ['--home', home, ...args], {
        env: { ...process.env, TESSERA_HOME: home, ...env },
        encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
      });
    } catch (e) {
      throw new Error(`tessera ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  }

  // A console account made with the command line, remembered for signIn.
  addAccount(name, role, password, extra = []) {
    this.cli(['console', 'account', 'add', name, '--role', role, ...extra], { TESSERA_PASSWORD: password });
    this.passwords[name] = password;
  }

  // Starts `tessera ARGS` (a long-running command) and waits for it to listen on port.
  async spawn(label, args, port, { env = {}, home = this.home } = {}) {
    const child = spawn(this.tessera, ['--home', home, ...args], {
      env: { ...process.env, TESSERA_HOME: home, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const entry = { child, log: '', name: label };
    child.stdout.on('data', (d) => { entry.log += d; });
    child.stderr.on('data', (d) => { entry.log += d; });
    running.add(child);
    this.children.push(entry);
    await waitForPort(port, child, 30_000, () => entry.log);
    return entry;
  }

  // `tessera serve` with the console on a free port; settingsLines go before [console],
  // consoleLines inside it (e.g. restore_relay = "smtp://…").
  async serve(settingsLines = [], { env = {}, consoleLines = [] } = {}) {
    const consolePort = await freePort();
    const settings = path.join(this.work, 'tessera.toml');
    fs.writeFileSync(settings, [
      ...settingsLines, '',
      // every test signs in afresh from 127.0.0.1: more than the default 10 per 5 minutes
      '[console]', `listen = "127.0.0.1:${consolePort}"`, `web_root = "${WEB_ROOT}"`, 'sign_in_limit = 100',
      ...consoleLines, '',
    ].join('\n'));
    await this.spawn('serve', ['--settings', settings, 'serve'], consolePort, { env });
    this.origin = `https://127.0.0.1:${consolePort}`;
    this.base = `${this.origin}/`;
  }

  async launch() {
    this.browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--ignore-certificate-errors',
        // a second guard besides the request routing in newPage: no name resolves but loopback
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    });
  }

  async newPage(viewport = VIEWPORTS[0]) {
    const context = await this.browser.newContext({
      viewport, locale: 'zh-TW', timezoneId: 'Asia/Taipei', ignoreHTTPSErrors: true, acceptDownloads: true,
    });
    // Nothing may leave 127.0.0.1: every other request is recorded and aborted.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${this.origin}/`)) return route.continue();
      this.external.push(url);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text()) && !(m.location().url || '').startsWith('about:srcdoc')) {
        this.cspViolations.push(`${page.url()}: ${m.text()}`);
      }
    });
    page.on('pageerror', (e) => this.cspViolations.push(`${page.url()}: page error ${e.message}`));
    return { context, page };
  }

  async signIn(page, name, password = this.passwords[name]) {
    await page.goto(this.base);
    await page.getByLabel('帳號', { exact: true }).fill(name);
    await page.getByLabel('密碼', { exact: true }).fill(password);
    await page.getByRole('button', { name: '登入' }).click();
    await page.waitForSelector('#menu:not([hidden]), #main .error');
    const err = await page.locator('#main .error').count();
    assert.equal(err, 0, `signing in as ${name}: ${err && await page.locator('#main .error').textContent()}`);
  }

  // Closes the browser, stops every child (newest first), keeps their logs as artefacts.
  async stop() {
    try { if (this.browser) await this.browser.close(); } finally {
      for (const entry of [...this.children].reverse()) {
        await stopChild(entry.child);
        fs.writeFileSync(path.join(ARTIFACTS, `${this.name}-${entry.name}.log`), entry.log);
      }
      if (!process.env.TESSERA_E2E_KEEP) fs.rmSync(this.work, { recursive: true, force: true });
    }
  }
}

export const menuRoutes = (page) => page.$$eval('#menu a', (as) => as.map((a) => a.dataset.route));

// Every control has an accessible name: a <label>, aria-label or aria-labelledby; buttons and
// links their text; frames a title.
export async function unlabelled(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea, button, a[href], iframe')) {
      if (el.closest('[hidden]') || el.type === 'hidden') continue;
      const named = (el.labels && el.labels.length && [...el.labels].some((l) => l.textContent.trim()))
        || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
        || (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim())
        || (el.tagName === 'IFRAME' && el.title);
      if (!named) bad.push(el.outerHTML.slice(0, 120));
    }
    return bad;
  });
}

// No horizontal scrolling, no visible text sticking out of its box, none squeezed into a
// column one character wide.
export async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const vw = window.innerWidth;
    if (document.documentElement.scrollWidth > vw) {
      problems.push(`page is ${document.documentElement.scrollWidth}px wide in a ${vw}px window`);
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const el = n.parentElement;
      if (!el || el.closest('[hidden], .visually-hidden, .skip-link, script, noscript, thead')) continue;
      const style = getComputedStyle(el);
      if (style.display === 'none' || style.visibility === 'hidden') continue;
      let box = el;
      while (box && ['inline', 'contents'].includes(getComputedStyle(box).display)) box = box.parentElement;
      if (!box) continue;
      const limit = box.getBoundingClientRect();
      const range = document.createRange();
      range.selectNodeContents(n);
      const text = n.textContent.trim();
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (text.length >= 3 && lines.size >= text.length) {
        problems.push(`"${text.slice(0, 40)}" is squeezed to one character a line in <${box.tagName.toLowerCase()}>`);
      }
      for (const r of range.getClientRects()) {
        if (r.width === 0) continue;
        if (r.right > limit.right + 1 || r.left < limit.left - 1 || r.right > vw + 1) {
          problems.push(`"${n.textContent.trim().slice(0, 40)}" overflows <${box.tagName.toLowerCase()} class="${box.className}"> (${Math.round(r.left)}–${Math.round(r.right)} outside ${Math.round(limit.left)}–${Math.round(limit.right)}, window ${vw})`);
          break;
        }
      }
    }
    return problems;
  });
}

export async function shoot(page, name, viewport) {
  const file = path.join(ARTIFACTS, `${name}-${viewport.width}x${viewport.height}.png`);
  // Chromium paints a sandboxed (cross-origin) frame below the fold only once it has been
  // in view: show each frame first, or the full-page capture has it blank.
  for (const frame of await page.locator('iframe').all()) {
    await frame.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
  }
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

