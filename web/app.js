// The web console: a single page with hash routes over the REST API of docs/api.md.
//   #/sign-in            sign in (name, password, optional TOTP code)
//   #/search?q=…         archive search (query language plus filter fields)
//   #/message/ID         one message: headers, text, sanitised HTML in a sandboxed frame
//   #/audit?since=…      audit log and hash-chain status (auditor, records, admin)
//   #/accounts           console accounts (admin)
//   #/vaults             the vaults: k-of-n, stores' health, snapshots, drills (operator,
//                        admin; auditor and records read-only)
//   #/vault/NAME         one vault: snapshots, drills, back up now, run a drill (as jobs)
import { api, setCsrf, whenUnauthenticated, emlUrl, attachmentUrl } from './api.js';
import { t, initLang, setLang, getLang, has, formatDate, formatSize, formatDuration } from './i18n.js';
import { h, clear, field } from './dom.js';

const MAIL_ROLES = ['clerk', 'auditor', 'records', 'admin'];
const VAULT_ROLES = ['operator', 'admin', 'auditor', 'records'];
const VAULT_WRITERS = ['operator', 'admin'];
const PAGES = [
  { route: 'search', key: 'menu.search', roles: MAIL_ROLES },
  { route: 'audit', key: 'menu.audit', roles: ['auditor', 'records', 'admin'] },
  { route: 'vaults', key: 'menu.vaults', roles: VAULT_ROLES },
  { route: 'accounts', key: 'menu.accounts', roles: ['admin'] },
];

const state = {
  session: null,        // the answer of GET/POST /api/v1/session
  returnTo: null,       // where to go after signing in again
  notice: null,         // a one-time note on the sign-in page
  lastSearch: '#/search',
  renderId: 0,
  cache: null,          // {hash, data}: re-rendering in another language fetches nothing
};

const $ = (sel) => document.querySelector(sel);
const main = () => $('#main');

// --- the frame around every page ------------------------------------------------------

function mayUse(route, role = state.session?.role) {
  if (route === 'message') return MAIL_ROLES.includes(role);
  if (route === 'vault') return VAULT_ROLES.includes(role);
  const page = PAGES.find((p) => p.route === route);
  return !!page && page.roles.includes(role);
}

function renderChrome() {
  document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
  const sw = $('#lang-switch');
  sw.textContent = t('switchTo');
  sw.setAttribute('lang', getLang() === 'en' ? 'zh-Hant-TW' : 'en');
  sw.setAttribute('aria-label', t('switchToLabel'));

  const nav = $('#menu');
  nav.setAttribute('aria-label', t('menu'));
  const list = clear(nav.querySelector('ul'));
  const who = $('#who');
  const signOut = $('#sign-out');
  const s = state.session;
  if (!s) {
    nav.hidden = true;
    who.hidden = true;
    signOut.hidden = true;
    return;
  }
  const current = routeOf(location.hash).name;
  for (const p of PAGES) {
    if (!p.roles.includes(s.role)) continue;
    const active = current === p.route || (p.route === 'search' && current === 'message')
      || (p.route === 'vaults' && current === 'vault');
    list.appendChild(h('li', {}, h('a', {
      href: `#/${p.route}`, 'data-route': p.route, 'aria-current': active ? 'page' : null,
    }, t(p.key))));
  }
  nav.hidden = list.childElementCount === 0;
  who.textContent = t('signedInAs', { name: s.display_name || s.account, role: roleName(s.role) });
  who.hidden = false;
  signOut.hidden = false;
}

const roleName = (role) => (has(`role.${role}`) ? t(`role.${role}`) : role);

function errorText(e) {
  const code = e && e.code;
  const summary = code && has(`error.${code}`) ? t(`error.${code}`) : t('error.generic');
  const detail = e && e.message && e.message !== code ? e.message : '';
  return detail ? t('error.withDetail', { summary, detail }) : summary;
}

function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, errorText(e));
}

// --- routing ---------------------------------------------------------------------------

function routeOf(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  return { name: parts[0] || '', arg: parts[1] ? decodeURIComponent(parts[1]) : null, params: new URLSearchParams(qs) };
}

function defaultRoute() {
  const p = state.session && PAGES.find((x) => x.roles.includes(state.session.role));
  return p ? `#/${p.route}` : '#/home';
}

function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

async function render({ focus = true, reuse = false } = {}) {
  const id = ++state.renderId;
  const hash = location.hash;
  const route = routeOf(hash);
  if (!reuse) state.cache = null;
  if (!state.session && route.name !== 'sign-in') {
    if (hash && hash !== '#/' && hash !== '#/sign-in') state.returnTo = hash;
    location.replace('#/sign-in');
    return;
  }
  if (state.session && (route.name === '' || route.name === 'sign-in')) {
    location.replace(defaultRoute());
    return;
  }
  renderChrome();
  const view = VIEWS[route.name];
  const m = clear(main());
  if (!view) {
    m.append(h('h1', { tabindex: '-1' }, t('error.title')), h('p', {}, t('notFound')));
  } else if (route.name !== 'sign-in' && route.name !== 'home' && !mayUse(route.name)) {
    m.append(h('h1', { tabindex: '-1' }, t('error.title')),
      errorBox({ code: 'permission_denied' }));
  } else {
    await view(m, route, () => id === state.renderId);
  }
  if (id !== state.renderId) return;
  document.title = `${m.querySelector('h1')?.textContent || ''} — Tessera`;
  if (focus) m.querySelector('h1')?.focus({ preventScroll: false });
}

// fetch once per hash: switching language redraws from the same answer.
async function load(fetcher) {
  if (state.cache && state.cache.hash === location.hash) return state.cache.data;
  const data = await fetcher();
  state.cache = { hash: location.hash, data };
  return data;
}

// --- views -----------------------------------------------------------------------------

const VIEWS = {
  'sign-in': viewSignIn,
  home: viewHome,
  search: viewSearch,
  message: viewMessage,
  audit: viewAudit,
  accounts: viewAccounts,
  vaults: viewVaults,
  vault: viewVault,
};

function viewSignIn(m) {
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const totp = h('input', { type: 'text', name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: '6' });
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('signin.submit'));
  if (state.notice) status.append(h('p', { class: 'notice', role: 'status' }, state.notice));
  state.notice = null;
  const form = h('form', { class: 'card narrow', novalidate: true, 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title', tabindex: '-1' }, t('signin.title')),
    h('p', {}, t('signin.intro')),
    status,
    field(t('signin.name'), name),
    field(t('signin.password'), password),
    field(t('signin.totp'), totp),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(status);
    if (!name.value.trim() || !password.value) {
      status.append(errorBox({ code: 'invalid_argument', message: t('signin.name') + ' / ' + t('signin.password') }));
      (name.value.trim() ? password : name).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('signin.busy');
    try {
      const s = await api.signIn(name.value.trim(), password.value, totp.value.trim());
      signedIn(s);
      const to = state.returnTo && mayUse(routeOf(state.returnTo).name) ? state.returnTo : defaultRoute();
      state.returnTo = null;
      go(to);
    } catch (e) {
      password.value = '';
      totp.value = '';
      status.append(errorBox(e));
      password.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t('signin.submit');
    }
  });
  m.append(form);
}

function viewHome(m) {
  m.append(h('h1', { tabindex: '-1' }, t('home.title')), h('p', {}, t('home.none')));
}

function combineQuery(p) {
  const quote = (v) => (/[\s"]/.test(v) ? `"${v.replace(/"/g, '')}"` : v);
  const parts = [];
  if (p.get('q')?.trim()) parts.push(p.get('q').trim());
  if (p.get('from')?.trim()) parts.push(`from:${quote(p.get('from').trim())}`);
  if (p.get('to')?.trim()) parts.push(`to:${quote(p.get('to').trim())}`);
  if (p.get('after')) parts.push(`after:${p.get('after')}`);
  if (p.get('before')) parts.push(`before:${p.get('before')}`);
  if (p.get('att') === '1') parts.push('has:attachment');
  return parts.join(' ');
}

async function viewSearch(m, route, live) {
  const p = route.params;
  const q = h('input', { type: 'search', name: 'q', value: p.get('q') || '', autocomplete: 'off', enterkeyhint: 'search' });
  const from = h('input', { type: 'text', name: 'from', value: p.get('from') || '', autocomplete: 'off' });
  const to = h('input', { type: 'text', name: 'to', value: p.get('to') || '', autocomplete: 'off' });
  const after = h('input', { type: 'date', name: 'after', value: p.get('after') || '' });
  const before = h('input', { type: 'date', name: 'before', value: p.get('before') || '' });
  const att = h('input', { type: 'checkbox', name: 'att', value: '1' });
  att.checked = p.get('att') === '1';
  const form = h('form', { role: 'search', class: 'card search-form', 'aria-labelledby': 'search-title' },
    field(t('search.query'), q, t('search.queryHelp')),
    h('fieldset', { class: 'filters' },
      h('legend', {}, t('search.filters')),
      h('div', { class: 'grid' },
        field(t('search.from'), from), field(t('search.to'), to),
        field(t('search.after'), after), field(t('search.before'), before)),
      field(t('search.hasAttachment'), att)),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, t('search.submit')),
      h('button', { type: 'button', onclick: () => go('#/search') }, t('search.clear'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const np = new URLSearchParams();
    for (const [k, el] of [['q', q], ['from', from], ['to', to], ['after', after], ['before', before]]) {
      if (el.value.trim()) np.set(k, el.value.trim());
    }
    if (att.checked) np.set('att', '1');
    np.set('run', '1');
    go(`#/search?${np}`);
  });
  const results = h('section', { class: 'results', 'aria-labelledby': 'results-title' });
  m.append(h('h1', { id: 'search-title', tabindex: '-1' }, t('search.title')), form, results);

  const query = combineQuery(p);
  if (!p.has('run') && !query) {
    results.append(h('p', { class: 'hint' }, t('search.hint')));
    return;
  }
  state.lastSearch = location.hash;
  const status = h('p', { class: 'result-count', role: 'status' }, t('loading'));
  results.append(h('h2', { id: 'results-title' }, t('search.results')), status);
  let data;
  try {
    data = await load(() => api.search(query, 50));
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  const hits = data.hits || [];
  status.textContent = hits.length === 0 ? t('search.none')
    : t('search.matches', { n: data.matches ?? hits.length }) + ((data.matches ?? 0) > hits.length ? t('search.shown', { n: hits.length }) : '');
  if (hits.length === 0) return;
  results.append(h('ol', { class: 'hits' }, hits.map(hitItem)));
}

function hitItem(hit) {
  const meta = [
    [t('field.from'), hit.from],
    [t('field.to'), (hit.recipients || []).join('、')],
    [t('field.date'), h('time', { datetime: hit.date }, formatDate(hit.date))],
  ];
  if (hit.attachments && hit.attachments.length) meta.push([t('field.attachments'), hit.attachments.join('、')]);
  return h('li', { class: 'hit' },
    h('h3', { class: 'hit-subject' },
      h('a', { href: `#/message/${encodeURIComponent(hit.id)}` }, hit.subject || t('search.noSubject'))),
    h('dl', { class: 'meta' }, meta.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))));
}

function srcdocFor(html) {
  // The frame inherits the page's policy; this one adds: nothing at all may load.
  return '<!doctype html><html><head><meta charset="utf-8">'
    + '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:">'
    + `</head><body>${html}</body></html>`;
}

async function viewMessage(m, route, live) {
  const back = h('p', { class: 'back' }, h('a', { href: state.lastSearch }, `← ${t('message.back')}`));
  m.append(back);
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(status);
  let msg;
  try {
    msg = await load(() => api.message(route.arg));
  } catch (e) {
    if (!live()) return;
    status.replaceWith(h('h1', { tabindex: '-1' }, t('error.title')), errorBox(e));
    return;
  }
  if (!live()) return;
  status.remove();
  const headers = [
    [t('field.from'), msg.from],
    [t('field.to'), (msg.to || []).join('、')],
  ];
  if (msg.cc && msg.cc.length) headers.push([t('field.cc'), msg.cc.join('、')]);
  headers.push([t('field.date'), h('time', { datetime: msg.date }, formatDate(msg.date))]);
  if (msg.message_id) headers.push([t('field.messageId'), msg.message_id]);

  const article = h('article', { class: 'message', 'aria-labelledby': 'message-title' },
    h('h1', { id: 'message-title', tabindex: '-1' }, msg.subject || t('search.noSubject')),
    h('dl', { class: 'meta headers' }, headers.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))));

  if (msg.html_truncated) article.append(h('p', { class: 'notice', role: 'note' }, t('message.truncated')));
  if (Array.isArray(msg.problems) && msg.problems.length) {
    article.append(h('div', { class: 'notice', role: 'note' }, h('p', {}, t('message.problems')),
      h('ul', {}, msg.problems.map((x) => h('li', {}, typeof x === 'string' ? x : JSON.stringify(x))))));
  }
  if (msg.remote_content_blocked > 0) {
    article.append(h('p', { class: 'notice blocked', role: 'note' }, t('message.blocked', { n: msg.remote_content_blocked })));
  }

  const downloads = h('ul', { class: 'downloads' },
    h('li', {}, h('a', { href: emlUrl(msg.id ?? route.arg), download: `message-${msg.id ?? route.arg}.eml`, class: 'download', 'data-kind': 'eml' }, t('message.eml'))),
    (msg.attachments || []).map((a) => h('li', {},
      h('a', { href: attachmentUrl(msg.id ?? route.arg, a.index), download: a.name || '', class: 'download', 'data-kind': 'attachment' },
        t('message.attachment', { name: a.name || `#${a.index}` })),
      ' ', h('span', { class: 'muted' }, `（${[a.type, formatSize(a.size)].filter(Boolean).join('，')}）`))));
  article.append(h('section', { 'aria-labelledby': 'downloads-title' },
    h('h2', { id: 'downloads-title' }, t('message.downloads')), downloads));

  article.append(h('section', { 'aria-labelledby': 'text-title' },
    h('h2', { id: 'text-title' }, t('message.text')),
    msg.text ? h('pre', { class: 'mail-text', tabindex: '0' }, msg.text) : h('p', { class: 'muted' }, t('message.noText'))));

  if (msg.html) {
    // sandbox="" before srcdoc: no scripts, no same origin, no forms, no popups.
    const frame = h('iframe', { sandbox: '', class: 'mail-html', title: t('message.htmlFrame'), referrerpolicy: 'no-referrer' });
    frame.srcdoc = srcdocFor(msg.html);
    article.append(h('section', { 'aria-labelledby': 'html-title' },
      h('h2', { id: 'html-title' }, t('message.html')), frame));
  }

  if (msg.deliveries && msg.deliveries.length) {
    article.append(h('section', { 'aria-labelledby': 'deliveries-title' },
      h('h2', { id: 'deliveries-title' }, t('message.deliveries')),
      table(t('message.deliveries'), [
        [t('message.deliveryAt'), (d) => h('time', { datetime: d.at }, formatDate(d.at)), 'when'],
        [t('message.deliverySender'), (d) => d.sender],
        [t('message.deliveryRecipients'), (d) => (d.recipients || []).join('、')],
        [t('message.deliveryOrigin'), (d) => d.origin],
      ], msg.deliveries, true)));
  }
  m.append(article);
}

// A table that becomes labelled blocks on a phone (style.css: .responsive). A column is
// [label, cell(row) → text or node, optional class: 'word' keeps words whole, 'when' a date].
function table(caption, columns, rows, hideCaption = false) {
  return h('table', { class: 'responsive' },
    h('caption', { class: hideCaption ? 'visually-hidden' : null }, caption),
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([label, cell, cls]) => h('td', { 'data-label': label, class: cls }, cell(r)))))));
}

async function viewAudit(m, route, live) {
  const p = route.params;
  const since = h('input', { type: 'date', name: 'since', value: p.get('since') || '' });
  const limit = h('input', { type: 'number', name: 'limit', min: '1', max: '5000', step: '1', value: p.get('limit') || '200', inputmode: 'numeric' });
  const form = h('form', { class: 'card inline-form', 'aria-labelledby': 'audit-title' },
    field(t('audit.since'), since), field(t('audit.limit'), limit),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('audit.submit'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const np = new URLSearchParams();
    if (since.value) np.set('since', since.value);
    if (limit.value) np.set('limit', limit.value);
    go(`#/audit?${np}`);
  });
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(h('h1', { id: 'audit-title', tabindex: '-1' }, t('audit.title')), form, status);
  let data;
  try {
    data = await load(() => api.audit(p.get('since') || undefined, p.get('limit') || 200));
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  const problems = data.problems || [];
  status.className = data.ok ? 'chain ok' : 'chain bad';
  status.textContent = data.ok ? t('audit.chainOk', { n: data.chain_records ?? '?' })
    : t('audit.chainBad', { n: data.chain_records ?? '?', p: problems.length });
  if (problems.length) {
    status.after(h('ul', { class: 'problems' }, problems.map((x) => h('li', {}, typeof x === 'string' ? x : JSON.stringify(x)))));
  }
  const records = data.records || [];
  if (!records.length) {
    m.append(h('p', {}, t('audit.none')));
    return;
  }
  m.append(table(t('audit.caption'), [
    [t('audit.seq'), (r) => r.seq, 'word'],
    [t('audit.at'), (r) => h('time', { datetime: r.at }, formatDate(r.at)), 'when'],
    [t('audit.actor'), (r) => r.actor, 'word'],
    [t('audit.action'), (r) => r.action, 'word'],
    [t('audit.target'), (r) => r.target],
    [t('audit.outcome'), (r) => r.outcome],
  ], records));
}

async function viewAccounts(m, route, live) {
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(h('h1', { tabindex: '-1' }, t('accounts.title')), status);
  let data;
  try {
    data = await load(() => api.accounts());
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  status.remove();
  const yn = (v) => (v ? t('yes') : t('no'));
  m.append(table(t('accounts.caption'), [
    [t('accounts.name'), (a) => a.name, 'word'],
    [t('accounts.displayName'), (a) => a.display_name || ''],
    [t('accounts.role'), (a) => roleName(a.role)],
    [t('accounts.agency'), (a) => a.agency || ''],
    [t('accounts.totp'), (a) => yn(a.totp)],
    [t('accounts.locked'), (a) => yn(a.locked)],
  ], data.accounts || []), h('p', { class: 'muted' }, t('accounts.cliNote')));
}

// --- vaults ----------------------------------------------------------------------------

// The job being watched on each vault (name → {id, kind, job, error, running}): kept across
// re-renders (a language switch, leaving and coming back) so the progress goes on showing.
const vaultJobs = new Map();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mayWriteVaults = () => VAULT_WRITERS.includes(state.session?.role);
const vaultHash = (name) => `#/vault/${encodeURIComponent(name)}`;

function when(value) {
  return value ? h('time', { datetime: value }, formatDate(value)) : t('vault.noneYet');
}

function drillResult(d) {
  return h('span', { class: d.ok ? 'result ok' : 'result bad' }, d.ok ? t('vault.pass') : t('vault.fail'));
}

function lastDrillText(d) {
  if (!d) return t('vault.noneYet');
  const sep = getLang() === 'en' ? ', ' : '，';
  return h('span', { class: 'last-drill' }, drillResult(d), sep, when(d.at),
    `${sep}RTO ${formatDuration(d.rto_seconds)}${sep}RPO ${formatDuration(d.rpo_seconds)}`);
}

function storeHealth(s) {
  return s.ok ? h('span', { class: 'result ok' }, t('vault.storeOk'))
    : h('span', { class: 'result bad' }, t('vault.storeBad', { problem: s.problem || '?' }));
}

function vaultFacts(v) {
  const facts = [
    [t('vault.threshold'), h('span', { class: 'k-of-n' }, `${v.k}/${v.n}（${t('vault.thresholdValue', { k: v.k, n: v.n })}）`)],
    [t('vault.snapshots'), h('span', { class: 'snapshot-count' }, v.snapshots ?? '—')],
    [t('vault.newest'), when(v.newest_snapshot)],
    [t('vault.lastDrill'), lastDrillText(v.last_drill)],
    [t('vault.drillsThisYear'), h('span', { class: 'kpi-drills', dataset: { n: v.drills_this_year ?? '' } },
      v.drills_this_year === null || v.drills_this_year === undefined ? '—' : t('vault.drillsThisYearValue', { n: v.drills_this_year }))],
  ];
  if (v.job) facts.push([t('vault.jobStatus'), h('span', { class: 'job-running' }, t('vault.busyOther'))]);
  if (v.problem) facts.push([t('vault.problem'), h('span', { class: 'result bad' }, v.problem)]);
  return h('dl', { class: 'meta vault-facts' }, facts.map(([k, x]) => h('div', {}, h('dt', {}, k), h('dd', {}, x))));
}

function storesTable(v) {
  return table(t('vault.storesCaption'), [
    [t('vault.storeIndex'), (s) => s.index, 'word'],
    [t('vault.storeLocation'), (s) => s.location],
    [t('vault.storeKind'), (s) => s.kind, 'word'],
    [t('vault.storeHealth'), storeHealth],
  ], v.stores || []);
}

async function viewVaults(m, route, live) {
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(h('h1', { tabindex: '-1' }, t('vaults.title')), status);
  let data;
  try {
    data = await load(() => api.vaults());
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  status.remove();
  const vaults = data.vaults || [];
  if (!vaults.length) {
    m.append(h('p', {}, t('vaults.none')));
    return;
  }
  for (const v of vaults) {
    const titleId = `vault-${v.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
    m.append(h('section', { class: 'card vault', 'aria-labelledby': titleId, dataset: { vault: v.name } },
      h('h2', { id: titleId }, h('a', { href: vaultHash(v.name), 'aria-label': t('vaults.open', { name: v.name }) }, v.name)),
      vaultFacts(v), storesTable(v)));
  }
}

function snapshotsTable(snaps) {
  if (!snaps.length) return h('p', { class: 'muted' }, t('vault.noSnapshots'));
  return table(t('vault.snapshotCaption'), [
    [t('vault.snapTime'), (x) => when(x.time), 'when'],
    [t('vault.snapId'), (x) => h('code', {}, x.short_id || (x.id || '').slice(0, 8)), 'word'],
    [t('vault.snapFiles'), (x) => x.files ?? '', 'word'],
    [t('vault.snapBytes'), (x) => formatSize(x.bytes), 'word'],
    [t('vault.snapPaths'), (x) => (x.paths || []).join('、')],
  ], snaps, true);
}

function drillsTable(drills) {
  if (!drills.length) return h('p', { class: 'muted' }, t('vault.noDrills'));
  const list = (a) => (Array.isArray(a) && a.length ? a.join('、') : '—');
  return table(t('vault.drillCaption'), [
    [t('vault.drillAt'), (d) => when(d.at), 'when'],
    [t('vault.drillResult'), drillResult],
    [t('vault.rto'), (d) => formatDuration(d.rto_seconds), 'rto'],
    [t('vault.rpo'), (d) => formatDuration(d.rpo_seconds), 'rpo'],
    [t('vault.storesUsed'), (d) => list(d.stores_used)],
    [t('vault.storesLost'), (d) => list(d.stores_lost)],
    [t('vault.filesVerified'), (d) => d.files_verified ?? '', 'word'],
  ], drills, true);
}

// Fills the parts of a vault's page that come from the server (again after a job).
function fillVault(parts, [v, snaps, drills]) {
  clear(parts.facts).append(vaultFacts(v), h('h3', {}, t('vault.stores')), storesTable(v));
  clear(parts.snapshots).append(snapshotsTable(snaps.snapshots || []));
  const perYear = (drills.per_year || []).map((y) => t('vault.perYear', y)).join('；');
  clear(parts.drills).append(perYear ? h('p', { class: 'per-year' }, perYear) : null, drillsTable(drills.drills || []));
}

const loadVault = (name) => Promise.all([api.vault(name), api.snapshots(name), api.drills(name)]);

async function viewVault(m, route, live) {
  const name = route.arg || '';
  m.append(h('p', { class: 'back' }, h('a', { href: '#/vaults' }, `← ${t('vault.back')}`)),
    h('h1', { tabindex: '-1' }, t('vault.title', { name })));
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(status);
  let data;
  try {
    data = await load(() => loadVault(name));
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  status.remove();
  const parts = {
    facts: h('div', { class: 'vault-summary' }),
    snapshots: h('div', { id: 'vault-snapshots' }),
    drills: h('div', { id: 'vault-drills' }),
  };
  m.append(h('section', { class: 'card', 'aria-label': t('vault.title', { name }) }, parts.facts));
  if (mayWriteVaults()) m.append(vaultActions(name, data[0]));
  m.append(
    h('section', { 'aria-labelledby': 'snapshots-title' }, h('h2', { id: 'snapshots-title' }, t('vault.snapshotList')), parts.snapshots),
    h('section', { 'aria-labelledby': 'drills-title' }, h('h2', { id: 'drills-title' }, t('vault.drillList')), parts.drills));
  fillVault(parts, data);
  const w = vaultJobs.get(name);
  if (data[0].job && !(w && w.id === data[0].job) && mayWriteVaults()) watchJob(name, data[0].job);
  else updateJobView(name);
}

function vaultActions(name, v) {
  const paths = h('textarea', { name: 'paths', rows: '3', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const backup = h('form', { class: 'card vault-action backup-form', 'aria-labelledby': 'backup-title', novalidate: true },
    h('h3', { id: 'backup-title' }, t('vault.backupTitle')),
    field(t('vault.backupPaths'), paths, t('vault.backupHelp')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('vault.backupSubmit'))));
  const lose = (v.stores || []).map((s) => {
    const box = h('input', { type: 'checkbox', name: 'lose', value: String(s.index) });
    return field(t('vault.drillLoseStore', { index: s.index, location: s.location }), box);
  });
  const drill = h('form', { class: 'card vault-action drill-form', 'aria-labelledby': 'drill-title' },
    h('h3', { id: 'drill-title' }, t('vault.drillTitle')),
    h('p', { class: 'help' }, t('vault.drillIntro')),
    lose.length ? h('fieldset', {}, h('legend', {}, t('vault.drillLose')), lose) : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('vault.drillSubmit'))));
  const region = h('div', { class: 'job-status', id: 'job-status', role: 'status', 'aria-live': 'polite',
    'aria-label': t('vault.jobStatus'), dataset: { vault: name } });

  const start = async (form, post, kind) => {
    const w = vaultJobs.get(name);
    if (w && w.running) return;
    setVaultBusy(name, true);
    clear(region).append(h('p', {}, t('vault.jobStarting')));
    region.dataset.state = 'starting';
    try {
      const answer = await post();
      watchJob(name, answer.job, kind);
    } catch (e) {
      region.dataset.state = 'error';
      clear(region).append(errorBox(e));
      setVaultBusy(name, false);
    }
  };
  backup.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const list = paths.value.split('\n').map((x) => x.trim()).filter(Boolean);
    if (!list.length) {
      region.dataset.state = 'error';
      clear(region).append(errorBox({ code: 'invalid_argument', message: t('vault.backupNoPaths') }));
      paths.focus();
      return;
    }
    start(backup, () => api.backup(name, list), 'backup');
  });
  drill.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const lost = [...drill.querySelectorAll('input[name="lose"]:checked')].map((x) => Number(x.value));
    start(drill, () => api.drill(name, lost.length ? { lose: lost } : {}), 'drill');
  });
  return h('section', { class: 'vault-actions', 'aria-labelledby': 'actions-title' },
    h('h2', { id: 'actions-title' }, t('vault.actions')),
    h('div', { class: 'action-grid' }, backup, drill),
    region);
}

function setVaultBusy(name, busy) {
  const region = document.getElementById('job-status');
  if (!region || region.dataset.vault !== name) return;
  region.setAttribute('aria-busy', busy ? 'true' : 'false');
  for (const b of document.querySelectorAll('form.vault-action button[type="submit"]')) b.disabled = busy;
}

// Polls GET /jobs/{id} about every 500 ms until the job has ended, then shows its result
// and refreshes the vault's lists (if its page is still shown).
async function watchJob(name, id, kind) {
  const w = { id, kind, job: null, error: null, running: true };
  vaultJobs.set(name, w);
  updateJobView(name);
  while (vaultJobs.get(name) === w && state.session) {
    try {
      w.job = await api.job(id);
    } catch (e) {
      w.error = e;
      break;
    }
    if (w.job.kind) w.kind = w.job.kind;
    if (w.job.state !== 'running') break;
    updateJobView(name);
    await sleep(500);
  }
  w.running = false;
  if (vaultJobs.get(name) !== w) return;
  await refreshVault(name);
  updateJobView(name);
}

async function refreshVault(name) {
  if (routeOf(location.hash).name !== 'vault' || routeOf(location.hash).arg !== name) return;
  let data;
  try {
    data = await loadVault(name);
  } catch {
    return; // the job's result is shown; the lists stay as they were
  }
  if (routeOf(location.hash).arg !== name) return;
  state.cache = { hash: location.hash, data };
  const parts = {
    facts: document.querySelector('#main .vault-summary'),
    snapshots: document.getElementById('vault-snapshots'),
    drills: document.getElementById('vault-drills'),
  };
  if (parts.facts && parts.snapshots && parts.drills) fillVault(parts, data);
}

function updateJobView(name) {
  const region = document.getElementById('job-status');
  if (!region || region.dataset.vault !== name) return;
  const w = vaultJobs.get(name);
  if (!w) {
    setVaultBusy(name, false);
    return;
  }
  setVaultBusy(name, w.running);
  const j = w.job;
  const r = j && j.result;
  let text;
  let cls = '';
  if (w.error) {
    region.dataset.state = 'error';
    clear(region).append(errorBox(w.error));
    return;
  }
  if (!j) {
    region.dataset.state = 'starting';
    text = t('vault.jobStarting');
  } else if (j.state === 'running') {
    region.dataset.state = 'running';
    const p = j.progress || {};
    text = t(w.kind === 'drill' ? 'vault.drillRunning' : 'vault.backupRunning', { items: p.items ?? 0, bytes: formatSize(p.bytes ?? 0) });
  } else if (j.state === 'done') {
    region.dataset.state = 'done';
    cls = 'chain ok';
    text = w.kind === 'drill'
      ? t('vault.drillDone', { rto: formatDuration(r?.rto_seconds), rpo: formatDuration(r?.rpo_seconds), files: r?.files_verified ?? '?' })
      : t('vault.backupDone', { id: r?.short_id || (r?.snapshot || '').slice(0, 8), files: r?.files ?? '?', bytes: formatSize(r?.bytes ?? 0), seconds: formatDuration(r?.seconds) });
  } else {
    region.dataset.state = 'failed';
    cls = 'chain bad';
    text = w.kind === 'drill' && r ? t('vault.drillFailed', { error: j.error || '' }) : t('vault.jobFailed', { error: j.error || '' });
  }
  clear(region).append(h('p', { class: cls || null }, text));
}

// --- session ---------------------------------------------------------------------------

function signedIn(s) {
  state.session = s;
  setCsrf(s && s.csrf);
}

whenUnauthenticated(() => {
  if (!state.session) return;
  signedIn(null);
  state.notice = t('signin.expired');
  const hash = location.hash;
  if (routeOf(hash).name !== 'sign-in') state.returnTo = hash;
  location.replace('#/sign-in');
});

async function signOut() {
  try {
    await api.signOut();
  } catch (e) {
    if (e.status !== 401) {
      clear(main()).append(h('h1', { tabindex: '-1' }, t('error.title')), errorBox(e));
      return;
    }
  }
  signedIn(null);
  state.notice = t('signin.signedOut');
  state.returnTo = null;
  state.lastSearch = '#/search';
  go('#/sign-in');
}

async function start() {
  initLang();
  $('#lang-switch').addEventListener('click', () => {
    setLang(getLang() === 'en' ? 'zh-TW' : 'en');
    render({ focus: false, reuse: true }).then(() => $('#lang-switch').focus());
  });
  $('#sign-out').addEventListener('click', signOut);
  // The skip link moves focus without touching the hash (the router owns it).
  $('.skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    const target = main().querySelector('h1') || main();
    target.focus();
  });
  window.addEventListener('hashchange', () => render());
  renderChrome();
  try {
    signedIn(await api.session());
  } catch {
    signedIn(null);
  }
  render({ focus: false });
}

start();
