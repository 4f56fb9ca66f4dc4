// The web console: a single page with hash routes over the REST API of docs/api.md. This
// file is the frame (menu, language, sign-in, routing); each area's pages are a module of
// pages/ that names its routes, the roles that may open them and its menu entries.
//   #/sign-in            sign in (name, password, optional TOTP code)
//   pages/archive.js     #/search, #/message/ID
//   pages/admin.js       #/audit, #/accounts
//   pages/vault.js       #/vaults, #/vault/NAME
//   pages/retention.js   #/retention, #/batch/ID
//   pages/exchange.js    #/exchange, #/compose, #/document/ID, #/exchange-admin
//   pages/vault_setup.js #/vault-new (the wizard); a vault's schedules on #/vault/NAME
import { api, setCsrf, whenUnauthenticated } from './api.js';
import { t, initLang, setLang, getLang } from './i18n.js';
import { h, clear, field } from './dom.js';
import { state, $, main, errorBox, routeOf, go, setRenderer, roleName } from './shell.js';
import archive from './pages/archive.js';
import { audit, accounts } from './pages/admin.js';
import vault from './pages/vault.js';
import retention from './pages/retention.js';
import exchange from './pages/exchange.js';
import vaultSetup from './pages/vault_setup.js';

// The menu's order is this list's.
const AREAS = [archive, retention, exchange, audit, vault, vaultSetup, accounts];
const VIEWS = Object.assign({}, ...AREAS.map((a) => a.views));
const MENU = AREAS.flatMap((a) => a.menu);

// --- the frame around every page ------------------------------------------------------

function mayUse(route, role = state.session?.role) {
  const v = VIEWS[route];
  return !!v && v.roles.includes(role);
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
  for (const p of MENU) {
    if (!mayUse(p.route, s.role)) continue;
    const active = current === p.route || (p.also || []).includes(current);
    list.appendChild(h('li', {}, h('a', {
      href: `#/${p.route}`, 'data-route': p.route, 'aria-current': active ? 'page' : null,
    }, t(p.key))));
  }
  nav.hidden = list.childElementCount === 0;
  who.textContent = t('signedInAs', { name: s.display_name || s.account, role: roleName(s.role) });
  who.hidden = false;
  signOut.hidden = false;
}

// --- routing ---------------------------------------------------------------------------

function defaultRoute() {
  const p = state.session && MENU.find((x) => mayUse(x.route));
  return p ? `#/${p.route}` : '#/home';
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
  const m = clear(main());
  if (route.name === 'sign-in') viewSignIn(m);
  else if (route.name === 'home') viewHome(m);
  else if (!VIEWS[route.name]) {
    m.append(h('h1', { tabindex: '-1' }, t('error.title')), h('p', {}, t('notFound')));
  } else if (!mayUse(route.name)) {
    m.append(h('h1', { tabindex: '-1' }, t('error.title')),
      errorBox({ code: 'permission_denied' }));
  } else {
    await VIEWS[route.name].view(m, route, () => id === state.renderId);
  }
  if (id !== state.renderId) return;
  document.title = `${m.querySelector('h1')?.textContent || ''} — Tessera`;
  if (focus) m.querySelector('h1')?.focus({ preventScroll: false });
}
setRenderer(() => render());

// --- sign-in ---------------------------------------------------------------------------

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
