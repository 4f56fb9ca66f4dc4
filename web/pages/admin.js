// The administration pages: the audit log with its hash-chain status, and the accounts.
//   #/audit?since=…      audit log (auditor, records, admin)
//   #/accounts           console accounts (admin)
import { api } from '../api.js';
import { t, formatDate } from '../i18n.js';
import { h, field } from '../dom.js';
import { go, table, roleName, loadOrShow } from '../shell.js';

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
  const data = await loadOrShow(status, () => api.audit(p.get('since') || undefined, p.get('limit') || 200), live);
  if (!data) return;
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
  const data = await loadOrShow(status, () => api.accounts(), live);
  if (!data) return;
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
export const audit = {
  menu: [{ route: 'audit', key: 'menu.audit' }],
  views: { audit: { view: viewAudit, roles: ['auditor', 'records', 'admin'] } },
};

export const accounts = {
  menu: [{ route: 'accounts', key: 'menu.accounts' }],
  views: { accounts: { view: viewAccounts, roles: ['admin'] } },
};
