// The archive's pages: search with filters, and one message (headers, text, sanitised HTML
// in a sandboxed frame, downloads).
//   #/search?q=…         archive search (query language plus filter fields)
//   #/message/ID         one message
import { api, emlUrl, attachmentUrl } from '../api.js';
import { t, formatDate, formatSize } from '../i18n.js';
import { h, field } from '../dom.js';
import { state, go, load, errorBox, table, loadOrShow } from '../shell.js';
import { appendRestore } from './restore.js';

export const MAIL_ROLES = ['clerk', 'auditor', 'records', 'admin'];

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
  const data = await loadOrShow(status, () => api.search(query, 50), live);
  if (!data) return;
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
  appendRestore(article, msg.id ?? route.arg);
  m.append(article);
}

export default {
  menu: [{ route: 'search', key: 'menu.search', also: ['message'] }],
  views: {
    search: { view: viewSearch, roles: MAIL_ROLES },
    message: { view: viewMessage, roles: MAIL_ROLES },
  },
};
