// Restore to a mailbox (調閱後回復) on the message view: the archived message is re-sent
// through the server's [console] restore_relay with a Resent- block naming who re-sent
// it (docs/api.md, POST /api/v1/archive/messages/{id}/restore). A clerk restores only
// their own mail and only to their own addresses (the form starts with them); an admin
// to any address, or, with the field left empty, to the original recipients. Auditors
// and records officers may not restore: the form is not shown to them.
import { call } from '../api.js';
import { t, addWords } from '../i18n.js';
import { h, clear, field } from '../dom.js';
import { errorBox, hasRole } from '../shell.js';

const RESTORERS = ['clerk', 'admin'];

addWords({
  zh: {
    'restore.title': '回復至信箱',
    'restore.intro': '將這封歸檔郵件重新寄送到信箱（信件會加註重寄者與時間）。',
    'restore.to': '收件信箱',
    'restore.toHelpOwn': '僅能回復至您自己的信箱：{addresses}',
    'restore.toHelpAny': '多個信箱以逗號分隔；留空則寄回原收件者。',
    'restore.submit': '回復至信箱',
    'restore.busy': '寄送中…',
    'restore.checking': '確認回復權限中…',
    'restore.done': '已寄出至：{to}',
    'restore.failed': '轉寄伺服器未收下郵件：{why}',
    'restore.original': '原收件者',
    'restore.badAddress': '「{address}」不是電子郵件地址',
    'restore.status': '回復結果',
  },
  en: {
    'restore.title': 'Restore to a mailbox',
    'restore.intro': 'Re-send this archived message to a mailbox (marked with who re-sent it and when).',
    'restore.to': 'Mailbox',
    'restore.toHelpOwn': 'Only to your own addresses: {addresses}',
    'restore.toHelpAny': 'Several addresses separated by commas; empty: to the original recipients.',
    'restore.submit': 'Restore to mailbox',
    'restore.busy': 'Sending…',
    'restore.checking': 'Checking whether you may restore it…',
    'restore.done': 'Sent to: {to}',
    'restore.failed': 'The relay did not take it: {why}',
    'restore.original': 'the original recipients',
    'restore.badAddress': '“{address}” is not a mail address',
    'restore.status': 'Restore result',
  },
});

const restoreApi = {
  check: (id) => call('GET', `/archive/messages/${encodeURIComponent(id)}/restore`),
  restore: (id, to) => call('POST', `/archive/messages/${encodeURIComponent(id)}/restore`, { body: to.length ? { to } : {} }),
};

// Appends the section to the message view (pages/archive.js calls it); nothing for a role
// that may not restore.
export function appendRestore(parent, msgId) {
  if (!hasRole(RESTORERS)) return;
  const body = h('div', { class: 'restore-body' }, h('p', { role: 'status' }, t('restore.checking')));
  const section = h('section', { class: 'card restore', 'aria-labelledby': 'restore-title' },
    h('h2', { id: 'restore-title' }, t('restore.title')), body);
  restoreApi.check(msgId).then((c) => clear(body).append(...restoreForm(msgId, c)),
    (e) => clear(body).append(errorBox(e)));
  parent.append(section);
}

function restoreForm(msgId, check) {
  const own = check.addresses || [];
  const to = h('input', { type: 'text', name: 'to', inputmode: 'email', autocomplete: 'email', spellcheck: 'false',
    autocapitalize: 'none', value: own.join(', ') });
  const help = check.own_addresses_only ? t('restore.toHelpOwn', { addresses: own.join('、') }) : t('restore.toHelpAny');
  const submit = h('button', { type: 'submit', class: 'primary' }, t('restore.submit'));
  const result = h('div', { class: 'form-status restore-result', role: 'status', 'aria-live': 'polite', 'aria-label': t('restore.status') });
  const form = h('form', { class: 'restore-form', novalidate: true, 'aria-labelledby': 'restore-title' },
    h('p', { class: 'help' }, t('restore.intro')),
    field(t('restore.to'), to, help),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(result);
    delete result.dataset.state;
    const list = to.value.split(/[,，、;；\s]+/).map((x) => x.trim()).filter(Boolean);
    const bad = list.find((x) => !x.includes('@'));
    if (bad) {
      result.dataset.state = 'error';
      result.append(errorBox({ code: 'invalid_argument', message: t('restore.badAddress', { address: bad }) }));
      to.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('restore.busy');
    try {
      const answer = await restoreApi.restore(msgId, list);
      const sent = (answer.restored || []).flatMap((r) => r.recipients || []);
      result.dataset.state = 'done';
      result.append(h('p', { class: 'notice ok' }, t('restore.done', { to: sent.length ? sent.join('、') : t('restore.original') })));
    } catch (e) {
      result.dataset.state = 'error';
      // 502: the relay refused; the answer names why for each message.
      const why = (e.data?.restored || []).map((r) => r.error).filter(Boolean).join('；');
      result.append(why ? errorBox({ code: 'unavailable', message: t('restore.failed', { why }) }) : errorBox(e));
    } finally {
      submit.disabled = false;
      submit.textContent = t('restore.submit');
    }
  });
  return [form, result];
}
