// The 公文 exchange of this host's agency gateway (docs/api.md, "Exchange"):
//   #/exchange?box=inbox|sent   what arrived, what was sent (newest first), with receipts
//   #/compose                   撰寫函: the fields of a 函, recipients from the registry
//   #/document/ID               one 函: its rendering (sandboxed frame), attachments, and
//                               each recipient's receipt state, polled until final
//   #/exchange-admin            交換管理 (operators, admins): the registry and gateway health
// Operators run the exchange and do not send 函: the agency's clerks and admins do.
import { call } from '../api.js';
import { t, addWords, formatDate, formatSize, getLang } from '../i18n.js';
import { h, clear, field } from '../dom.js';
import { state, go, load, forget, errorBox, errorText, table, hasRole, sleep } from '../shell.js';

const READ_ROLES = ['clerk', 'operator', 'admin', 'auditor', 'records'];
const SEND_ROLES = ['clerk', 'admin'];
const OPERATE_ROLES = ['operator', 'admin'];
// The pages exist only on an agency gateway's console (the session names its agency):
// app.js asks a view's roles whether they include the signed-in role.
const onGateway = (roles) => ({
  includes: (role) => roles.includes(role) && !!state.session?.exchange_agency,
});
// 交換管理 is also on an exchange center's and the management host's console
// (session.exchange_roles), for their operators' changes.
const exRoles = () => state.session?.exchange_roles || [];
const onExchangeHost = (roles) => ({
  includes: (role) => roles.includes(role) && (!!state.session?.exchange_agency || exRoles().length > 0),
});
const FINAL_STATES = new Set(['received', 'rejected', 'expired']);
const POLL_MS = 3000;
const CERT_WARN_DAYS = 30;
// The API takes a request of up to 32 MiB with the attachments in base64 (4 bytes for 3):
// about 24 MiB of files, less the letter itself.
const MAX_FILES_BYTES = 23 * 1024 * 1024;

addWords({
  zh: {
    'menu.exchange': '公文交換',
    'menu.exchangeAdmin': '交換管理',
    'ex.title': '公文交換',
    'ex.inbox': '收文',
    'ex.sent': '發文',
    'ex.boxes': '收發文夾',
    'ex.compose': '撰寫函',
    'ex.agencyOf': '本機關：{name}（{code}）',
    'ex.noneInbox': '尚未收到任何公文。',
    'ex.noneSent': '尚未發出任何公文。',
    'ex.count': '共 {n} 件',
    'ex.subject': '主旨',
    'ex.number': '發文字號',
    'ex.sender': '發文機關',
    'ex.recipients': '受文者與狀態',
    'ex.receivedAt': '收文時間',
    'ex.createdAt': '發文時間',
    'ex.state': '狀態',
    'ex.noSubject': '（無主旨）',
    'ex.inboxCaption': '收文清單（新到舊）',
    'ex.sentCaption': '發文清單（新到舊）',
    'ex.reason': '原因：{reason}',
    'exstate.prepared': '待送出',
    'exstate.accepted': '已送達交換中心',
    'exstate.received': '已接收',
    'exstate.rejected': '退文',
    'exstate.expired': '逾期未收',
    // compose
    'ex.composeTitle': '撰寫函',
    'ex.composeIntro': '以本機關（{name}）名義發文。標示「必填」者必須填寫；其餘留空時依公文格式預設。',
    'ex.required': '（必填）',
    'ex.subjectHelp': '一段文字，說明本函目的。',
    'ex.paragraphs': '說明',
    'ex.paragraphN': '說明第 {n} 段',
    'ex.paragraphHelp': '兩段以上時依序編為一、二、三……',
    'ex.addParagraph': '新增一段說明',
    'ex.removeParagraph': '刪除說明第 {n} 段',
    'ex.to': '正本',
    'ex.cc': '副本',
    'ex.filter': '篩選{which}機關（名稱或代碼）',
    'ex.chosen': '已選 {n} 個機關',
    'ex.suspended': '停止服務中，無法收文',
    'ex.self': '本機關',
    'ex.noMatch': '沒有符合的機關。',
    'ex.speed': '速別',
    'ex.secrecy': '密等',
    'ex.secrecyNone': '（普通，不列密等）',
    'ex.declassification': '解密條件或保密期限',
    'ex.declassificationHelp': '列有密等時填寫，例如「本件於公布時解密」。',
    'ex.date': '發文日期',
    'ex.dateHelp': '預設為今天（臺灣時間）。',
    'ex.numberHelp': '留空時自動編為「第（民國年月日時分秒）號」。',
    'ex.address': '地址',
    'ex.contact': '聯絡方式',
    'ex.contactHelp': '一行一項，例如「承辦人：王小明」、「電話：06-2991111」。留空時為「承辦人：您的帳號」。',
    'ex.signature': '署名',
    'ex.attachments': '附件',
    'ex.attachmentNote': '附件說明文字',
    'ex.attachmentNoteHelp': '有附件而留空時為「如文」。',
    'ex.files': '附件檔案',
    'ex.filesHelp': '可選多個檔案；總大小上限約 23 MB（較大的檔案請以命令列 tessera exchange send 發送）。',
    'ex.filesTotal': '已選 {n} 個檔案，共 {size}（上限 {max}）',
    'ex.filesTooBig': '附件共 {size}，超過上限 {max}：請移除部分檔案。',
    'ex.removeFile': '移除附件 {name}',
    'ex.reading': '讀取附件中…',
    'ex.send': '發送',
    'ex.sending': '發送中…',
    'ex.fixField': '請修正標示的欄位：{message}',
    'ex.noRecipient': '請至少選一個正本機關。',
    // one document
    'ex.back': '回公文交換',
    'ex.box': '類別',
    'ex.boxInbox': '收文',
    'ex.boxSent': '發文',
    'ex.date2': '發文日期',
    'ex.rendered': '函（列印樣式）',
    'ex.frame': '函的內容（{subject}）',
    'ex.noRendering': '此公文由命令列發送或於收文時被退回，主控台未保存其內容可供顯示。',
    'ex.downloads': '附件下載',
    'ex.noAttachments': '無附件。',
    'ex.download': '下載 {name}',
    'ex.receipts': '受文者回執',
    'ex.receiptsCaption': '各受文者的回執狀態',
    'ex.recipient': '受文者',
    'ex.updatedAt': '更新時間',
    'ex.refresh': '重新整理',
    'ex.refreshing': '更新中…',
    'ex.refreshed': '已於 {time} 更新。',
    'ex.polling': '尚有受文者未完成，每 {s} 秒自動更新。',
    'ex.final': '所有受文者皆已完成。',
    'ex.inboxState': '本機關收文狀態',
    // admin
    'ex.adminTitle': '交換管理',
    'ex.registry': '交換登錄表',
    'ex.network': '交換網路',
    'ex.serial': '版次',
    'ex.issuedAt': '發布時間',
    'ex.expiresAt': '有效至',
    'ex.revoked': '已撤銷憑證',
    'ex.centers': '交換中心',
    'ex.centersCaption': '交換中心清單',
    'ex.centerId': '代號',
    'ex.centerUrl': '網址',
    'ex.addresses': '允許的來源位址',
    'ex.agencies': '機關',
    'ex.agenciesCaption': '已登錄的機關',
    'ex.code': '機關代碼',
    'ex.name': '機關名稱',
    'ex.center': '所屬交換中心',
    'ex.rangesAllowed': '（允許位址範圍）',
    'ex.suspension': '服務狀態',
    'ex.active': '正常',
    'ex.suspendedBy': '停止服務：{reason}（{by}，{at}）',
    'ex.certificates': '憑證',
    'ex.certExpires': '{subject}：有效至 {date}，剩 {days} 天',
    'ex.certExpired': '{subject}：已於 {date} 過期',
    'ex.certError': '無法讀取的憑證：{error}',
    'ex.certSoon': '（{n} 天內到期，請及早換發）',
    'ex.noCert': '無憑證',
    'ex.readOnly': '本頁唯讀：機關的登錄內容（允許位址、停止服務）由管理中心以 tessera exchange registry 變更並發布，交換中心的停止服務以 tessera exchange suspend / resume 於該中心設定。',
    'ex.health': '交換閘道健康狀態',
    'ex.checkedAt': '最近檢查：{time}',
    'ex.healthOk': '所有檢查皆正常。',
    'ex.healthBad': '有檢查未通過：{failed}',
    'ex.healthNone': '本機尚無健康檢查紀錄（tessera serve 的交換閘道啟動後或執行 tessera exchange health 後即有）。',
    'ex.healthCaption': '各項檢查',
    'ex.check': '檢查項目',
    'ex.detail': '說明',
    'check.registry': '交換登錄表',
    'check.certificate': '本機憑證',
    'check.clock': '時鐘（與交換中心比對）',
    'check.center': '交換中心',
    'health.ok': '正常',
    'health.warning': '警告',
    'health.failed': '失敗',
    // operators' changes
    'ops.draftTitle': '登錄表草稿（管理中心）',
    'ops.draftIntro': '此處的變更先存入草稿，發布後各交換中心與閘道才會生效。',
    'ops.published': '目前發布版次：{serial}（{at}）',
    'ops.neverPublished': '尚未發布過。',
    'ops.noChanges': '草稿與目前發布版本相同，沒有待發布的變更。',
    'ops.changes': '待發布的變更',
    'ops.changesCaption': '草稿相對於目前發布版本的變更',
    'ops.change': '變更',
    'ops.change.added': '新增',
    'ops.change.changed': '修改',
    'ops.change.removed': '移除',
    'ops.fields': '變更項目',
    'ops.other': '其他變更：{parts}',
    'ops.problems': '草稿有問題，修正前無法發布：',
    'ops.publish': '發布',
    'ops.publishConfirm': '確定要將草稿簽署並發布為新版次嗎？各主機擷取後即生效。',
    'ops.publishYes': '確定發布',
    'ops.publishedNow': '已發布版次 {serial}。',
    'ops.cancel': '取消',
    'ops.agencyTitle': '{name}（{code}）',
    'ops.suspend': '中止服務',
    'ops.resume': '恢復服務',
    'ops.reason': '中止原因',
    'ops.reasonPick': '請選擇原因',
    'ops.note': '說明',
    'ops.resumeNote': '恢復說明（必填）',
    'ops.suspendConfirm': '確定要中止 {name} 的交換服務嗎？',
    'ops.suspendYes': '確定中止',
    'ops.reasonRequired': '請選擇中止原因。',
    'ops.noteRequired': '請填寫恢復說明。',
    'ops.saveAddresses': '儲存位址',
    'ops.addressesHelp': '每行一個 IP 位址（或已核准機關的 CIDR 範圍）。',
    'ops.saved': '已存入草稿，發布後生效。',
    'ops.centerTitle': '交換中心 {center} 的停止服務',
    'ops.centerIntro': '於本中心中止的機關立即無法收發公文（文件暫存），與登錄表的中止服務無關。',
    'ops.centerNone': '本中心目前沒有中止服務的機關。',
    'ops.centerCaption': '本中心中止服務的機關',
    'ops.agencyCode': '機關代碼',
    'ops.by': '執行者',
    'ops.at': '時間',
    'ops.actions': '操作',
    'ops.centerDone': '已更新。',
    'reason.certificate-expired': '憑證過期',
    'reason.certificate-lost': '憑證遺失',
    'reason.security-incident': '資安事件',
    'reason.malware': '惡意程式',
    'reason.refused-audit': '拒絕稽核',
    'reason.other': '其他',
  },
  en: {
    'menu.exchange': 'Document exchange',
    'menu.exchangeAdmin': 'Exchange admin',
    'ex.title': 'Document exchange',
    'ex.inbox': 'Inbox',
    'ex.sent': 'Sent',
    'ex.boxes': 'Boxes',
    'ex.compose': 'Write a letter (函)',
    'ex.agencyOf': 'This agency: {name} ({code})',
    'ex.noneInbox': 'Nothing has arrived yet.',
    'ex.noneSent': 'Nothing has been sent yet.',
    'ex.count': '{n} documents',
    'ex.subject': 'Subject (主旨)',
    'ex.number': 'Reference number (發文字號)',
    'ex.sender': 'Sender',
    'ex.recipients': 'Recipients and state',
    'ex.receivedAt': 'Received',
    'ex.createdAt': 'Sent',
    'ex.state': 'State',
    'ex.noSubject': '(no subject)',
    'ex.inboxCaption': 'Inbox, newest first',
    'ex.sentCaption': 'Sent documents, newest first',
    'ex.reason': 'reason: {reason}',
    'exstate.prepared': 'Not yet sent',
    'exstate.accepted': 'At the exchange center',
    'exstate.received': 'Received',
    'exstate.rejected': 'Returned (rejected)',
    'exstate.expired': 'Expired unreceived',
    'ex.composeTitle': 'Write a letter (函)',
    'ex.composeIntro': 'Sent in the name of this agency ({name}). Fields marked "required" must be filled; the others have the usual defaults when left empty.',
    'ex.required': ' (required)',
    'ex.subjectHelp': 'One paragraph saying what the letter is for.',
    'ex.paragraphs': 'Explanation (說明)',
    'ex.paragraphN': 'Explanation, paragraph {n}',
    'ex.paragraphHelp': 'Two or more paragraphs are numbered 一、二、三…',
    'ex.addParagraph': 'Add a paragraph',
    'ex.removeParagraph': 'Remove paragraph {n}',
    'ex.to': 'To (正本)',
    'ex.cc': 'Copy (副本)',
    'ex.filter': 'Filter the {which} agencies (name or code)',
    'ex.chosen': '{n} agencies chosen',
    'ex.suspended': 'suspended, cannot receive',
    'ex.self': 'this agency',
    'ex.noMatch': 'No agency matches.',
    'ex.speed': 'Speed (速別)',
    'ex.secrecy': 'Classification (密等)',
    'ex.secrecyNone': '(none)',
    'ex.declassification': 'Declassification condition or period',
    'ex.declassificationHelp': 'When classified, e.g. "declassified on publication".',
    'ex.date': 'Date (發文日期)',
    'ex.dateHelp': 'Today (Taiwan time) by default.',
    'ex.numberHelp': 'Empty: numbered 第(ROC date and time)號 automatically.',
    'ex.address': 'Address',
    'ex.contact': 'Contact',
    'ex.contactHelp': 'One per line, e.g. "承辦人：王小明", "電話：06-2991111". Empty: "承辦人：your account".',
    'ex.signature': 'Signature (署名)',
    'ex.attachments': 'Attachments',
    'ex.attachmentNote': 'Attachment note',
    'ex.attachmentNoteHelp': 'Empty with attachments: "如文".',
    'ex.files': 'Attachment files',
    'ex.filesHelp': 'Several files may be chosen; about 23 MB in all at most (larger ones go with tessera exchange send).',
    'ex.filesTotal': '{n} files, {size} in all (at most {max})',
    'ex.filesTooBig': 'The attachments are {size}, more than {max}: remove some.',
    'ex.removeFile': 'Remove attachment {name}',
    'ex.reading': 'Reading the attachments…',
    'ex.send': 'Send',
    'ex.sending': 'Sending…',
    'ex.fixField': 'Correct the marked field: {message}',
    'ex.noRecipient': 'Choose at least one agency as To (正本).',
    'ex.back': 'Back to the exchange',
    'ex.box': 'Box',
    'ex.boxInbox': 'Received',
    'ex.boxSent': 'Sent',
    'ex.date2': 'Date',
    'ex.rendered': 'The letter (as printed)',
    'ex.frame': 'The letter ({subject})',
    'ex.noRendering': 'This document was sent with the command line or rejected on arrival: the console keeps no copy to show.',
    'ex.downloads': 'Attachments',
    'ex.noAttachments': 'No attachments.',
    'ex.download': 'Download {name}',
    'ex.receipts': 'Receipts',
    'ex.receiptsCaption': 'Receipt state of each recipient',
    'ex.recipient': 'Recipient',
    'ex.updatedAt': 'Updated',
    'ex.refresh': 'Refresh',
    'ex.refreshing': 'Refreshing…',
    'ex.refreshed': 'Updated at {time}.',
    'ex.polling': 'Some recipients are not final: refreshed every {s} seconds.',
    'ex.final': 'Every recipient is final.',
    'ex.inboxState': 'State here',
    'ex.adminTitle': 'Exchange administration',
    'ex.registry': 'Exchange registry',
    'ex.network': 'Network',
    'ex.serial': 'Serial',
    'ex.issuedAt': 'Issued',
    'ex.expiresAt': 'Valid until',
    'ex.revoked': 'Revoked certificates',
    'ex.centers': 'Exchange centers',
    'ex.centersCaption': 'Exchange centers',
    'ex.centerId': 'Id',
    'ex.centerUrl': 'URL',
    'ex.addresses': 'Allowed source addresses',
    'ex.agencies': 'Agencies',
    'ex.agenciesCaption': 'Registered agencies',
    'ex.code': 'Agency code',
    'ex.name': 'Name',
    'ex.center': 'Home center',
    'ex.rangesAllowed': '(ranges allowed)',
    'ex.suspension': 'Service',
    'ex.active': 'Active',
    'ex.suspendedBy': 'Suspended: {reason} ({by}, {at})',
    'ex.certificates': 'Certificates',
    'ex.certExpires': '{subject}: valid until {date}, {days} days left',
    'ex.certExpired': '{subject}: expired on {date}',
    'ex.certError': 'Unreadable certificate: {error}',
    'ex.certSoon': ' (ends within {n} days: renew it soon)',
    'ex.noCert': 'No certificate',
    'ex.readOnly': 'Read-only: an agency\'s entry (allowed addresses, suspension) is changed and published by the management center with tessera exchange registry; a center suspends with tessera exchange suspend / resume there.',
    'ex.health': 'Gateway health',
    'ex.checkedAt': 'Last checked: {time}',
    'ex.healthOk': 'Every check passed.',
    'ex.healthBad': 'Checks failed: {failed}',
    'ex.healthNone': 'No health check recorded on this host yet (the gateway of tessera serve makes one when it starts, as does tessera exchange health).',
    'ex.healthCaption': 'Checks',
    'ex.check': 'Check',
    'ex.detail': 'Detail',
    'check.registry': 'Registry',
    'check.certificate': 'This host\'s certificate',
    'check.clock': 'Clock (against the center)',
    'check.center': 'Exchange center',
    'health.ok': 'OK',
    'health.warning': 'Warning',
    'health.failed': 'Failed',
    'ops.draftTitle': 'Registry draft (management host)',
    'ops.draftIntro': 'Changes here go into the draft; centers and gateways apply them once it is published.',
    'ops.published': 'Published serial: {serial} ({at})',
    'ops.neverPublished': 'Never published yet.',
    'ops.noChanges': 'The draft is the same as the publication: nothing to publish.',
    'ops.changes': 'Changes to publish',
    'ops.changesCaption': 'What the draft changes against the publication',
    'ops.change': 'Change',
    'ops.change.added': 'added',
    'ops.change.changed': 'changed',
    'ops.change.removed': 'removed',
    'ops.fields': 'What',
    'ops.other': 'Other changes: {parts}',
    'ops.problems': 'The draft has problems and cannot be published until corrected:',
    'ops.publish': 'Publish',
    'ops.publishConfirm': 'Sign the draft and publish it as the next serial? Hosts apply it once they fetch it.',
    'ops.publishYes': 'Publish now',
    'ops.publishedNow': 'Published serial {serial}.',
    'ops.cancel': 'Cancel',
    'ops.agencyTitle': '{name} ({code})',
    'ops.suspend': 'Suspend service',
    'ops.resume': 'Resume service',
    'ops.reason': 'Reason',
    'ops.reasonPick': 'Choose a reason',
    'ops.note': 'Note',
    'ops.resumeNote': 'Why it resumes (required)',
    'ops.suspendConfirm': 'Suspend the exchange service of {name}?',
    'ops.suspendYes': 'Suspend',
    'ops.reasonRequired': 'Choose the reason.',
    'ops.noteRequired': 'Say why service resumes.',
    'ops.saveAddresses': 'Save addresses',
    'ops.addressesHelp': 'One IP address per line (or a CIDR range for an agency granted ranges).',
    'ops.saved': 'Saved in the draft; publish to put it into effect.',
    'ops.centerTitle': 'Suspensions at exchange center {center}',
    'ops.centerIntro': 'An agency suspended at this center can neither send nor receive at once (its documents are held); this is apart from the registry.',
    'ops.centerNone': 'No agency is suspended at this center.',
    'ops.centerCaption': 'Agencies suspended at this center',
    'ops.agencyCode': 'Agency code',
    'ops.by': 'By',
    'ops.at': 'When',
    'ops.actions': 'Actions',
    'ops.centerDone': 'Updated.',
    'reason.certificate-expired': 'certificate expired',
    'reason.certificate-lost': 'certificate lost',
    'reason.security-incident': 'security incident',
    'reason.malware': 'malware',
    'reason.refused-audit': 'refused an audit',
    'reason.other': 'other',
  },
});

// --- the API ---------------------------------------------------------------------------

const enc = encodeURIComponent;
const xapi = {
  agencies: () => call('GET', '/exchange/agencies'),
  documents: (box) => call('GET', '/exchange/documents', { query: { box } }),
  document: (id) => call('GET', `/exchange/documents/${enc(id)}`),
  send: (body) => call('POST', '/exchange/documents', { body }),
  registry: () => call('GET', '/exchange/registry'),
  health: () => call('GET', '/exchange/health'),
  draft: () => call('GET', '/exchange/registry/draft'),
  suspend: (code, body) => call('POST', `/exchange/registry/agencies/${enc(code)}/suspension`, { body }),
  resume: (code, body) => call('DELETE', `/exchange/registry/agencies/${enc(code)}/suspension`, { body }),
  addresses: (code, addresses) => call('PUT', `/exchange/registry/agencies/${enc(code)}/addresses`, { body: { addresses } }),
  publish: () => call('POST', '/exchange/registry/publications', { body: {} }),
  centerList: () => call('GET', '/exchange/center/suspensions'),
  centerSuspend: (code, body) => call('POST', `/exchange/center/suspensions/${enc(code)}`, { body }),
  centerResume: (code, body) => call('DELETE', `/exchange/center/suspensions/${enc(code)}`, { body }),
};
const attachmentHref = (id, index) => `/api/v1/exchange/documents/${enc(id)}/attachments/${enc(index)}`;
const documentHash = (id) => `#/document/${enc(id)}`;

// --- shared pieces ---------------------------------------------------------------------

const sep = () => (getLang() === 'en' ? ', ' : '、');
const when = (v) => (v ? h('time', { datetime: v }, formatDate(v)) : '—');
const stateWord = (s) => (s && t(`exstate.${s}`) !== `exstate.${s}` ? t(`exstate.${s}`) : s || '—');

// An agency as "name（code）" when the registry knows it.
function agencyLabel(code, names) {
  const name = names && names.get(code);
  return name ? (getLang() === 'en' ? `${name} (${code})` : `${name}（${code}）`) : code;
}

// A recipient's state as words, with the reason of a rejection.
function stateBadge(state, reason) {
  const cls = state === 'received' ? 'ok' : (state === 'rejected' || state === 'expired') ? 'bad' : 'pending';
  return h('span', { class: `ex-state ${cls}`, dataset: { state: state || '' } }, stateWord(state),
    reason ? h('span', { class: 'ex-reason' }, `（${t('ex.reason', { reason })}）`) : null);
}

async function agencyNames() {
  const data = await xapi.agencies();
  return { own: data.agency, list: data.agencies || [], names: new Map((data.agencies || []).map((a) => [a.code, a.name])) };
}

function failed(m, status, e) {
  status.replaceWith(errorBox(e));
}

// --- #/exchange --------------------------------------------------------------------------

async function viewExchange(m, route, live) {
  const box = route.params.get('box') === 'sent' ? 'sent' : 'inbox';
  const tab = (b) => h('li', {}, h('a', {
    href: `#/exchange?box=${b}`, class: 'ex-tab', 'aria-current': b === box ? 'page' : null,
  }, t(b === 'sent' ? 'ex.sent' : 'ex.inbox')));
  m.append(h('h1', { tabindex: '-1' }, t('ex.title')),
    h('div', { class: 'ex-bar' },
      h('nav', { class: 'ex-tabs', 'aria-label': t('ex.boxes') }, h('ul', {}, tab('inbox'), tab('sent'))),
      hasRole(SEND_ROLES) ? h('a', { href: '#/compose', class: 'button primary' }, t('ex.compose')) : null));
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(status);
  let data;
  try {
    data = await load(() => Promise.all([xapi.documents(box), agencyNames()]));
  } catch (e) {
    if (live()) failed(m, status, e);
    return;
  }
  if (!live()) return;
  const [list, agencies] = data;
  const docs = list.documents || [];
  status.textContent = docs.length ? t('ex.count', { n: docs.length }) : t(box === 'sent' ? 'ex.noneSent' : 'ex.noneInbox');
  status.before(h('p', { class: 'muted' }, t('ex.agencyOf', { name: agencies.names.get(agencies.own) || agencies.own, code: agencies.own })));
  if (!docs.length) return;
  const subject = (d) => h('a', { href: documentHash(d.id), class: 'ex-subject' }, d.subject || t('ex.noSubject'));
  if (box === 'inbox') {
    m.append(table(t('ex.inboxCaption'), [
      [t('ex.subject'), subject],
      [t('ex.number'), (d) => d.number || '—'],
      [t('ex.sender'), (d) => agencyLabel(d.sender, agencies.names)],
      [t('ex.receivedAt'), (d) => when(d.received_at), 'when'],
      [t('ex.state'), (d) => stateBadge(d.state, d.reason)],
    ], docs, true));
  } else {
    m.append(table(t('ex.sentCaption'), [
      [t('ex.subject'), subject],
      [t('ex.number'), (d) => d.number || '—'],
      [t('ex.recipients'), (d) => h('ul', { class: 'ex-recipients' }, (d.recipients || []).map((r) =>
        h('li', {}, agencyLabel(r.recipient, agencies.names), ' ', stateBadge(r.state, r.reason || r.reason_code))))],
      [t('ex.createdAt'), (d) => when(d.created_at), 'when'],
    ], docs, true));
  }
}

// --- #/compose ---------------------------------------------------------------------------

function rocToday() {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: 'Asia/Taipei', year: 'numeric', month: 'numeric', day: 'numeric',
  }).formatToParts(new Date()).map((p) => [p.type, p.value]));
  return `中華民國${Number(parts.year) - 1911}年${Number(parts.month)}月${Number(parts.day)}日`;
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error || new Error(file.name));
    r.readAsDataURL(file);
  });
}

// A filterable list of agencies as checkboxes (suspended ones and this agency shown, not
// selectable). Returns {el, chosen(), focus()}.
function agencyPicker(which, key, agencies) {
  const legendId = `ex-${key}-legend`;
  const filter = h('input', { type: 'search', name: `${key}-filter`, autocomplete: 'off' });
  const count = h('p', { class: 'help', 'aria-live': 'polite' });
  const empty = h('p', { class: 'muted', hidden: true }, t('ex.noMatch'));
  const items = agencies.list.map((a) => {
    const blocked = a.suspended || a.code === agencies.own;
    const box = h('input', { type: 'checkbox', name: key, value: a.code, disabled: blocked });
    const note = a.suspended ? t('ex.suspended') : a.code === agencies.own ? t('ex.self') : null;
    const id = `ex-${key}-${a.code}`.replace(/[^A-Za-z0-9_-]/g, '_');
    box.id = id;
    return {
      agency: a, box,
      el: h('li', { class: blocked ? 'ex-agency blocked' : 'ex-agency' }, box,
        h('label', { for: id }, h('span', { class: 'ex-agency-name' }, a.name), ' ',
          h('code', {}, a.code), note ? h('span', { class: 'ex-agency-note' }, `（${note}）`) : null)),
    };
  });
  const update = () => {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const i of items) {
      const match = !q || i.agency.name.toLowerCase().includes(q) || i.agency.code.toLowerCase().includes(q) || i.box.checked;
      i.el.hidden = !match;
      if (match) shown += 1;
    }
    empty.hidden = shown > 0;
    count.textContent = t('ex.chosen', { n: items.filter((i) => i.box.checked).length });
  };
  filter.addEventListener('input', update);
  items.forEach((i) => i.box.addEventListener('change', update));
  update();
  const el = h('fieldset', { class: 'ex-picker', 'aria-labelledby': legendId, dataset: { field: key } },
    h('legend', { id: legendId }, which),
    field(t('ex.filter', { which }), filter), count,
    h('ul', { class: 'ex-agencies' }, items.map((i) => i.el)), empty);
  return {
    el,
    chosen: () => items.filter((i) => i.box.checked).map((i) => i.agency.code),
    focus: () => (items.find((i) => !i.box.disabled)?.box || filter).focus(),
  };
}

async function viewCompose(m, route, live) {
  m.append(h('p', { class: 'back' }, h('a', { href: '#/exchange?box=sent' }, `← ${t('ex.back')}`)),
    h('h1', { id: 'compose-title', tabindex: '-1' }, t('ex.composeTitle')));
  const loading = h('p', { role: 'status' }, t('loading'));
  m.append(loading);
  let agencies;
  try {
    agencies = await load(() => agencyNames());
  } catch (e) {
    if (live()) failed(m, loading, e);
    return;
  }
  if (!live()) return;
  loading.remove();

  const req = (label) => `${label}${t('ex.required')}`;
  const subject = h('textarea', { name: 'subject', rows: '2', required: true });
  const paragraphList = h('ol', { class: 'ex-paragraphs' });
  const paragraphs = [];
  const renumber = () => paragraphs.forEach((p, i) => {
    p.label.textContent = t('ex.paragraphN', { n: i + 1 });
    p.remove.textContent = '×';
    p.remove.setAttribute('aria-label', t('ex.removeParagraph', { n: i + 1 }));
    p.remove.disabled = paragraphs.length === 1;
  });
  const addParagraph = (focus) => {
    const area = h('textarea', { name: 'paragraph', rows: '3' });
    area.id = `ex-paragraph-${Math.random().toString(36).slice(2)}`;
    const label = h('label', { for: area.id });
    const remove = h('button', { type: 'button', class: 'ex-remove' });
    const p = { area, label, remove, el: h('li', { class: 'ex-paragraph' }, label, h('div', { class: 'ex-row' }, area, remove)) };
    remove.addEventListener('click', () => {
      const i = paragraphs.indexOf(p);
      if (paragraphs.length === 1 || i < 0) return;
      paragraphs.splice(i, 1);
      p.el.remove();
      renumber();
      paragraphs[Math.max(0, i - 1)].area.focus();
    });
    paragraphs.push(p);
    paragraphList.append(p.el);
    renumber();
    if (focus) area.focus();
  };
  addParagraph(false);
  const to = agencyPicker(t('ex.to'), 'to', agencies);
  const cc = agencyPicker(t('ex.cc'), 'cc', agencies);
  const option = (v, label = v) => h('option', { value: v }, label);
  const speed = h('select', { name: 'speed' }, option('普通件'), option('速件'), option('最速件'));
  const secrecy = h('select', { name: 'secrecy' }, option('', t('ex.secrecyNone')), option('密'), option('機密'), option('極機密'), option('絕對機密'));
  const declassification = h('input', { type: 'text', name: 'declassification', autocomplete: 'off' });
  const date = h('input', { type: 'text', name: 'date', value: rocToday(), autocomplete: 'off' });
  const number = h('input', { type: 'text', name: 'number', autocomplete: 'off' });
  const address = h('input', { type: 'text', name: 'address', autocomplete: 'street-address' });
  const contact = h('textarea', { name: 'contact', rows: '2' });
  const signature = h('input', { type: 'text', name: 'signature', autocomplete: 'off' });
  const note = h('input', { type: 'text', name: 'attachment_note', autocomplete: 'off' });
  const files = h('input', { type: 'file', name: 'files', multiple: true });
  const fileList = h('ul', { class: 'ex-files' });
  const fileTotal = h('p', { class: 'help', 'aria-live': 'polite' });
  let chosen = []; // File objects
  const showFiles = () => {
    clear(fileList);
    chosen.forEach((f, i) => fileList.append(h('li', {}, h('span', { class: 'ex-file-name' }, f.name), ' ',
      h('span', { class: 'muted' }, `（${formatSize(f.size)}）`), ' ',
      h('button', { type: 'button', class: 'ex-remove', 'aria-label': t('ex.removeFile', { name: f.name }), onclick: () => {
        chosen.splice(i, 1);
        showFiles();
        files.focus();
      } }, '×'))));
    const total = chosen.reduce((s, f) => s + f.size, 0);
    fileTotal.textContent = chosen.length ? t('ex.filesTotal', { n: chosen.length, size: formatSize(total), max: formatSize(MAX_FILES_BYTES) }) : '';
    fileTotal.className = total > MAX_FILES_BYTES ? 'help error-text' : 'help';
    if (total > MAX_FILES_BYTES) fileTotal.textContent = t('ex.filesTooBig', { size: formatSize(total), max: formatSize(MAX_FILES_BYTES) });
  };
  files.addEventListener('change', () => {
    const seen = new Set(chosen.map((f) => f.name));
    for (const f of files.files) if (!seen.has(f.name)) chosen.push(f);
    files.value = '';
    showFiles();
  });

  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('ex.send'));
  const form = h('form', { class: 'card ex-compose', novalidate: true, 'aria-labelledby': 'compose-title' },
    h('p', {}, t('ex.composeIntro', { name: agencyLabel(agencies.own, agencies.names) })),
    h('div', { dataset: { field: 'subject' } }, field(req(t('ex.subject')), subject, t('ex.subjectHelp'))),
    h('fieldset', { dataset: { field: 'paragraphs' } }, h('legend', {}, t('ex.paragraphs')),
      h('p', { class: 'help' }, t('ex.paragraphHelp')), paragraphList,
      h('div', { class: 'actions' }, h('button', { type: 'button', onclick: () => addParagraph(true) }, t('ex.addParagraph')))),
    h('div', { class: 'ex-pickers' }, h('div', { dataset: { field: 'to' } }, to.el), h('div', { dataset: { field: 'cc' } }, cc.el)),
    h('div', { class: 'grid' },
      h('div', { dataset: { field: 'speed' } }, field(t('ex.speed'), speed)),
      h('div', { dataset: { field: 'secrecy' } }, field(t('ex.secrecy'), secrecy)),
      h('div', { dataset: { field: 'declassification' } }, field(t('ex.declassification'), declassification, t('ex.declassificationHelp'))),
      h('div', { dataset: { field: 'date' } }, field(t('ex.date'), date, t('ex.dateHelp'))),
      h('div', { dataset: { field: 'number' } }, field(t('ex.number'), number, t('ex.numberHelp'))),
      h('div', { dataset: { field: 'signature' } }, field(t('ex.signature'), signature))),
    h('div', { dataset: { field: 'address' } }, field(t('ex.address'), address)),
    h('div', { dataset: { field: 'contact' } }, field(t('ex.contact'), contact, t('ex.contactHelp'))),
    h('fieldset', { dataset: { field: 'attachments' } }, h('legend', {}, t('ex.attachments')),
      h('div', { dataset: { field: 'attachment_note' } }, field(t('ex.attachmentNote'), note, t('ex.attachmentNoteHelp'))),
      field(t('ex.files'), files, t('ex.filesHelp')), fileList, fileTotal),
    status,
    h('div', { class: 'actions' }, submit));

  // A field's message next to it, the control marked invalid and focused.
  const controls = {
    subject, speed, secrecy, declassification, date, number, address, contact, signature,
    attachment_note: note, attachments: files,
  };
  const clearErrors = () => {
    form.querySelectorAll('.field-error').forEach((x) => x.remove());
    form.querySelectorAll('[aria-invalid]').forEach((x) => {
      x.removeAttribute('aria-invalid');
      const d = (x.getAttribute('aria-describedby') || '').split(' ').filter((s) => !s.endsWith('-error')).join(' ');
      if (d) x.setAttribute('aria-describedby', d); else x.removeAttribute('aria-describedby');
    });
    clear(status);
  };
  const showFieldError = (name, message) => {
    const base = String(name || '').split(/[[.]/)[0];
    const index = Number((/^\w+\[(\d+)\]/.exec(name || '') || [])[1]);
    let control = controls[base];
    let holder = form.querySelector(`[data-field="${base}"]`);
    if (base === 'paragraphs') control = paragraphs[Number.isInteger(index) ? index : 0]?.area || paragraphs[0].area;
    if (base === 'to' || base === 'cc') {
      const picker = base === 'to' ? to : cc;
      control = picker.el.querySelector('input[type="checkbox"]:not(:disabled)') || picker.el.querySelector('input');
    }
    if (base === 'contact') control = contact;
    if (!holder || !control) {
      status.append(errorBox({ code: 'invalid_argument', message }));
      return;
    }
    const errId = `ex-${base}-error`;
    const msg = h('p', { class: 'field-error', id: errId, dataset: { for: base } }, message);
    if (base === 'to' || base === 'cc') holder.querySelector('legend').after(msg);
    else if (base === 'paragraphs') control.closest('li').append(msg);
    else control.closest('.field').append(msg);
    const target = base === 'to' || base === 'cc' ? holder.querySelector('fieldset') : control;
    target.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') || ''} ${errId}`.trim());
    status.append(errorBox({ code: 'invalid_argument', message: t('ex.fixField', { message }) }));
    control.focus();
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const total = chosen.reduce((s, f) => s + f.size, 0);
    if (total > MAX_FILES_BYTES) {
      showFieldError('attachments', t('ex.filesTooBig', { size: formatSize(total), max: formatSize(MAX_FILES_BYTES) }));
      return;
    }
    const body = {
      subject: subject.value,
      paragraphs: paragraphs.map((p) => p.area.value).filter((v) => v.trim()),
      to: to.chosen(),
      cc: cc.chosen(),
      speed: speed.value,
    };
    const optional = { secrecy, declassification, date, number, address, signature, attachment_note: note };
    for (const [k, el] of Object.entries(optional)) if (el.value.trim()) body[k] = el.value;
    const lines = contact.value.split('\n').map((x) => x.trim()).filter(Boolean);
    if (lines.length) body.contact = lines;
    submit.disabled = true;
    submit.textContent = t('ex.sending');
    form.setAttribute('aria-busy', 'true');
    try {
      if (chosen.length) {
        status.append(h('p', {}, t('ex.reading')));
        body.attachments = await Promise.all(chosen.map(async (f) => ({ name: f.name, content_base64: await readBase64(f) })));
        clear(status);
      }
      status.append(h('p', {}, t('ex.sending')));
      const sent = await xapi.send(body);
      forget();
      go(documentHash(sent.id));
    } catch (e) {
      clear(status);
      if (e.status === 400 || e.code === 'invalid_argument') {
        // The API names the field in error.field; its message starts with it too.
        const name = e.field || (/^([\w[\].]+): /.exec(e.message || '') || [])[1];
        showFieldError(name, e.message);
      } else {
        status.append(errorBox(e));
        submit.focus();
      }
    } finally {
      submit.disabled = false;
      submit.textContent = t('ex.send');
      form.removeAttribute('aria-busy');
    }
  });
  m.append(form);
}

// --- #/document/ID -----------------------------------------------------------------------

function srcdocFor(html) {
  // The frame is sandboxed (no scripts, no same origin); the policy adds: nothing may load.
  const policy = '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">';
  return /<head[^>]*>/i.test(html) ? html.replace(/<head[^>]*>/i, (x) => `${x}${policy}`)
    : `<!doctype html><html><head><meta charset="utf-8">${policy}</head><body>${html}</body></html>`;
}

function receiptsTable(doc, names) {
  return table(t('ex.receiptsCaption'), [
    [t('ex.recipient'), (r) => agencyLabel(r.recipient, names)],
    [t('ex.state'), (r) => stateBadge(r.state, r.reason || r.reason_code)],
    [t('ex.updatedAt'), (r) => when(r.updated_at), 'when'],
  ], doc.recipients || [], true);
}

async function viewDocument(m, route, live) {
  const id = route.arg || '';
  const back = h('p', { class: 'back' }, h('a', { href: '#/exchange' }, `← ${t('ex.back')}`));
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(back, status);
  let data;
  try {
    data = await load(() => Promise.all([xapi.document(id), agencyNames()]));
  } catch (e) {
    if (!live()) return;
    status.replaceWith(h('h1', { tabindex: '-1' }, t('error.title')), errorBox(e));
    return;
  }
  if (!live()) return;
  status.remove();
  const [doc, agencies] = data;
  back.querySelector('a').href = `#/exchange?box=${doc.box === 'sent' ? 'sent' : 'inbox'}`;
  const f = doc.fields || {};
  const subject = f.subject || t('ex.noSubject');
  const facts = [
    [t('ex.box'), t(doc.box === 'sent' ? 'ex.boxSent' : 'ex.boxInbox')],
    [t('ex.sender'), agencyLabel(doc.sender, agencies.names)],
  ];
  if (f.number) facts.push([t('ex.number'), f.number]);
  if (f.date) facts.push([t('ex.date2'), f.date]);
  if (f.speed) facts.push([t('ex.speed'), f.speed]);
  if (f.secrecy) facts.push([t('ex.secrecy'), [f.secrecy, f.declassification].filter(Boolean).join(sep())]);
  facts.push([doc.box === 'sent' ? t('ex.createdAt') : t('ex.receivedAt'), when(doc.box === 'sent' ? doc.created_at : doc.received_at)]);
  if (doc.box !== 'sent') facts.push([t('ex.inboxState'), stateBadge(doc.state, doc.reason)]);

  const article = h('article', { class: 'message ex-document', 'aria-labelledby': 'doc-title' },
    h('h1', { id: 'doc-title', tabindex: '-1' }, subject),
    h('dl', { class: 'meta headers' }, facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))));

  if (doc.box === 'sent') {
    const region = h('div', { id: 'ex-receipts', class: 'ex-receipts' }, receiptsTable(doc, agencies.names));
    const note = h('p', { class: 'help ex-poll', role: 'status', 'aria-live': 'polite' });
    const refresh = h('button', { type: 'button', class: 'ex-refresh' }, t('ex.refresh'));
    article.append(h('section', { 'aria-labelledby': 'receipts-title' },
      h('div', { class: 'ex-head' }, h('h2', { id: 'receipts-title' }, t('ex.receipts')), refresh),
      region, note));
    let current = doc;
    const allFinal = (d) => (d.recipients || []).every((r) => FINAL_STATES.has(r.state));
    const describe = (extra) => {
      note.textContent = [extra, allFinal(current) ? t('ex.final') : t('ex.polling', { s: POLL_MS / 1000 })].filter(Boolean).join(' ');
    };
    let busy = false;
    const update = async (byHand) => {
      if (busy) return;
      busy = true;
      refresh.disabled = true;
      if (byHand) note.textContent = t('ex.refreshing');
      try {
        const fresh = await xapi.document(id);
        if (!live()) return;
        current = fresh;
        state.cache = { hash: location.hash, data: [fresh, agencies] };
        clear(region).append(receiptsTable(fresh, agencies.names));
        describe(t('ex.refreshed', { time: new Date().toLocaleTimeString(getLang() === 'en' ? 'en' : 'zh-TW', { hour12: false }) }));
      } catch (e) {
        if (live()) note.textContent = errorText(e);
      } finally {
        busy = false;
        refresh.disabled = false;
      }
    };
    refresh.addEventListener('click', () => update(true));
    describe('');
    // Poll while some recipient is not final and this page is the one shown (live()).
    (async () => {
      while (live() && !allFinal(current)) {
        await sleep(POLL_MS);
        if (!live()) return;
        await update(false);
      }
    })();
  }

  const files = doc.attachments || [];
  article.append(h('section', { 'aria-labelledby': 'ex-downloads-title' },
    h('h2', { id: 'ex-downloads-title' }, t('ex.downloads')),
    files.length ? h('ul', { class: 'downloads' }, files.map((a) => h('li', {},
      h('a', { href: attachmentHref(id, a.index), download: a.name || '', class: 'download', 'data-kind': 'attachment' },
        t('ex.download', { name: a.name || `#${a.index}` })),
      ' ', a.size === null || a.size === undefined ? null : h('span', { class: 'muted' }, `（${formatSize(a.size)}）`))))
      : h('p', { class: 'muted' }, t('ex.noAttachments'))));

  if (doc.html) {
    const frame = h('iframe', { sandbox: '', class: 'mail-html ex-frame', title: t('ex.frame', { subject }), referrerpolicy: 'no-referrer' });
    frame.srcdoc = srcdocFor(doc.html);
    article.append(h('section', { 'aria-labelledby': 'ex-rendered-title' },
      h('h2', { id: 'ex-rendered-title' }, t('ex.rendered')), frame));
  } else {
    article.append(h('p', { class: 'notice', role: 'note' }, t('ex.noRendering')));
  }
  m.append(article);
}

// --- #/exchange-admin --------------------------------------------------------------------

function certLine(c) {
  if (c.error) return h('li', { class: 'ex-cert bad' }, t('ex.certError', { error: c.error }));
  const date = formatDate(c.not_after);
  if (c.expired) return h('li', { class: 'ex-cert bad', dataset: { days: c.days_left } }, t('ex.certExpired', { subject: c.subject, date }));
  const soon = c.days_left < CERT_WARN_DAYS;
  return h('li', { class: soon ? 'ex-cert soon' : 'ex-cert', dataset: { days: c.days_left } },
    t('ex.certExpires', { subject: c.subject, date, days: c.days_left }),
    soon ? h('span', { class: 'ex-soon' }, t('ex.certSoon', { n: CERT_WARN_DAYS })) : null);
}

async function viewAdmin(m, route, live) {
  m.append(h('h1', { tabindex: '-1' }, t('ex.adminTitle')));
  const roles = exRoles();
  if (roles.includes('management')) {
    const sec = h('section', { class: 'ex-draft', 'aria-labelledby': 'ops-draft-title' });
    m.append(sec);
    await draftPart(sec, live);
  }
  if (roles.includes('center')) {
    const sec = h('section', { class: 'ex-center-ops', 'aria-labelledby': 'ops-center-title' });
    m.append(sec);
    await centerPart(sec, live);
  }
  if (!live() || !state.session?.exchange_agency) return;
  await gatewayAdmin(m, live, roles.includes('management'));
}

// A confirmation asked in the page (role alertdialog): resolves true for yes.
function confirmBox(anchor, text, yesText) {
  return new Promise((resolve) => {
    const id = `ops-confirm-${Math.random().toString(36).slice(2)}`;
    const yes = h('button', { type: 'button', class: 'danger ops-yes' }, yesText);
    const no = h('button', { type: 'button', class: 'ops-no' }, t('ops.cancel'));
    const box = h('div', { class: 'confirm', role: 'alertdialog', 'aria-describedby': id },
      h('p', { id }, text), h('div', { class: 'actions' }, yes, no));
    const done = (v) => { box.remove(); resolve(v); };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    (anchor.closest('.actions') || anchor).after(box);
    no.focus();
  });
}

const reasonWord = (r) => (t(`reason.${r}`) !== `reason.${r}` ? t(`reason.${r}`) : r);

function reasonSelect(reasons) {
  return h('select', { 'aria-required': 'true' },
    h('option', { value: '' }, t('ops.reasonPick')),
    (reasons || []).map((r) => h('option', { value: r }, reasonWord(r))));
}

// The management host's draft: each agency's suspension and addresses, what changed
// since the publication, and 發布.
async function draftPart(sec, live) {
  clear(sec);
  sec.append(h('h2', { id: 'ops-draft-title' }, t('ops.draftTitle')), h('p', {}, t('ops.draftIntro')));
  const status = h('p', { role: 'status', 'aria-live': 'polite' }, t('loading'));
  sec.append(status);
  let d;
  try {
    d = await xapi.draft();
  } catch (e) {
    if (live()) status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  status.textContent = d.published_serial != null
    ? t('ops.published', { serial: d.published_serial, at: formatDate(d.published_at) })
    : t('ops.neverPublished');

  // The changes and 發布.
  const pub = h('div', { class: 'card ops-publish' }, h('h3', {}, t('ops.changes')));
  if (!(d.changes || []).length && !(d.other_changes || []).length && d.published_serial != null) {
    pub.append(h('p', { class: 'muted ops-nochanges' }, t('ops.noChanges')));
  } else {
    if ((d.changes || []).length) {
      pub.append(table(t('ops.changesCaption'), [
        [t('ex.code'), (c) => h('code', {}, c.agency), 'word'],
        [t('ex.name'), (c) => c.name],
        [t('ops.change'), (c) => t(`ops.change.${c.change}`), 'word'],
        [t('ops.fields'), (c) => (c.fields || []).map((x) => (x === 'addresses' ? t('ex.addresses') : x === 'suspension' ? t('ex.suspension') : x)).join(sep())],
      ], d.changes, true));
    }
    if ((d.other_changes || []).length) pub.append(h('p', {}, t('ops.other', { parts: d.other_changes.join(sep()) })));
  }
  if ((d.problems || []).length) {
    pub.append(h('div', { class: 'error', role: 'alert' }, h('p', {}, t('ops.problems')),
      h('ul', {}, d.problems.map((p) => h('li', {}, p)))));
  }
  const pubStatus = h('p', { role: 'status', 'aria-live': 'polite', class: 'ops-pub-status' });
  const pubButton = h('button', { type: 'button', class: 'primary ops-publish-button', disabled: !d.publishable || !d.changed }, t('ops.publish'));
  pubButton.addEventListener('click', async () => {
    if (!(await confirmBox(pubButton, t('ops.publishConfirm'), t('ops.publishYes')))) return;
    pubButton.disabled = true;
    try {
      const r = await xapi.publish();
      if (!live()) return;
      await draftPart(sec, live);
      const done = sec.querySelector('.ops-pub-status');
      if (done) done.textContent = t('ops.publishedNow', { serial: r.serial });
    } catch (e) {
      if (!live()) return;
      pubButton.disabled = false;
      pubStatus.replaceChildren(errorBox(e));
    }
  });
  pub.append(h('div', { class: 'actions' }, pubButton), pubStatus);
  sec.append(pub);

  // Each agency.
  for (const a of d.agencies || []) {
    const card = h('article', { class: 'card ops-agency', dataset: { code: a.code } });
    const name = agencyLabel(a.code, new Map([[a.code, a.name]]));
    card.append(h('h3', {}, name));
    const live2 = h('p', { role: 'status', 'aria-live': 'polite', class: 'ops-agency-status' });
    const again = async (message) => {
      await draftPart(sec, live);
      const c = sec.querySelector(`.ops-agency[data-code="${CSS.escape(a.code)}"] .ops-agency-status`);
      if (c) c.textContent = message;
    };
    // Suspension.
    if (a.suspension) {
      card.append(h('p', { class: 'ex-state bad ops-suspended' }, t('ex.suspendedBy', {
        reason: [reasonWord(a.suspension.reason), a.suspension.note].filter(Boolean).join(sep()),
        by: a.suspension.by || '—', at: formatDate(a.suspension.at),
      })));
      const note = h('input', { type: 'text', 'aria-required': 'true', class: 'ops-resume-note' });
      const err = h('p', { class: 'field-error', role: 'alert' });
      const form = h('form', { class: 'ops-resume' }, field(t('ops.resumeNote'), note), err,
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('ops.resume'))));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        live2.textContent = '';
        if (!note.value.trim()) { err.textContent = t('ops.noteRequired'); note.focus(); return; }
        try {
          await xapi.resume(a.code, { note: note.value });
          if (live()) await again(t('ops.saved'));
        } catch (e) {
          if (live()) err.textContent = errorText(e);
        }
      });
      card.append(form);
    } else {
      card.append(h('p', { class: 'ex-state ok' }, t('ex.active')));
      const reason = reasonSelect(d.reasons);
      const note = h('input', { type: 'text', class: 'ops-suspend-note' });
      const err = h('p', { class: 'field-error', role: 'alert' });
      const button = h('button', { type: 'submit', class: 'danger' }, t('ops.suspend'));
      const form = h('form', { class: 'ops-suspend' }, field(t('ops.reason'), reason), field(t('ops.note'), note), err,
        h('div', { class: 'actions' }, button));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        err.textContent = '';
        live2.textContent = '';
        if (!reason.value) { err.textContent = t('ops.reasonRequired'); reason.focus(); return; }
        if (!(await confirmBox(button, t('ops.suspendConfirm', { name }), t('ops.suspendYes')))) return;
        try {
          await xapi.suspend(a.code, { reason: reason.value, note: note.value });
          if (live()) await again(t('ops.saved'));
        } catch (e) {
          if (live()) err.textContent = errorText(e);
        }
      });
      card.append(form);
    }
    // Addresses.
    const area = h('textarea', { rows: 3, class: 'ops-addresses', spellcheck: 'false' });
    area.value = (a.addresses || []).join('\n');
    const aerr = h('p', { class: 'field-error', role: 'alert' });
    const aform = h('form', { class: 'ops-address-form' },
      field(t('ex.addresses'), area, t('ops.addressesHelp')), aerr,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('ops.saveAddresses'))));
    aform.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      aerr.textContent = '';
      live2.textContent = '';
      area.removeAttribute('aria-invalid');
      try {
        await xapi.addresses(a.code, area.value.split('\n').map((x) => x.trim()).filter(Boolean));
        if (live()) await again(t('ops.saved'));
      } catch (e) {
        if (!live()) return;
        aerr.textContent = errorText(e);
        area.setAttribute('aria-invalid', 'true');
      }
    });
    card.append(aform, live2);
    sec.append(card);
  }
}

// This host's exchange center: its own suspensions, suspend and resume.
async function centerPart(sec, live) {
  clear(sec);
  const status = h('p', { role: 'status', 'aria-live': 'polite' }, t('loading'));
  sec.append(h('h2', { id: 'ops-center-title' }, t('ops.centerTitle', { center: '' })), h('p', {}, t('ops.centerIntro')), status);
  let d;
  try {
    d = await xapi.centerList();
  } catch (e) {
    if (live()) status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  sec.querySelector('h2').textContent = t('ops.centerTitle', { center: d.center });
  status.textContent = '';
  const again = async (message) => {
    await centerPart(sec, live);
    const s2 = sec.querySelector('[role=status]');
    if (s2) s2.textContent = message;
  };
  if (!(d.suspensions || []).length) {
    sec.append(h('p', { class: 'muted ops-center-none' }, t('ops.centerNone')));
  } else {
    sec.append(table(t('ops.centerCaption'), [
      [t('ops.agencyCode'), (x) => h('code', {}, x.agency), 'word'],
      [t('ops.reason'), (x) => [reasonWord(x.reason), x.note].filter(Boolean).join(sep())],
      [t('ops.by'), (x) => x.by, 'word'],
      [t('ops.at'), (x) => when(x.at)],
      [t('ops.actions'), (x) => {
        const note = h('input', { type: 'text', 'aria-required': 'true' });
        const err = h('p', { class: 'field-error', role: 'alert' });
        const f = h('form', { class: 'ops-center-resume', dataset: { code: x.agency } },
          field(t('ops.resumeNote'), note), err, h('button', { type: 'submit' }, t('ops.resume')));
        f.addEventListener('submit', async (ev) => {
          ev.preventDefault();
          err.textContent = '';
          if (!note.value.trim()) { err.textContent = t('ops.noteRequired'); return; }
          try {
            await xapi.centerResume(x.agency, { note: note.value });
            if (live()) await again(t('ops.centerDone'));
          } catch (e) {
            if (live()) err.textContent = errorText(e);
          }
        });
        return f;
      }],
    ], d.suspensions, true));
  }
  const code = h('input', { type: 'text', 'aria-required': 'true', class: 'ops-center-code', autocomplete: 'off' });
  const reason = reasonSelect(d.reasons);
  const note = h('input', { type: 'text' });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const button = h('button', { type: 'submit', class: 'danger' }, t('ops.suspend'));
  const form = h('form', { class: 'card ops-center-suspend' }, field(t('ops.agencyCode'), code),
    field(t('ops.reason'), reason), field(t('ops.note'), note), err, h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    if (!code.value.trim()) { code.focus(); return; }
    if (!reason.value) { err.textContent = t('ops.reasonRequired'); reason.focus(); return; }
    if (!(await confirmBox(button, t('ops.suspendConfirm', { name: code.value.trim() }), t('ops.suspendYes')))) return;
    try {
      await xapi.centerSuspend(code.value.trim(), { reason: reason.value, note: note.value });
      if (live()) await again(t('ops.centerDone'));
    } catch (e) {
      if (live()) err.textContent = errorText(e);
    }
  });
  sec.append(form);
}

// The agency gateway's view: its health and the registry it holds.
async function gatewayAdmin(m, live, management) {
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(status);
  let data;
  try {
    data = await load(() => Promise.all([
      xapi.registry(),
      xapi.health().catch((e) => (e.status === 404 ? null : Promise.reject(e))),
    ]));
  } catch (e) {
    if (live()) failed(m, status, e);
    return;
  }
  if (!live()) return;
  status.remove();
  const [reg, health] = data;

  // Health first: what an operator acts on.
  const hs = h('section', { class: 'card ex-health', 'aria-labelledby': 'ex-health-title' },
    h('h2', { id: 'ex-health-title' }, t('ex.health')));
  if (!health) {
    hs.append(h('p', { class: 'muted' }, t('ex.healthNone')));
  } else {
    hs.append(h('p', {}, t('ex.checkedAt', { time: formatDate(health.checked_at) })),
      h('p', { class: health.ok ? 'chain ok' : 'chain bad' },
        health.ok ? t('ex.healthOk') : t('ex.healthBad', { failed: (health.failed || []).map((n) => t(`check.${n}`)).join(sep()) })),
      table(t('ex.healthCaption'), [
        [t('ex.check'), (c) => h('span', { class: 'word' }, t(`check.${c.name}`) !== `check.${c.name}` ? t(`check.${c.name}`) : c.name), 'word'],
        [t('ex.state'), (c) => h('span', { class: `ex-state ${c.state === 'ok' ? 'ok' : c.state === 'warning' ? 'pending' : 'bad'}`, dataset: { state: c.state, check: c.name } },
          t(`health.${c.state}`))],
        [t('ex.detail'), (c) => c.detail],
      ], health.checks || [], true));
  }
  m.append(hs);

  const facts = [
    [t('ex.network'), reg.network],
    [t('ex.serial'), String(reg.serial)],
    [t('ex.issuedAt'), when(reg.issued_at)],
    [t('ex.expiresAt'), when(reg.expires_at)],
  ];
  if ((reg.revoked_fingerprints || []).length) facts.push([t('ex.revoked'), reg.revoked_fingerprints.join(sep())]);
  const list = (a) => ((a || []).length ? h('ul', { class: 'ex-list' }, a.map((x) => h('li', {}, h('code', {}, x)))) : '—');
  m.append(h('section', { class: 'ex-registry', 'aria-labelledby': 'ex-registry-title' },
    h('h2', { id: 'ex-registry-title' }, t('ex.registry')),
    h('dl', { class: 'meta card' }, facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
    management ? null : h('p', { class: 'notice', role: 'note' }, t('ex.readOnly')),
    h('h3', {}, t('ex.agencies')),
    table(t('ex.agenciesCaption'), [
      [t('ex.code'), (a) => h('code', {}, a.code), 'word'],
      [t('ex.name'), (a) => a.name],
      [t('ex.center'), (a) => a.center, 'word'],
      [t('ex.addresses'), (a) => h('div', { class: 'ex-addresses' }, list(a.addresses), a.ranges_allowed ? h('span', { class: 'muted' }, t('ex.rangesAllowed')) : null)],
      [t('ex.suspension'), (a) => (a.suspension
        ? h('span', { class: 'ex-state bad' }, t('ex.suspendedBy', { reason: [a.suspension.reason, a.suspension.note].filter(Boolean).join(sep()), by: a.suspension.by || '—', at: formatDate(a.suspension.at) }))
        : h('span', { class: 'ex-state ok' }, t('ex.active')))],
      [t('ex.certificates'), (a) => ((a.certificates || []).length
        ? h('ul', { class: 'ex-certs' }, a.certificates.map(certLine)) : t('ex.noCert'))],
    ], reg.agencies || [], true),
    h('h3', {}, t('ex.centers')),
    table(t('ex.centersCaption'), [
      [t('ex.centerId'), (c) => c.id, 'word'],
      [t('ex.centerUrl'), (c) => h('code', {}, c.url)],
      [t('ex.addresses'), (c) => list(c.addresses)],
    ], reg.centers || [], true)));
}

export default {
  menu: [
    { route: 'exchange', key: 'menu.exchange', also: ['compose', 'document'] },
    { route: 'exchange-admin', key: 'menu.exchangeAdmin' },
  ],
  views: {
    exchange: { view: viewExchange, roles: onGateway(READ_ROLES) },
    compose: { view: viewCompose, roles: onGateway(SEND_ROLES) },
    document: { view: viewDocument, roles: onGateway(READ_ROLES) },
    'exchange-admin': { view: viewAdmin, roles: onExchangeHost(OPERATE_ROLES) },
  },
};
