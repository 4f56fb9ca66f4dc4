// What every page of the console shares: the session state, routing by hash, errors shown
// the same way, the responsive table, and fetching once per page (a language switch redraws
// from the same answer).
import { t, has } from './i18n.js';
import { h } from './dom.js';

export const state = {
  session: null,        // the answer of GET/POST /api/v1/session
  returnTo: null,       // where to go after signing in again
  notice: null,         // a one-time note on the sign-in page
  lastSearch: '#/search',
  renderId: 0,
  cache: null,          // {hash, data}: re-rendering in another language fetches nothing
};

export const $ = (sel) => document.querySelector(sel);
export const main = () => $('#main');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const hasRole = (roles) => roles.includes(state.session?.role);
export const roleName = (role) => (has(`role.${role}`) ? t(`role.${role}`) : role);

export function errorText(e) {
  const code = e && e.code;
  const summary = code && has(`error.${code}`) ? t(`error.${code}`) : t('error.generic');
  const detail = e && e.message && e.message !== code ? e.message : '';
  return detail ? t('error.withDetail', { summary, detail }) : summary;
}

export function errorBox(e) {
  return h('div', { class: 'error', role: 'alert' }, errorText(e));
}

export function routeOf(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean);
  return { name: parts[0] || '', arg: parts[1] ? decodeURIComponent(parts[1]) : null, params: new URLSearchParams(qs) };
}

let renderPage = () => {};
// app.js hands over its renderer; pages navigate with go().
export function setRenderer(fn) { renderPage = fn; }

export function go(hash) {
  if (location.hash === hash) renderPage();
  else location.hash = hash;
}

// fetch once per hash: switching language redraws from the same answer.
export async function load(fetcher) {
  if (state.cache && state.cache.hash === location.hash) return state.cache.data;
  const data = await fetcher();
  state.cache = { hash: location.hash, data };
  return data;
}

// load() with `status` standing for it on the page: on failure the status becomes the error.
// The data, or null when it failed or the page was left meanwhile (the caller then stops).
export async function loadOrShow(status, fetcher, live) {
  try {
    const data = await load(fetcher);
    return live() ? data : null;
  } catch (e) {
    if (live()) status.replaceWith(errorBox(e));
    return null;
  }
}

// Forget the page's fetched answer (after a change made on it).
export function forget() { state.cache = null; }

// A table that becomes labelled blocks on a phone (style.css: .responsive). A column is
// [label, cell(row) → text or node, optional class: 'word' keeps words whole, 'when' a date].
export function table(caption, columns, rows, hideCaption = false) {
  return h('table', { class: 'responsive' },
    h('caption', { class: hideCaption ? 'visually-hidden' : null }, caption),
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([label, cell, cls]) => h('td', { 'data-label': label, class: cls }, cell(r)))))));
}
