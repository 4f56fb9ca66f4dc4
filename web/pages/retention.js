// Retention under the Archives Act (檔案法): the retention rules (classes), legal holds
// (保全/暫停銷毀) and destruction batches (銷毀清冊), proposed by one records officer and
// approved by a second person before anything is purged (docs/api.md, "Retention").
//   #/retention          rules, holds, batches; forms for records officers and admins
//   #/batch/ID           one destruction batch: what it would destroy, approve, reject, purge
// Records officers and admins change; auditors read (no forms are shown to them). The
// archive's own roles decide on the server: a refusal is shown as the server words it.
import { call } from '../api.js';
import { t, addWords, getLang, formatDate, formatSize } from '../i18n.js';
import { h, clear, field } from '../dom.js';
import { forget, go, errorBox, table, hasRole, loadOrShow } from '../shell.js';

const READERS = ['records', 'admin', 'auditor'];
const WRITERS = ['records', 'admin'];
const mayChange = () => hasRole(WRITERS);
const CLASSES = ['permanent', '30', '25', '20', '15', '10', '5', '3', '1'];
const KINDS = ['sender', 'recipient', 'folder', 'query'];

addWords({
  zh: {
    'menu.retention': '保存與銷毀',
    'ret.title': '保存年限與銷毀',
    'ret.intro': '依檔案法管理郵件的保存年限、法律保全（暫停銷毀）與銷毀清冊。銷毀清冊須由提出者以外的另一人核定後，才能執行銷毀。',
    'ret.readOnly': '您的角色僅能檢視，不能變更。',
    'ret.status': '操作結果',
    'ret.done': '已完成：{what}',
    'ret.none': '—',

    'ret.rules': '保存年限規則',
    'ret.defaultClass': '未符合任何規則的郵件，保存年限為：{cls}',
    'ret.rulesCaption': '保存年限規則一覽',
    'ret.noRules': '尚未設定任何規則。',
    'ret.ruleId': '編號',
    'ret.ruleCriterion': '適用條件',
    'ret.ruleClass': '保存年限',
    'ret.ruleBy': '建立者與時間',
    'ret.ruleActions': '操作',
    'ret.ruleRemove': '刪除規則 {id}',
    'ret.ruleRemoved': '規則 {id} 已刪除',
    'ret.ruleAdd': '新增保存年限規則',
    'ret.ruleAddHelp': '規則不能直接修改：要變更時，先新增新的規則，再刪除舊的。多條規則符合同一封郵件時，以最長的年限為準。',
    'ret.kind': '條件種類',
    'ret.pattern': '條件內容',
    'ret.patternHelp': '寄件者、收件者與資料夾可用萬用字元，例如 *@ntbt.gov.tw；查詢語法例如：國稅局 after:2020-01-01',
    'ret.class': '保存年限',
    'ret.ruleSubmit': '新增規則',
    'ret.ruleAdded': '已新增規則 {id}',
    'kind.sender': '寄件者',
    'kind.recipient': '收件者',
    'kind.folder': '資料夾',
    'kind.query': '查詢語法',
    'kind.messages': '指定郵件編號',
    'class.permanent': '永久',
    'class.years': '{n} 年',

    'ret.holds': '法律保全（暫停銷毀）',
    'ret.holdsCaption': '法律保全一覽',
    'ret.noHolds': '目前沒有法律保全。',
    'ret.holdName': '名稱（案號）',
    'ret.holdReason': '事由',
    'ret.holdScope': '範圍',
    'ret.holdBy': '建立者與時間',
    'ret.holdState': '狀態',
    'ret.holdActive': '保全中',
    'ret.holdReleased': '已解除（{who}，{when}）',
    'ret.holdRelease': '解除保全「{name}」',
    'ret.holdReleasedDone': '保全「{name}」已解除',
    'ret.holdAdd': '新增法律保全',
    'ret.holdAddHelp': '受保全的郵件不會列入銷毀清冊，也不會被銷毀，直到保全解除為止。',
    'ret.holdNameLabel': '名稱（例如案號）',
    'ret.holdReasonLabel': '事由',
    'ret.holdKind': '保全範圍',
    'ret.holdPattern': '範圍內容',
    'ret.holdPatternHelp': '指定郵件編號時，以逗號分隔，例如：7, 9；其他種類同保存年限規則的條件內容。',
    'ret.holdSubmit': '新增保全',
    'ret.holdAdded': '已新增保全「{name}」',
    'ret.badIds': '郵件編號須為以逗號分隔的數字，例如：7, 9',
    'ret.required': '請填寫：{what}',

    'ret.batches': '銷毀清冊',
    'ret.batchesCaption': '銷毀清冊一覽',
    'ret.noBatches': '尚未提出任何銷毀清冊。',
    'ret.batchId': '清冊',
    'ret.batchLink': '第 {id} 號',
    'ret.batchOpen': '開啟銷毀清冊第 {id} 號',
    'ret.batchState': '狀態',
    'ret.batchCount': '郵件數',
    'ret.batchCountValue': '{n} 封',
    'ret.batchProposed': '提出',
    'ret.batchDecided': '核定或駁回',
    'ret.batchPurged': '銷毀',
    'ret.batchNote': '說明',
    'state.proposed': '待核定',
    'state.approved': '已核定，待銷毀',
    'state.rejected': '已駁回',
    'state.purged': '已銷毀',
    'ret.propose': '提出銷毀清冊',
    'ret.proposeHelp': '列出目前已屆保存年限、且未受保全的所有郵件。提出後須由另一人核定。',
    'ret.note': '說明（選填）',
    'ret.proposeSubmit': '提出銷毀清冊',

    'batch.title': '銷毀清冊第 {id} 號',
    'batch.back': '回到保存與銷毀',
    'batch.facts': '清冊資料',
    'batch.approvedBy': '核定',
    'batch.rejectedBy': '駁回',
    'batch.reason': '駁回理由',
    'batch.result': '銷毀結果',
    'batch.resultValue': '已銷毀 {destroyed} 封，保留 {kept} 封',
    'batch.items': '清冊內容（將銷毀的郵件）',
    'batch.itemsCaption': '銷毀清冊第 {id} 號的郵件',
    'batch.noItems': '本清冊沒有郵件。',
    'batch.message': '郵件編號',
    'batch.openMessage': '開啟郵件 {id}',
    'batch.subject': '主旨',
    'batch.from': '寄件者',
    'batch.date': '日期',
    'batch.size': '大小',
    'batch.class': '保存年限',
    'batch.assigned': '依據',
    'batch.expired': '屆滿日',
    'batch.outcome': '結果',
    'outcome.destroyed': '已銷毀',
    'outcome.pending': '待銷毀',
    'outcome.kept': '保留：{why}',
    'batch.actions': '核定與銷毀',
    'batch.approve': '核定此清冊',
    'batch.approveHelp': '須由提出者以外的另一人核定（提出者：{who}）。',
    'batch.approved': '已核定銷毀清冊第 {id} 號',
    'batch.reject': '駁回此清冊',
    'batch.rejectReason': '駁回理由',
    'batch.rejectSubmit': '駁回',
    'batch.rejected': '已駁回銷毀清冊第 {id} 號',
    'batch.purge': '執行銷毀',
    'batch.purgeHelp': '銷毀後無法復原。執行時會再次檢查每封郵件：已受保全或尚未屆滿者予以保留。',
    'batch.confirmTitle': '確認銷毀',
    'batch.confirmText': '確定要銷毀本清冊所列的 {n} 封郵件嗎？此動作無法復原。',
    'batch.confirm': '確定銷毀 {n} 封郵件',
    'batch.cancel': '取消',
    'batch.purgedDone': '已銷毀 {destroyed} 封郵件，保留 {kept} 封',
    'batch.noActions': '此清冊已{state}，沒有可執行的操作。',
  },
  en: {
    'menu.retention': 'Retention',
    'ret.title': 'Retention and destruction',
    'ret.intro': 'Retention periods, legal holds and destruction batches under the Archives Act. A batch is purged only after a second person, not its proposer, approved it.',
    'ret.readOnly': 'Your role may read these pages, not change them.',
    'ret.status': 'Result',
    'ret.done': 'Done: {what}',
    'ret.none': '—',

    'ret.rules': 'Retention rules',
    'ret.defaultClass': 'Mail no rule matches is kept: {cls}',
    'ret.rulesCaption': 'Retention rules',
    'ret.noRules': 'No rules yet.',
    'ret.ruleId': 'No.',
    'ret.ruleCriterion': 'Applies to',
    'ret.ruleClass': 'Kept for',
    'ret.ruleBy': 'Made by, when',
    'ret.ruleActions': 'Actions',
    'ret.ruleRemove': 'Remove rule {id}',
    'ret.ruleRemoved': 'Rule {id} removed',
    'ret.ruleAdd': 'Add a retention rule',
    'ret.ruleAddHelp': 'Rules are not edited: add the new one, then remove the old. When several rules match a message, the longest period wins.',
    'ret.kind': 'Kind',
    'ret.pattern': 'Pattern',
    'ret.patternHelp': 'Senders, recipients and folders take wildcards, e.g. *@ntbt.gov.tw; a query e.g. 國稅局 after:2020-01-01',
    'ret.class': 'Retention period',
    'ret.ruleSubmit': 'Add rule',
    'ret.ruleAdded': 'Rule {id} added',
    'kind.sender': 'Sender',
    'kind.recipient': 'Recipient',
    'kind.folder': 'Folder',
    'kind.query': 'Search query',
    'kind.messages': 'Message numbers',
    'class.permanent': 'Permanent',
    'class.years': '{n} years',

    'ret.holds': 'Legal holds',
    'ret.holdsCaption': 'Legal holds',
    'ret.noHolds': 'No legal holds.',
    'ret.holdName': 'Name (case no.)',
    'ret.holdReason': 'Reason',
    'ret.holdScope': 'Scope',
    'ret.holdBy': 'Placed by, when',
    'ret.holdState': 'State',
    'ret.holdActive': 'Active',
    'ret.holdReleased': 'Released ({who}, {when})',
    'ret.holdRelease': 'Release hold “{name}”',
    'ret.holdReleasedDone': 'Hold “{name}” released',
    'ret.holdAdd': 'Place a legal hold',
    'ret.holdAddHelp': 'Held mail is neither listed for destruction nor destroyed until the hold is released.',
    'ret.holdNameLabel': 'Name (e.g. case number)',
    'ret.holdReasonLabel': 'Reason',
    'ret.holdKind': 'Scope',
    'ret.holdPattern': 'Scope value',
    'ret.holdPatternHelp': 'Message numbers separated by commas, e.g. 7, 9; other kinds as for rules.',
    'ret.holdSubmit': 'Place hold',
    'ret.holdAdded': 'Hold “{name}” placed',
    'ret.badIds': 'Message numbers are numbers separated by commas, e.g. 7, 9',
    'ret.required': 'Please fill in: {what}',

    'ret.batches': 'Destruction batches',
    'ret.batchesCaption': 'Destruction batches',
    'ret.noBatches': 'No batch proposed yet.',
    'ret.batchId': 'Batch',
    'ret.batchLink': 'No. {id}',
    'ret.batchOpen': 'Open destruction batch {id}',
    'ret.batchState': 'State',
    'ret.batchCount': 'Messages',
    'ret.batchCountValue': '{n}',
    'ret.batchProposed': 'Proposed',
    'ret.batchDecided': 'Approved or rejected',
    'ret.batchPurged': 'Purged',
    'ret.batchNote': 'Note',
    'state.proposed': 'awaiting approval',
    'state.approved': 'approved, awaiting purge',
    'state.rejected': 'rejected',
    'state.purged': 'purged',
    'ret.propose': 'Propose a destruction batch',
    'ret.proposeHelp': 'Lists every message past its retention period that no hold keeps. Another person must approve it.',
    'ret.note': 'Note (optional)',
    'ret.proposeSubmit': 'Propose batch',

    'batch.title': 'Destruction batch {id}',
    'batch.back': 'Back to retention',
    'batch.facts': 'The batch',
    'batch.approvedBy': 'Approved',
    'batch.rejectedBy': 'Rejected',
    'batch.reason': 'Reason for rejecting',
    'batch.result': 'Purge result',
    'batch.resultValue': '{destroyed} destroyed, {kept} kept',
    'batch.items': 'What it destroys',
    'batch.itemsCaption': 'Messages of destruction batch {id}',
    'batch.noItems': 'The batch lists no messages.',
    'batch.message': 'Message',
    'batch.openMessage': 'Open message {id}',
    'batch.subject': 'Subject',
    'batch.from': 'From',
    'batch.date': 'Date',
    'batch.size': 'Size',
    'batch.class': 'Kept for',
    'batch.assigned': 'By',
    'batch.expired': 'Expired',
    'batch.outcome': 'Outcome',
    'outcome.destroyed': 'destroyed',
    'outcome.pending': 'to be destroyed',
    'outcome.kept': 'kept: {why}',
    'batch.actions': 'Approve and purge',
    'batch.approve': 'Approve this batch',
    'batch.approveHelp': 'Someone other than its proposer ({who}) must approve it.',
    'batch.approved': 'Destruction batch {id} approved',
    'batch.reject': 'Reject this batch',
    'batch.rejectReason': 'Reason for rejecting',
    'batch.rejectSubmit': 'Reject',
    'batch.rejected': 'Destruction batch {id} rejected',
    'batch.purge': 'Purge',
    'batch.purgeHelp': 'This cannot be undone. Each message is checked again: one held or no longer expired is kept.',
    'batch.confirmTitle': 'Confirm destruction',
    'batch.confirmText': 'Destroy the {n} messages this batch lists? This cannot be undone.',
    'batch.confirm': 'Destroy {n} messages',
    'batch.cancel': 'Cancel',
    'batch.purgedDone': '{destroyed} messages destroyed, {kept} kept',
    'batch.noActions': 'This batch is {state}; nothing more can be done with it.',
  },
});

const api = {
  status: () => call('GET', '/archive/retention'),
  addRule: (body) => call('POST', '/archive/retention/rules', { body }),
  removeRule: (id) => call('DELETE', `/archive/retention/rules/${encodeURIComponent(id)}`),
  addHold: (body) => call('POST', '/archive/retention/holds', { body }),
  releaseHold: (id) => call('DELETE', `/archive/retention/holds/${encodeURIComponent(id)}`),
  propose: (note) => call('POST', '/archive/retention/batches', { body: { note } }),
  batch: (id) => call('GET', `/archive/retention/batches/${encodeURIComponent(id)}`),
  decide: (id, what, body = {}) => call('POST', `/archive/retention/batches/${encodeURIComponent(id)}/${what}`, { body }),
};

// "console:li" → "li"; an actor of the command line stays as it is.
const actor = (x) => (x || '').replace(/^console:/, '') || t('ret.none');
const when = (v) => (v ? h('time', { datetime: v }, formatDate(v)) : t('ret.none'));
const byAt = (who, at) => (who ? h('span', { class: 'by-at' }, h('span', { class: 'actor' }, actor(who)), getLang() === 'en' ? ', ' : '，', when(at)) : t('ret.none'));
function className(cls) {
  if (!cls || cls === 'permanent') return t('class.permanent');
  const n = parseInt(cls, 10);
  return Number.isNaN(n) ? cls : t('class.years', { n });
}
const kindName = (k) => t(`kind.${k}`);
function criterionText(c) {
  if (!c) return '';
  if (c.kind === 'messages') return `${kindName('messages')}：${(c.messages || []).join('、')}`;
  return `${kindName(c.kind)}：${c.pattern}`;
}
const stateBadge = (s) => h('span', { class: `batch-state state-${s}`, dataset: { state: s } }, t(`state.${s}`));

function select(name, options) {
  return h('select', { name }, options.map(([value, text]) => h('option', { value }, text)));
}

// A status region shared by a page's forms: the last result or the server's refusal.
function statusRegion(id) {
  return h('div', { class: 'form-status retention-status', id, role: 'status', 'aria-live': 'polite', 'aria-label': t('ret.status') });
}
function showDone(region, text) {
  clear(region).append(h('p', { class: 'notice ok' }, t('ret.done', { what: text })));
  region.dataset.state = 'done';
}
function showError(region, e) {
  clear(region).append(errorBox(e));
  region.dataset.state = 'error';
  region.scrollIntoView({ block: 'nearest' });
}

// Runs a change; on success reloads the page with the result shown in its status region.
let pendingNotice = null;
async function change(region, button, action, doneText) {
  if (button) button.disabled = true;
  try {
    const answer = await action();
    pendingNotice = typeof doneText === 'function' ? doneText(answer) : doneText;
    forget();
    return answer;
  } catch (e) {
    showError(region, e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
function takeNotice(region) {
  if (pendingNotice) showDone(region, pendingNotice);
  pendingNotice = null;
}

// --- #/retention -----------------------------------------------------------------------

async function viewRetention(m, route, live) {
  m.append(h('h1', { tabindex: '-1' }, t('ret.title')), h('p', { class: 'intro' }, t('ret.intro')));
  if (!mayChange()) m.append(h('p', { class: 'notice read-only', role: 'note' }, t('ret.readOnly')));
  const region = statusRegion('retention-status');
  m.append(region);
  takeNotice(region);
  const loading = h('p', { role: 'status' }, t('loading'));
  m.append(loading);
  const data = await loadOrShow(loading, () => api.status(), live);
  if (!data) return;
  loading.remove();
  const reload = () => go('#/retention');
  m.append(rulesSection(data, region, reload), holdsSection(data, region, reload), batchesSection(data, region));
}

function rulesSection(data, region, reload) {
  const rules = data.rules || [];
  const columns = [
    [t('ret.ruleId'), (r) => r.id, 'word'],
    [t('ret.ruleCriterion'), (r) => criterionText(r.criterion)],
    [t('ret.ruleClass'), (r) => className(r.class), 'word'],
    [t('ret.ruleBy'), (r) => byAt(r.created_by, r.created_at)],
  ];
  if (mayChange()) {
    columns.push([t('ret.ruleActions'), (r) => h('button', {
      type: 'button', class: 'danger small remove-rule', dataset: { rule: r.id },
      onclick: (ev) => change(region, ev.currentTarget, () => api.removeRule(r.id), t('ret.ruleRemoved', { id: r.id })).then((x) => x !== undefined && reload()),
    }, t('ret.ruleRemove', { id: r.id }))]);
  }
  const section = h('section', { class: 'card retention-rules', 'aria-labelledby': 'rules-title' },
    h('h2', { id: 'rules-title' }, t('ret.rules')),
    h('p', { class: 'default-class' }, t('ret.defaultClass', { cls: className(data.default_class) })),
    rules.length ? table(t('ret.rulesCaption'), columns, rules, true) : h('p', { class: 'muted' }, t('ret.noRules')));
  if (mayChange()) section.append(ruleForm(region, reload));
  return section;
}

function ruleForm(region, reload) {
  const kind = select('kind', KINDS.map((k) => [k, kindName(k)]));
  const pattern = h('input', { type: 'text', name: 'pattern', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const cls = select('class', CLASSES.map((c) => [c, className(c)]));
  cls.value = '10';
  const submit = h('button', { type: 'submit', class: 'primary' }, t('ret.ruleSubmit'));
  const form = h('form', { class: 'rule-form', 'aria-labelledby': 'rule-add-title', novalidate: true },
    h('h3', { id: 'rule-add-title' }, t('ret.ruleAdd')),
    h('p', { class: 'help' }, t('ret.ruleAddHelp')),
    h('div', { class: 'grid' }, field(t('ret.kind'), kind), field(t('ret.class'), cls)),
    field(t('ret.pattern'), pattern, t('ret.patternHelp')),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!pattern.value.trim()) {
      showError(region, { code: 'invalid_argument', message: t('ret.required', { what: t('ret.pattern') }) });
      pattern.focus();
      return;
    }
    const body = { criterion: { kind: kind.value, pattern: pattern.value.trim() }, class: cls.value };
    if (await change(region, submit, () => api.addRule(body), (a) => t('ret.ruleAdded', { id: a.id })) !== undefined) reload();
  });
  return form;
}

function holdsSection(data, region, reload) {
  const holds = data.holds || [];
  const columns = [
    [t('ret.holdName'), (x) => h('strong', { class: 'hold-name' }, x.name)],
    [t('ret.holdReason'), (x) => x.reason],
    [t('ret.holdScope'), (x) => criterionText(x.criterion)],
    [t('ret.holdBy'), (x) => byAt(x.created_by, x.created_at)],
    [t('ret.holdState'), (x) => (x.active
      ? h('span', { class: 'hold-state active' }, t('ret.holdActive'))
      : h('span', { class: 'hold-state released' }, t('ret.holdReleased', { who: actor(x.released_by), when: formatDate(x.released_at) })))],
  ];
  if (mayChange()) {
    columns.push([t('ret.ruleActions'), (x) => (x.active ? h('button', {
      type: 'button', class: 'small release-hold', dataset: { hold: x.id },
      onclick: (ev) => change(region, ev.currentTarget, () => api.releaseHold(x.id), t('ret.holdReleasedDone', { name: x.name })).then((r) => r !== undefined && reload()),
    }, t('ret.holdRelease', { name: x.name })) : t('ret.none'))]);
  }
  const section = h('section', { class: 'card retention-holds', 'aria-labelledby': 'holds-title' },
    h('h2', { id: 'holds-title' }, t('ret.holds')),
    holds.length ? table(t('ret.holdsCaption'), columns, holds, true) : h('p', { class: 'muted' }, t('ret.noHolds')));
  if (mayChange()) section.append(holdForm(region, reload));
  return section;
}

function holdForm(region, reload) {
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const reason = h('textarea', { name: 'reason', rows: '2' });
  const kind = select('kind', ['messages', ...KINDS].map((k) => [k, kindName(k)]));
  const pattern = h('input', { type: 'text', name: 'pattern', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('ret.holdSubmit'));
  const form = h('form', { class: 'hold-form', 'aria-labelledby': 'hold-add-title', novalidate: true },
    h('h3', { id: 'hold-add-title' }, t('ret.holdAdd')),
    h('p', { class: 'help' }, t('ret.holdAddHelp')),
    field(t('ret.holdNameLabel'), name),
    field(t('ret.holdReasonLabel'), reason),
    h('div', { class: 'grid' }, field(t('ret.holdKind'), kind), field(t('ret.holdPattern'), pattern, t('ret.holdPatternHelp'))),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    for (const [el, label] of [[name, 'ret.holdNameLabel'], [reason, 'ret.holdReasonLabel'], [pattern, 'ret.holdPattern']]) {
      if (!el.value.trim()) {
        showError(region, { code: 'invalid_argument', message: t('ret.required', { what: t(label) }) });
        el.focus();
        return;
      }
    }
    let criterion;
    if (kind.value === 'messages') {
      const parts = pattern.value.split(/[,，、\s]+/).filter(Boolean);
      if (!parts.every((x) => /^\d+$/.test(x))) {
        showError(region, { code: 'invalid_argument', message: t('ret.badIds') });
        pattern.focus();
        return;
      }
      criterion = { kind: 'messages', messages: parts.map(Number) };
    } else {
      criterion = { kind: kind.value, pattern: pattern.value.trim() };
    }
    const body = { name: name.value.trim(), reason: reason.value.trim(), criterion };
    if (await change(region, submit, () => api.addHold(body), t('ret.holdAdded', { name: body.name })) !== undefined) reload();
  });
  return form;
}

function batchesSection(data, region) {
  const batches = data.batches || [];
  const section = h('section', { class: 'card retention-batches', 'aria-labelledby': 'batches-title' },
    h('h2', { id: 'batches-title' }, t('ret.batches')),
    batches.length ? table(t('ret.batchesCaption'), [
      [t('ret.batchId'), (b) => h('a', { href: `#/batch/${encodeURIComponent(b.id)}`, class: 'batch-link', 'aria-label': t('ret.batchOpen', { id: b.id }) }, t('ret.batchLink', { id: b.id })), 'word'],
      [t('ret.batchState'), (b) => stateBadge(b.state)],
      [t('ret.batchCount'), (b) => h('span', { class: 'batch-count' }, t('ret.batchCountValue', { n: b.message_count ?? (b.items || []).length })), 'word'],
      [t('ret.batchProposed'), (b) => byAt(b.proposed_by, b.proposed_at)],
      [t('ret.batchDecided'), (b) => byAt(b.approved_by || b.rejected_by, b.decided_at)],
      [t('ret.batchPurged'), (b) => byAt(b.purged_by, b.purged_at)],
      [t('ret.batchNote'), (b) => b.note || t('ret.none')],
    ], batches, true) : h('p', { class: 'muted' }, t('ret.noBatches')));
  if (mayChange()) section.append(proposeForm(region));
  return section;
}

function proposeForm(region) {
  const note = h('input', { type: 'text', name: 'note', autocomplete: 'off' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('ret.proposeSubmit'));
  const form = h('form', { class: 'propose-form', 'aria-labelledby': 'propose-title', novalidate: true },
    h('h3', { id: 'propose-title' }, t('ret.propose')),
    h('p', { class: 'help' }, t('ret.proposeHelp')),
    field(t('ret.note'), note),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const b = await change(region, submit, () => api.propose(note.value.trim()),
      (a) => `${t('batch.title', { id: a.id })}（${t('ret.batchCountValue', { n: a.message_count ?? (a.items || []).length })}）`);
    if (b !== undefined) go(`#/batch/${encodeURIComponent(b.id)}`);
  });
  return form;
}

// --- #/batch/ID ------------------------------------------------------------------------

function outcomeText(o) {
  if (!o) return t('outcome.pending');
  if (o === 'destroyed') return t('outcome.destroyed');
  return t('outcome.kept', { why: o.replace(/^kept:\s*/, '') });
}

function batchFacts(b) {
  const facts = [
    [t('ret.batchState'), stateBadge(b.state)],
    [t('ret.batchCount'), h('span', { class: 'batch-count' }, t('ret.batchCountValue', { n: b.message_count ?? (b.items || []).length }))],
    [t('ret.batchNote'), b.note || t('ret.none')],
    [t('ret.batchProposed'), h('span', { class: 'proposed-by' }, byAt(b.proposed_by, b.proposed_at))],
  ];
  if (b.approved_by) facts.push([t('batch.approvedBy'), h('span', { class: 'approved-by' }, byAt(b.approved_by, b.decided_at))]);
  if (b.rejected_by) {
    facts.push([t('batch.rejectedBy'), h('span', { class: 'rejected-by' }, byAt(b.rejected_by, b.decided_at))]);
    facts.push([t('batch.reason'), h('span', { class: 'reject-reason' }, b.reason || t('ret.none'))]);
  }
  if (b.purged_by) facts.push([t('ret.batchPurged'), h('span', { class: 'purged-by' }, byAt(b.purged_by, b.purged_at))]);
  if (b.state === 'purged') {
    const items = b.items || [];
    const destroyed = items.filter((i) => i.outcome === 'destroyed').length;
    facts.push([t('batch.result'), h('span', { class: 'purge-result' }, t('batch.resultValue', { destroyed, kept: items.length - destroyed }))]);
  }
  return h('dl', { class: 'meta batch-facts' }, facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}

function itemsTable(b) {
  const items = b.items || [];
  if (!items.length) return h('p', { class: 'muted' }, t('batch.noItems'));
  return table(t('batch.itemsCaption', { id: b.id }), [
    [t('batch.message'), (i) => (i.outcome === 'destroyed' ? String(i.message)
      : h('a', { href: `#/message/${encodeURIComponent(i.message)}`, 'aria-label': t('batch.openMessage', { id: i.message }) }, String(i.message))), 'word'],
    [t('batch.subject'), (i) => h('span', { class: 'item-subject' }, i.subject || t('ret.none'))],
    [t('batch.from'), (i) => i.from],
    [t('batch.date'), (i) => when(i.date)],
    [t('batch.size'), (i) => formatSize(i.size), 'word'],
    [t('batch.class'), (i) => className(i.class), 'word'],
    [t('batch.assigned'), (i) => i.assigned_by],
    [t('batch.expired'), (i) => when(i.expired_at)],
    [t('batch.outcome'), (i) => h('span', { class: `outcome ${i.outcome ? (i.outcome === 'destroyed' ? 'destroyed' : 'kept') : 'pending'}` }, outcomeText(i.outcome))],
  ], items, true);
}

async function viewBatch(m, route, live) {
  const id = route.arg || '';
  m.append(h('p', { class: 'back' }, h('a', { href: '#/retention' }, `← ${t('batch.back')}`)),
    h('h1', { tabindex: '-1' }, t('batch.title', { id })));
  const region = statusRegion('batch-status');
  m.append(region);
  takeNotice(region);
  const loading = h('p', { role: 'status' }, t('loading'));
  m.append(loading);
  const b = await loadOrShow(loading, () => api.batch(id), live);
  if (!b) return;
  loading.remove();
  m.append(h('section', { class: 'card batch', 'aria-labelledby': 'batch-facts-title', dataset: { state: b.state } },
    h('h2', { id: 'batch-facts-title' }, t('batch.facts')), batchFacts(b)));
  if (mayChange()) m.append(batchActions(b, region));
  m.append(h('section', { 'aria-labelledby': 'batch-items-title' },
    h('h2', { id: 'batch-items-title' }, t('batch.items')), itemsTable(b)));
}

function batchActions(b, region) {
  const reload = () => go(`#/batch/${encodeURIComponent(b.id)}`);
  const section = h('section', { class: 'card batch-actions', 'aria-labelledby': 'batch-actions-title' },
    h('h2', { id: 'batch-actions-title' }, t('batch.actions')));
  const count = b.message_count ?? (b.items || []).length;
  if (b.state === 'proposed') {
    const approve = h('button', { type: 'button', class: 'primary approve' }, t('batch.approve'));
    approve.addEventListener('click', async () => {
      if (await change(region, approve, () => api.decide(b.id, 'approve'), t('batch.approved', { id: b.id })) !== undefined) reload();
    });
    section.append(h('div', { class: 'approve-block' },
      h('p', { class: 'help', id: 'approve-help' }, t('batch.approveHelp', { who: actor(b.proposed_by) })),
      h('div', { class: 'actions' }, approve)));
    approve.setAttribute('aria-describedby', 'approve-help');
  }
  if (b.state === 'approved') section.append(purgeBlock(b, count, region, reload));
  if (b.state === 'proposed' || b.state === 'approved') {
    const reason = h('textarea', { name: 'reason', rows: '2' });
    const submit = h('button', { type: 'submit', class: 'danger' }, t('batch.rejectSubmit'));
    const form = h('form', { class: 'reject-form', 'aria-labelledby': 'reject-title', novalidate: true },
      h('h3', { id: 'reject-title' }, t('batch.reject')),
      field(t('batch.rejectReason'), reason),
      h('div', { class: 'actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) {
        showError(region, { code: 'invalid_argument', message: t('ret.required', { what: t('batch.rejectReason') }) });
        reason.focus();
        return;
      }
      if (await change(region, submit, () => api.decide(b.id, 'reject', { reason: reason.value.trim() }), t('batch.rejected', { id: b.id })) !== undefined) reload();
    });
    section.append(form);
  } else {
    section.append(h('p', { class: 'muted' }, t('batch.noActions', { state: t(`state.${b.state}`) })));
  }
  return section;
}

// Purging asks first, naming how many messages go.
function purgeBlock(b, count, region, reload) {
  const block = h('div', { class: 'purge-block' });
  const start = h('button', { type: 'button', class: 'danger purge' }, t('batch.purge'));
  const draw = () => {
    clear(block).append(h('h3', {}, t('batch.purge')), h('p', { class: 'help' }, t('batch.purgeHelp')), h('div', { class: 'actions' }, start));
  };
  start.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'danger confirm-purge' }, t('batch.confirm', { n: count }));
    const no = h('button', { type: 'button', class: 'cancel-purge' }, t('batch.cancel'));
    const box = h('div', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h('h3', { id: 'confirm-title' }, t('batch.confirmTitle')),
      h('p', { id: 'confirm-text' }, t('batch.confirmText', { n: count })),
      h('div', { class: 'actions' }, yes, no));
    clear(block).append(box);
    no.addEventListener('click', () => { draw(); start.focus(); });
    yes.addEventListener('click', async () => {
      no.disabled = true;
      const done = await change(region, yes, () => api.decide(b.id, 'purge'),
        (a) => t('batch.purgedDone', { destroyed: a.purge?.destroyed ?? 0, kept: a.purge?.kept ?? 0 }));
      no.disabled = false;
      if (done !== undefined) reload();
    });
    yes.focus();
  });
  draw();
  return block;
}

export default {
  menu: [{ route: 'retention', key: 'menu.retention', also: ['batch'] }],
  views: {
    retention: { view: viewRetention, roles: READERS },
    batch: { view: viewBatch, roles: READERS },
  },
};
