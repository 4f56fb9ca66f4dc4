// The web console: a single page with hash routes over the REST API of docs/api.md.
//   #/sign-in            sign in (name, password, optional TOTP code)
//   #/search?q=…         archive search (query language plus filter fields)
//   #/message/ID         one message: headers, text, sanitised HTML in a sandboxed frame
//   #/audit?since=…      audit log and hash-chain status (auditor, records, admin)
//   #/accounts           console accounts (admin)
import { api, setCsrf, whenUnauthenticated, emlUrl, attachmentUrl } from './api.js';
import { t, initLang, setLang, getLang, has, formatDate, formatSize } from './i18n.js';
import { h, clear, field } from './dom.js';

const MAIL_ROLES = ['clerk', 'auditor', 'records', 'admin'];
const PAGES = [
  { route: 'search', key: 'menu.search', roles: MAIL_ROLES },
  { route: 'audit', key: 'menu.audit', roles: ['auditor', 'records', 'admin'] },
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
    const active = current === p.route || (p.route === 'search' && current === 'message');
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
