// The console's words in Traditional Chinese (first) and English, the chosen language
// (remembered in localStorage) and the date format officials expect: the 民國 year and
// the Gregorian date, in local time.

const STORE_KEY = 'tessera.lang';
export const LANGS = { 'zh-TW': 'zh-Hant-TW', en: 'en' };

const zh = {
  brand: 'Tessera 公文與郵件歸檔主控台',
  skip: '跳至主要內容',
  menu: '主選單',
  'menu.search': '郵件查詢',
  'menu.audit': '稽核紀錄',
  'menu.accounts': '帳號管理',
  'menu.vaults': '備份',
  switchTo: 'English',
  switchToLabel: 'Switch to English',
  signOut: '登出',
  signedInAs: '{name}（{role}）',
  footer: '本系統僅供公務使用，所有查詢、調閱與下載均記錄於稽核紀錄。',
  loading: '載入中…',

  'role.clerk': '承辦人',
  'role.auditor': '稽核人員',
  'role.records': '檔案管理人員',
  'role.operator': '系統維運人員',
  'role.admin': '系統管理者',

  'signin.title': '登入',
  'signin.intro': '請以主控台帳號登入。',
  'signin.name': '帳號',
  'signin.password': '密碼',
  'signin.totp': '動態驗證碼（已啟用雙因素驗證者填寫）',
  'signin.submit': '登入',
  'signin.busy': '登入中…',
  'signin.expired': '工作階段已結束，請重新登入。',
  'signin.signedOut': '您已登出。',

  'home.title': '歡迎',
  'home.none': '您的角色目前沒有可使用的主控台頁面。',

  'search.title': '郵件查詢',
  'search.query': '查詢字詞',
  'search.queryHelp': '可輸入中文字詞或查詢語法，例如：國稅局 from:鄭 after:2024-01-01 has:attachment',
  'search.filters': '篩選條件（選填）',
  'search.from': '寄件者',
  'search.to': '收件者',
  'search.after': '日期起（含）',
  'search.before': '日期迄（不含）',
  'search.hasAttachment': '僅含附件者',
  'search.submit': '查詢',
  'search.clear': '清除條件',
  'search.results': '查詢結果',
  'search.matches': '共 {n} 筆符合',
  'search.shown': '（顯示前 {n} 筆）',
  'search.none': '查無符合的郵件。',
  'search.hint': '輸入字詞或條件後按「查詢」。',
  'search.noSubject': '（無主旨）',

  'field.from': '寄件者',
  'field.to': '收件者',
  'field.cc': '副本',
  'field.date': '日期',
  'field.subject': '主旨',
  'field.messageId': '郵件識別碼',
  'field.attachments': '附件',

  'message.back': '回到查詢結果',
  'message.text': '純文字內容',
  'message.html': 'HTML 內容（已淨化，於隔離框架中顯示）',
  'message.htmlFrame': '郵件的 HTML 內容',
  'message.blocked': '已封鎖 {n} 個遠端內容',
  'message.truncated': 'HTML 內容過於複雜，僅顯示部分。完整內容請下載原始郵件。',
  'message.problems': '本郵件在歸檔時發現下列問題：',
  'message.noText': '（本郵件沒有純文字內容）',
  'message.downloads': '下載',
  'message.eml': '下載原始郵件（EML）',
  'message.attachment': '下載附件：{name}',
  'message.deliveries': '投遞紀錄',
  'message.deliveryAt': '時間',
  'message.deliverySender': '寄件位址',
  'message.deliveryRecipients': '收件位址',
  'message.deliveryOrigin': '來源',

  'audit.title': '稽核紀錄',
  'audit.since': '起始日期',
  'audit.limit': '最多筆數',
  'audit.submit': '查看',
  'audit.chainOk': '雜湊鏈完整：共 {n} 筆紀錄，未發現竄改。',
  'audit.chainBad': '雜湊鏈有問題：共 {n} 筆紀錄，發現 {p} 個問題。',
  'audit.seq': '序號',
  'audit.at': '時間',
  'audit.actor': '操作者',
  'audit.action': '動作',
  'audit.target': '對象',
  'audit.outcome': '結果',
  'audit.none': '此期間沒有紀錄。',
  'audit.caption': '稽核紀錄（新到舊）',

  'accounts.title': '帳號管理',
  'accounts.caption': '主控台帳號',
  'accounts.name': '帳號',
  'accounts.displayName': '姓名',
  'accounts.role': '角色',
  'accounts.agency': '機關代碼',
  'accounts.totp': '雙因素驗證',
  'accounts.locked': '鎖定',
  'accounts.cliNote': '新增、變更或移除帳號請使用命令列：tessera console account …',
  'vaults.title': '備份',
  'vaults.none': '此系統尚未設定備份庫（tessera vault init）。',
  'vaults.open': '檢視備份庫 {name}',
  'vault.back': '回到備份列表',
  'vault.title': '備份庫：{name}',
  'vault.threshold': '門檻（k/n）',
  'vault.thresholdValue': '任 {k} 個（共 {n} 個儲存點）',
  'vault.snapshots': '快照數',
  'vault.newest': '最新快照',
  'vault.lastDrill': '最近一次還原演練',
  'vault.drillsThisYear': '年度演練次數',
  'vault.drillsThisYearValue': '{n} 次',
  'vault.problem': '問題',
  'vault.stores': '儲存點',
  'vault.storesCaption': '儲存點與健康狀態',
  'vault.storeIndex': '編號',
  'vault.storeLocation': '位置',
  'vault.storeKind': '類型',
  'vault.storeHealth': '狀態',
  'vault.storeOk': '正常',
  'vault.storeBad': '異常：{problem}',
  'vault.noneYet': '尚無',
  'vault.pass': '通過',
  'vault.fail': '未通過',
  'vault.snapshotList': '快照',
  'vault.snapshotCaption': '快照（新到舊）',
  'vault.snapTime': '時間',
  'vault.snapId': '快照代號',
  'vault.snapFiles': '檔案數',
  'vault.snapBytes': '大小',
  'vault.snapPaths': '備份路徑',
  'vault.noSnapshots': '尚無快照。',
  'vault.drillList': '還原演練紀錄',
  'vault.drillCaption': '還原演練（新到舊）',
  'vault.drillAt': '時間',
  'vault.drillResult': '結果',
  'vault.rto': 'RTO（復原時間）',
  'vault.rpo': 'RPO（資料遺失時間）',
  'vault.storesUsed': '使用的儲存點',
  'vault.storesLost': '視為遺失',
  'vault.filesVerified': '驗證檔案數',
  'vault.noDrills': '尚無還原演練紀錄。',
  'vault.perYear': '{year} 年：通過 {passed} 次，未通過 {failed} 次',
  'vault.actions': '備份與演練',
  'vault.backupTitle': '立即備份',
  'vault.backupPaths': '要備份的路徑（每行一個）',
  'vault.backupHelp': '伺服器上的絕對路徑，例如 /srv/documents',
  'vault.backupSubmit': '立即備份',
  'vault.backupNoPaths': '請至少輸入一個路徑。',
  'vault.drillTitle': '執行還原演練',
  'vault.drillIntro': '自 k 個儲存點重建金鑰，還原最新快照至暫存目錄並逐一驗證檔案。',
  'vault.drillLose': '視為遺失的儲存點（選填）',
  'vault.drillLoseStore': '第 {index} 個：{location}',
  'vault.drillSubmit': '執行還原演練',
  'vault.jobStatus': '工作進度',
  'vault.busyOther': '此備份庫正有工作執行中。',
  'vault.jobStarting': '工作已送出，等待開始…',
  'vault.backupRunning': '備份進行中：已讀取 {items} 個檔案，{bytes}',
  'vault.drillRunning': '還原演練進行中：已還原 {items} 個檔案，{bytes}',
  'vault.backupDone': '備份完成：快照 {id}，{files} 個檔案，{bytes}，耗時 {seconds}。',
  'vault.drillDone': '還原演練通過：RTO {rto}，RPO {rpo}，驗證 {files} 個檔案。',
  'vault.drillFailed': '還原演練未通過：{error}',
  'vault.jobFailed': '工作失敗：{error}',
  'dur.s': '{n} 秒',
  'dur.m': '{m} 分 {s} 秒',
  'dur.h': '{h} 小時 {m} 分',
  'dur.d': '{d} 天 {h} 小時',

  yes: '是',
  no: '否',

  'error.title': '發生錯誤',
  'error.invalid_argument': '輸入有誤',
  'error.unauthenticated': '帳號、密碼或驗證碼不正確',
  'error.permission_denied': '沒有權限',
  'error.not_found': '找不到資料，或您無權查看',
  'error.already_exists': '資料已存在',
  'error.failed_precondition': '目前狀態不允許此操作',
  'error.locked': '帳號已因多次登入失敗而鎖定',
  'error.too_many_requests': '嘗試次數過多，請稍後再試',
  'error.internal': '伺服器內部錯誤',
  'error.unavailable': '服務暫時無法使用',
  'error.network': '無法連線到伺服器',
  'error.generic': '操作失敗',
  'error.withDetail': '{summary}：{detail}',
  notFound: '找不到此頁面。',
};

const en = {
  brand: 'Tessera Records and Mail Archive Console',
  skip: 'Skip to main content',
  menu: 'Main menu',
  'menu.search': 'Mail search',
  'menu.audit': 'Audit log',
  'menu.accounts': 'Accounts',
  switchTo: '中文',
  switchToLabel: '切換為中文',
  signOut: 'Sign out',
  signedInAs: '{name} ({role})',
  footer: 'For official use only. Every search, view and download is recorded in the audit log.',
  loading: 'Loading…',

  'role.clerk': 'Clerk',
  'role.auditor': 'Auditor',
  'role.records': 'Records officer',
  'role.operator': 'Operator',
  'role.admin': 'Administrator',

  'signin.title': 'Sign in',
  'signin.intro': 'Sign in with your console account.',
  'signin.name': 'Account name',
  'signin.password': 'Password',
  'signin.totp': 'Authenticator code (if two-factor sign-in is on)',
  'signin.submit': 'Sign in',
  'signin.busy': 'Signing in…',
  'signin.expired': 'Your session has ended. Please sign in again.',
  'signin.signedOut': 'You have signed out.',

  'home.title': 'Welcome',
  'home.none': 'Your role has no console pages yet.',

  'search.title': 'Mail search',
  'search.query': 'Search terms',
  'search.queryHelp': 'Chinese words or the query language, e.g. 國稅局 from:鄭 after:2024-01-01 has:attachment',
  'search.filters': 'Filters (optional)',
  'search.from': 'From',
  'search.to': 'To',
  'search.after': 'On or after',
  'search.before': 'Before',
  'search.hasAttachment': 'With attachments only',
  'search.submit': 'Search',
  'search.clear': 'Clear',
  'search.results': 'Results',
  'search.matches': '{n} matching',
  'search.shown': ' (first {n} shown)',
  'search.none': 'No mail matches.',
  'search.hint': 'Enter words or filters and press Search.',
  'search.noSubject': '(no subject)',

  'field.from': 'From',
  'field.to': 'To',
  'field.cc': 'Cc',
  'field.date': 'Date',
  'field.subject': 'Subject',
  'field.messageId': 'Message-ID',
  'field.attachments': 'Attachments',

  'message.back': 'Back to the results',
  'message.text': 'Plain text',
  'message.html': 'HTML (sanitised, shown in an isolated frame)',
  'message.htmlFrame': "The message's HTML",
  'message.blocked': '{n} remote items blocked',
  'message.truncated': 'The HTML is too deeply nested and is shown only in part; download the original message for all of it.',
  'message.problems': 'Problems found when this message was archived:',
  'message.noText': '(this message has no plain text)',
  'message.downloads': 'Downloads',
  'message.eml': 'Download the original message (EML)',
  'message.attachment': 'Download attachment: {name}',
  'message.deliveries': 'Deliveries',
  'message.deliveryAt': 'At',
  'message.deliverySender': 'Envelope sender',
  'message.deliveryRecipients': 'Envelope recipients',
  'message.deliveryOrigin': 'Origin',

  'audit.title': 'Audit log',
  'audit.since': 'Since',
  'audit.limit': 'At most',
  'audit.submit': 'Show',
  'audit.chainOk': 'The hash chain holds: {n} records, no tampering found.',
  'audit.chainBad': 'The hash chain is broken: {n} records, {p} problems.',
  'audit.seq': 'No.',
  'audit.at': 'At',
  'audit.actor': 'Actor',
  'audit.action': 'Action',
  'audit.target': 'Target',
  'audit.outcome': 'Outcome',
  'audit.none': 'No records in this period.',
  'audit.caption': 'Audit records (newest first)',

  'accounts.title': 'Accounts',
  'accounts.caption': 'Console accounts',
  'accounts.name': 'Name',
  'accounts.displayName': 'Display name',
  'accounts.role': 'Role',
  'accounts.agency': 'Agency',
  'accounts.totp': 'Two-factor',
  'accounts.locked': 'Locked',
  'accounts.cliNote': 'Accounts are added, changed and removed on the command line: tessera console account …',
  'menu.vaults': 'Vaults',
  'vaults.title': 'Vaults',
  'vaults.none': 'No vault is set up here (tessera vault init).',
  'vaults.open': 'Open vault {name}',
  'vault.back': 'Back to the vaults',
  'vault.title': 'Vault: {name}',
  'vault.threshold': 'Threshold (k of n)',
  'vault.thresholdValue': 'any {k} of {n} stores',
  'vault.snapshots': 'Snapshots',
  'vault.newest': 'Newest snapshot',
  'vault.lastDrill': 'Last restore drill',
  'vault.drillsThisYear': 'Drills this year',
  'vault.drillsThisYearValue': '{n}',
  'vault.problem': 'Problem',
  'vault.stores': 'Stores',
  'vault.storesCaption': 'Stores and their health',
  'vault.storeIndex': 'No.',
  'vault.storeLocation': 'Location',
  'vault.storeKind': 'Kind',
  'vault.storeHealth': 'Health',
  'vault.storeOk': 'OK',
  'vault.storeBad': 'Problem: {problem}',
  'vault.noneYet': 'None yet',
  'vault.pass': 'Passed',
  'vault.fail': 'Failed',
  'vault.snapshotList': 'Snapshots',
  'vault.snapshotCaption': 'Snapshots, newest first',
  'vault.snapTime': 'Time',
  'vault.snapId': 'Snapshot',
  'vault.snapFiles': 'Files',
  'vault.snapBytes': 'Size',
  'vault.snapPaths': 'Paths',
  'vault.noSnapshots': 'No snapshot yet.',
  'vault.drillList': 'Restore drills',
  'vault.drillCaption': 'Restore drills, newest first',
  'vault.drillAt': 'Time',
  'vault.drillResult': 'Result',
  'vault.rto': 'RTO (time to restore)',
  'vault.rpo': 'RPO (data at risk)',
  'vault.storesUsed': 'Stores used',
  'vault.storesLost': 'Treated as lost',
  'vault.filesVerified': 'Files verified',
  'vault.noDrills': 'No restore drill recorded yet.',
  'vault.perYear': '{year}: {passed} passed, {failed} failed',
  'vault.actions': 'Backups and drills',
  'vault.backupTitle': 'Back up now',
  'vault.backupPaths': 'Paths to back up (one per line)',
  'vault.backupHelp': 'Absolute paths on the server, e.g. /srv/documents',
  'vault.backupSubmit': 'Back up now',
  'vault.backupNoPaths': 'Enter at least one path.',
  'vault.drillTitle': 'Run a restore drill',
  'vault.drillIntro': 'Rebuilds the key from k stores, restores the newest snapshot to a scratch directory and checks every file.',
  'vault.drillLose': 'Stores to treat as lost (optional)',
  'vault.drillLoseStore': 'No. {index}: {location}',
  'vault.drillSubmit': 'Run a drill',
  'vault.jobStatus': 'Progress',
  'vault.busyOther': 'A job is running on this vault.',
  'vault.jobStarting': 'Job sent, waiting for it to start…',
  'vault.backupRunning': 'Backing up: {items} files read, {bytes}',
  'vault.drillRunning': 'Drill running: {items} files restored, {bytes}',
  'vault.backupDone': 'Backup done: snapshot {id}, {files} files, {bytes}, took {seconds}.',
  'vault.drillDone': 'Drill passed: RTO {rto}, RPO {rpo}, {files} files verified.',
  'vault.drillFailed': 'Drill failed: {error}',
  'vault.jobFailed': 'Job failed: {error}',
  'dur.s': '{n} s',
  'dur.m': '{m} min {s} s',
  'dur.h': '{h} h {m} min',
  'dur.d': '{d} d {h} h',

  yes: 'Yes',
  no: 'No',

  'error.title': 'Something went wrong',
  'error.invalid_argument': 'Invalid input',
  'error.unauthenticated': 'Wrong name, password or code',
  'error.permission_denied': 'Not allowed',
  'error.not_found': 'Not found, or not yours to see',
  'error.already_exists': 'Already exists',
  'error.failed_precondition': 'Not possible in the current state',
  'error.locked': 'The account is locked after repeated failed sign-ins',
  'error.too_many_requests': 'Too many attempts; try again later',
  'error.internal': 'Server error',
  'error.unavailable': 'Service unavailable',
  'error.network': 'Cannot reach the server',
  'error.generic': 'The request failed',
  'error.withDetail': '{summary}: {detail}',
  notFound: 'No such page.',
};

const DICTS = { 'zh-TW': zh, en };
let current = 'zh-TW';

// An area's own words (pages/*.js), kept beside its pages: addWords({zh: {...}, en: {...}}).
// A key defined twice is a mistake that would silently change another page's text.
export function addWords({ zh: zhWords = {}, en: enWords = {} }) {
  for (const [dict, words] of [[zh, zhWords], [en, enWords]]) {
    for (const [k, v] of Object.entries(words)) {
      if (Object.prototype.hasOwnProperty.call(dict, k)) throw new Error(`the word ${k} is defined twice`);
      dict[k] = v;
    }
  }
}

function stored() {
  try { return localStorage.getItem(STORE_KEY); } catch { return null; }
}

export function initLang() {
  const s = stored();
  current = s && DICTS[s] ? s : 'zh-TW';
  document.documentElement.lang = LANGS[current];
  return current;
}

export function getLang() { return current; }

export function setLang(lang) {
  if (!DICTS[lang]) return;
  current = lang;
  try { localStorage.setItem(STORE_KEY, lang); } catch { /* private mode: not remembered */ }
  document.documentElement.lang = LANGS[lang];
}

export function has(key) { return Object.prototype.hasOwnProperty.call(DICTS[current], key); }

// t('search.matches', {n: 3}); an unknown key shows itself, so a gap is visible.
export function t(key, params = {}) {
  const s = DICTS[current][key] ?? zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

const pad = (n) => String(n).padStart(2, '0');

// An RFC 3339 time in local time, both ways: 民國115年12月4日 14:30（2026-12-04）.
export function formatDate(value) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const y = d.getFullYear();
  const gregorian = `${y}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const roc = y > 1911 ? y - 1911 : 1912 - y;
  if (current === 'en') {
    return `${gregorian} ${time} (ROC year ${y > 1911 ? roc : `${roc} before ROC`})`;
  }
  const era = y > 1911 ? `民國${roc}年` : `民國前${roc}年`;
  return `${era}${d.getMonth() + 1}月${d.getDate()}日 ${time}（${gregorian}）`;
}

export function formatSize(bytes) {
  if (typeof bytes !== 'number') return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// A duration in seconds, as people read it: 42.5 秒, 3 分 5 秒, 2 小時 10 分, 3 天 4 小時.
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  const x = Math.max(0, Number(seconds));
  if (x < 60) return t('dur.s', { n: x < 10 ? Math.round(x * 10) / 10 : Math.round(x) });
  if (x < 3600) return t('dur.m', { m: Math.floor(x / 60), s: Math.round(x % 60) });
  if (x < 86400) return t('dur.h', { h: Math.floor(x / 3600), m: Math.floor((x % 3600) / 60) });
  return t('dur.d', { d: Math.floor(x / 86400), h: Math.floor((x % 86400) / 3600) });
}
