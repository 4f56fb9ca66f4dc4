// Setting up vaults and their schedules (docs/api.md, "Setting up vaults and schedules"):
//   #/vault-new          the wizard: name, stores (each checked), k of n, key protection
//                        (operator, admin)
//   scheduleSection()    the 排程 part of a vault's page (pages/vault.js): next and last runs
//                        for everyone who may see the vault, the form for operators/admins
import { call } from '../api.js';
import { t, addWords, formatDate } from '../i18n.js';
import { h, clear, field } from '../dom.js';
import { state, errorBox, go, forget, sleep, hasRole, routeOf } from '../shell.js';

const WRITERS = ['operator', 'admin'];
const enc = encodeURIComponent;

addWords({
  zh: {
    'vsetup.menu': '新增備份庫',
    'vsetup.link': '新增備份庫',
    'vsetup.title': '新增備份庫',
    'vsetup.intro': '備份庫把每份備份加密後分散存放在數個彼此獨立的儲存位置。依下列步驟設定，建立後即可備份與排程。',
    'vsetup.step1': '1. 名稱',
    'vsetup.name': '備份庫名稱',
    'vsetup.nameHelp': '英文字母、數字、「.」「_」「-」，例如 gongwen-2026；會成為伺服器上的目錄名稱。',
    'vsetup.step2': '2. 儲存位置',
    'vsetup.step2Help': '每個儲存位置應在不同的地方（不同機房、不同雲端業者），且尚未存放其他備份庫。',
    'vsetup.store': '儲存位置 {n}',
    'vsetup.kind': '種類',
    'vsetup.kindFile': '伺服器上的目錄',
    'vsetup.kindS3': 'S3 相容物件儲存',
    'vsetup.path': '目錄路徑',
    'vsetup.pathHelp': '伺服器上的絕對路徑，例如 /srv/backup/store1；不存在時會建立。',
    'vsetup.endpoint': '端點網址',
    'vsetup.endpointHelp': '例如 https://s3.example.gov.tw；留空為 AWS。',
    'vsetup.bucket': '儲存桶（bucket）',
    'vsetup.prefix': '前綴（可留空）',
    'vsetup.region': '區域（可留空）',
    'vsetup.accessKey': '存取金鑰 ID',
    'vsetup.secretKey': '秘密金鑰',
    'vsetup.keysHelp': '只用於測試連線與建立，不會儲存、記錄或回傳。之後的備份使用伺服器本身的 S3 憑證（環境變數 AWS_ACCESS_KEY_ID 與 AWS_SECRET_ACCESS_KEY）；兩者皆留空則現在也使用伺服器的憑證。',
    'vsetup.check': '測試連線',
    'vsetup.checkLabel': '測試儲存位置 {n} 的連線',
    'vsetup.checking': '測試中…',
    'vsetup.checkOk': '可連線、可寫入，{empty}。',
    'vsetup.checkNew': '目錄尚不存在，建立備份庫時會建立。',
    'vsetup.checkEmpty': '目前是空的',
    'vsetup.checkNotEmpty': '已有 {n} 個物件（不是備份庫，仍可使用）',
    'vsetup.checkBad': '無法使用：{problem}',
    'vsetup.remove': '移除',
    'vsetup.removeLabel': '移除儲存位置 {n}',
    'vsetup.addStore': '再加一個儲存位置',
    'vsetup.step3': '3. 門檻（k / n）',
    'vsetup.k': '還原所需的儲存位置數（k）',
    'vsetup.kExplain': '共 {n} 個儲存位置：任何 {k} 個即可還原全部資料；少於 {k} 個則無法得知任何內容。最多可同時失去 {lose} 個。',
    'vsetup.kExplainBad': '共 {n} 個儲存位置：k 須介於 1 與 {n} 之間。',
    'vsetup.kTooBig': 'k 不可大於儲存位置的數目（{n}）。',
    'vsetup.kNotNumber': '請輸入 1 到 {n} 的整數。',
    'vsetup.nTooSmall': '至少需要 2 個儲存位置。',
    'vsetup.step4': '4. 金鑰保護',
    'vsetup.protect': '以通行密語保護伺服器上的金鑰檔',
    'vsetup.protectHelp': '不保護時，金鑰檔僅伺服器帳號可讀取。',
    'vsetup.passphrase': '通行密語',
    'vsetup.passphrase2': '再輸入一次通行密語',
    'vsetup.passphraseNote': '伺服器沒有終端機可詢問通行密語：tessera serve 必須以相同的 TESSERA_PASSPHRASE 環境變數啟動，主控台的備份、演練與排程才能開啟此備份庫。',
    'vsetup.passphraseShort': '通行密語至少 8 個字元。',
    'vsetup.passphraseDiffer': '兩次輸入的通行密語不同。',
    'vsetup.nameBad': '名稱只能用英文字母、數字、「.」「_」「-」，且不能以「.」開頭。',
    'vsetup.pathBad': '請輸入以 / 開頭的絕對路徑。',
    'vsetup.bucketBad': '請輸入儲存桶名稱。',
    'vsetup.create': '建立備份庫',
    'vsetup.creating': '建立中…',
    'vsetup.created': '已建立備份庫 {name}。',
    'vsetup.fixFirst': '請先修正標示的欄位。',
    'sched.title': '排程',
    'sched.intro': '時間皆為臺北時間（Asia/Taipei，UTC+8）。由 tessera serve 依時啟動，與手動備份一樣列在工作中。',
    'sched.nextBackup': '下次備份',
    'sched.lastBackup': '上次排程備份',
    'sched.nextDrill': '下次還原演練',
    'sched.lastDrill': '上次排程演練',
    'sched.backupPlan': '備份排程',
    'sched.drillPlan': '演練排程',
    'sched.none': '未設定',
    'sched.never': '尚未執行',
    'sched.backupText': '每週{days} {time} 備份 {paths}',
    'sched.drillText': '每月 {day} 日 {time}，視 {lose} 個儲存位置為遺失',
    'sched.drillTextLast': '（月份較短時為最後一天）',
    'sched.outcome.running': '執行中',
    'sched.outcome.done': '完成',
    'sched.outcome.failed': '失敗',
    'sched.outcome.not_started': '未啟動',
    'sched.outcome.unknown': '結果不明',
    'sched.job': '工作 {id}',
    'sched.noRunner': '此伺服器沒有執行排程（排程由 tessera serve 執行）。',
    'sched.edit': '修改排程',
    'sched.backupOn': '定期備份',
    'sched.days': '星期',
    'sched.day1': '一', 'sched.day2': '二', 'sched.day3': '三', 'sched.day4': '四', 'sched.day5': '五', 'sched.day6': '六', 'sched.day7': '日',
    'sched.dayLabel': '星期{d}',
    'sched.time': '備份時間（臺北時間）',
    'sched.drillTime': '演練時間（臺北時間）',
    'sched.timeHelp': '24 小時制，例如 02:30。',
    'sched.paths': '排程備份的路徑（每行一個）',
    'sched.pathsHelp': '伺服器上的絕對路徑。',
    'sched.drillOn': '定期還原演練',
    'sched.drillDay': '每月幾日（1–31）',
    'sched.drillLose': '視為遺失的儲存位置數（0–{max}）',
    'sched.drillLoseHelp': '每月輪替不同的儲存位置，證明少了它們仍能還原。',
    'sched.save': '儲存排程',
    'sched.saved': '排程已儲存。',
    'sched.saving': '儲存中…',
    'sched.runNow': '立即執行一次排程備份',
    'sched.runDrillNow': '立即執行一次排程演練',
    'sched.running': '排程的工作 {id} 執行中…',
    'sched.runDone': '排程的工作 {id} 已完成。',
    'sched.runFailed': '排程的工作 {id} 失敗：{error}',
    'sched.needDay': '請至少選擇一天。',
    'sched.needTime': '請輸入 HH:MM 格式的時間。',
    'sched.needPaths': '請輸入至少一個以 / 開頭的路徑。',
    'sched.dayBad': '請輸入 1 到 31 的日期。',
    'sched.loseBad': '請輸入 0 到 {max} 的整數。',
  },
  en: {
    'vsetup.menu': 'New vault',
    'vsetup.link': 'New vault',
    'vsetup.title': 'New vault',
    'vsetup.intro': 'A vault encrypts each backup and spreads it over several independent stores. Follow the steps; once it is made you can back up and set schedules.',
    'vsetup.step1': '1. Name',
    'vsetup.name': 'Vault name',
    'vsetup.nameHelp': 'Letters, digits, ".", "_" and "-", e.g. gongwen-2026; it becomes a directory name on the server.',
    'vsetup.step2': '2. Stores',
    'vsetup.step2Help': 'Put each store somewhere else (another site, another cloud provider), each not yet holding a vault.',
    'vsetup.store': 'Store {n}',
    'vsetup.kind': 'Kind',
    'vsetup.kindFile': 'Directory on the server',
    'vsetup.kindS3': 'S3-compatible object storage',
    'vsetup.path': 'Directory path',
    'vsetup.pathHelp': 'An absolute path on the server, e.g. /srv/backup/store1; made when missing.',
    'vsetup.endpoint': 'Endpoint URL',
    'vsetup.endpointHelp': 'e.g. https://s3.example.gov.tw; empty for AWS.',
    'vsetup.bucket': 'Bucket',
    'vsetup.prefix': 'Prefix (optional)',
    'vsetup.region': 'Region (optional)',
    'vsetup.accessKey': 'Access key ID',
    'vsetup.secretKey': 'Secret key',
    'vsetup.keysHelp': 'Used only to test and create the store: never stored, logged or sent back. Later backups use the server\'s own S3 credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment); leave both empty to use them now too.',
    'vsetup.check': 'Test connection',
    'vsetup.checkLabel': 'Test the connection of store {n}',
    'vsetup.checking': 'Testing…',
    'vsetup.checkOk': 'Reachable and writable, {empty}.',
    'vsetup.checkNew': 'The directory does not exist yet; it is made with the vault.',
    'vsetup.checkEmpty': 'empty',
    'vsetup.checkNotEmpty': 'holding {n} objects (no vault; usable)',
    'vsetup.checkBad': 'Not usable: {problem}',
    'vsetup.remove': 'Remove',
    'vsetup.removeLabel': 'Remove store {n}',
    'vsetup.addStore': 'Add a store',
    'vsetup.step3': '3. Threshold (k of n)',
    'vsetup.k': 'Stores needed to restore (k)',
    'vsetup.kExplain': '{n} stores: any {k} of them restore everything; fewer learn nothing. Up to {lose} may be lost at once.',
    'vsetup.kExplainBad': '{n} stores: k must be between 1 and {n}.',
    'vsetup.kTooBig': 'k cannot be more than the number of stores ({n}).',
    'vsetup.kNotNumber': 'Enter a whole number from 1 to {n}.',
    'vsetup.nTooSmall': 'A vault needs at least 2 stores.',
    'vsetup.step4': '4. Key protection',
    'vsetup.protect': 'Protect the key file on the server with a passphrase',
    'vsetup.protectHelp': 'Unprotected, the key file is readable by the server\'s account only.',
    'vsetup.passphrase': 'Passphrase',
    'vsetup.passphrase2': 'Passphrase again',
    'vsetup.passphraseNote': 'The server has no terminal to ask for it: tessera serve must be started with the same TESSERA_PASSPHRASE in its environment for the console\'s backups, drills and schedules to open this vault.',
    'vsetup.passphraseShort': 'The passphrase needs at least 8 characters.',
    'vsetup.passphraseDiffer': 'The two passphrases differ.',
    'vsetup.nameBad': 'Use letters, digits, ".", "_" and "-" only, not starting with ".".',
    'vsetup.pathBad': 'Enter an absolute path starting with /.',
    'vsetup.bucketBad': 'Enter the bucket\'s name.',
    'vsetup.create': 'Create the vault',
    'vsetup.creating': 'Creating…',
    'vsetup.created': 'Vault {name} created.',
    'vsetup.fixFirst': 'Correct the marked fields first.',
    'sched.title': 'Schedules',
    'sched.intro': 'Times are Taiwan time (Asia/Taipei, UTC+8). tessera serve starts the runs; they are listed as jobs like manual backups.',
    'sched.nextBackup': 'Next backup',
    'sched.lastBackup': 'Last scheduled backup',
    'sched.nextDrill': 'Next restore drill',
    'sched.lastDrill': 'Last scheduled drill',
    'sched.backupPlan': 'Backup schedule',
    'sched.drillPlan': 'Drill schedule',
    'sched.none': 'Not set',
    'sched.never': 'Not run yet',
    'sched.backupText': 'Every {days} at {time}: back up {paths}',
    'sched.drillText': 'Monthly on day {day} at {time}, {lose} store(s) treated as lost',
    'sched.drillTextLast': ' (the last day of shorter months)',
    'sched.outcome.running': 'running',
    'sched.outcome.done': 'done',
    'sched.outcome.failed': 'failed',
    'sched.outcome.not_started': 'not started',
    'sched.outcome.unknown': 'outcome unknown',
    'sched.job': 'job {id}',
    'sched.noRunner': 'This server runs no schedules (tessera serve runs them).',
    'sched.edit': 'Change the schedules',
    'sched.backupOn': 'Regular backup',
    'sched.days': 'Days',
    'sched.day1': 'Mon', 'sched.day2': 'Tue', 'sched.day3': 'Wed', 'sched.day4': 'Thu', 'sched.day5': 'Fri', 'sched.day6': 'Sat', 'sched.day7': 'Sun',
    'sched.dayLabel': '{d}',
    'sched.time': 'Backup time (Taiwan time)',
    'sched.drillTime': 'Drill time (Taiwan time)',
    'sched.timeHelp': '24-hour clock, e.g. 02:30.',
    'sched.paths': 'Paths the schedule backs up (one per line)',
    'sched.pathsHelp': 'Absolute paths on the server.',
    'sched.drillOn': 'Regular restore drill',
    'sched.drillDay': 'Day of the month (1–31)',
    'sched.drillLose': 'Stores treated as lost (0–{max})',
    'sched.drillLoseHelp': 'A different store each month, proving the vault restores without it.',
    'sched.save': 'Save the schedules',
    'sched.saved': 'Schedules saved.',
    'sched.saving': 'Saving…',
    'sched.runNow': 'Run the scheduled backup now',
    'sched.runDrillNow': 'Run the scheduled drill now',
    'sched.running': 'Scheduled job {id} running…',
    'sched.runDone': 'Scheduled job {id} done.',
    'sched.runFailed': 'Scheduled job {id} failed: {error}',
    'sched.needDay': 'Choose at least one day.',
    'sched.needTime': 'Enter a time as HH:MM.',
    'sched.needPaths': 'Enter at least one path starting with /.',
    'sched.dayBad': 'Enter a day from 1 to 31.',
    'sched.loseBad': 'Enter a whole number from 0 to {max}.',
  },
});

// --- field errors ------------------------------------------------------------------------

// Shows `message` under the field of `control` (aria-invalid, described by the message).
function markField(control, message) {
  const box = control.closest('.field') || control.parentElement;
  let note = box.querySelector('.field-error');
  if (!note) {
    note = h('p', { class: 'field-error', id: `${control.id}-error` });
    box.append(note);
  }
  note.textContent = message;
  control.setAttribute('aria-invalid', 'true');
  const ids = new Set((control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
  ids.add(note.id);
  control.setAttribute('aria-describedby', [...ids].join(' '));
}

function clearMarks(form) {
  for (const n of form.querySelectorAll('.field-error')) {
    const control = form.querySelector(`[aria-describedby~="${n.id}"]`);
    if (control) {
      control.removeAttribute('aria-invalid');
      const ids = control.getAttribute('aria-describedby').split(' ').filter((x) => x && x !== n.id);
      if (ids.length) control.setAttribute('aria-describedby', ids.join(' '));
      else control.removeAttribute('aria-describedby');
    }
    n.remove();
  }
}

// The API names the field at the start of a 400's message ("stores[1].path: …").
const fieldOf = (e) => (e && e.status === 400 && /^([A-Za-z_.\[\]0-9]+): /.exec(e.message || '')?.[1]) || null;

// --- the wizard --------------------------------------------------------------------------

let rowSeq = 0;

function storeRow(renumber) {
  const id = ++rowSeq;
  const kind = h('select', { name: 'kind' },
    h('option', { value: 'file' }, t('vsetup.kindFile')),
    h('option', { value: 's3' }, t('vsetup.kindS3')));
  const input = (name, type = 'text', extra = {}) =>
    h('input', { type, name, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', ...extra });
  const c = {
    kind,
    path: input('path'),
    endpoint: input('endpoint', 'url'),
    bucket: input('bucket'),
    prefix: input('prefix'),
    region: input('region'),
    access_key: input('access_key'),
    secret_key: input('secret_key', 'password', { autocomplete: 'new-password' }),
  };
  const fileBox = h('div', { class: 'store-file' }, field(t('vsetup.path'), c.path, t('vsetup.pathHelp')));
  const s3Box = h('div', { class: 'store-s3', hidden: true },
    h('div', { class: 'store-grid' },
      field(t('vsetup.endpoint'), c.endpoint, t('vsetup.endpointHelp')),
      field(t('vsetup.bucket'), c.bucket),
      field(t('vsetup.prefix'), c.prefix),
      field(t('vsetup.region'), c.region),
      field(t('vsetup.accessKey'), c.access_key),
      field(t('vsetup.secretKey'), c.secret_key)),
    h('p', { class: 'help' }, t('vsetup.keysHelp')));
  const result = h('div', { class: 'store-check', role: 'status', 'aria-live': 'polite' });
  const legend = h('legend', {});
  const checkButton = h('button', { type: 'button', class: 'check-store' }, t('vsetup.check'));
  const removeButton = h('button', { type: 'button', class: 'remove-store' }, t('vsetup.remove'));
  const row = h('fieldset', { class: 'store-row', dataset: { row: String(id) } }, legend,
    field(t('vsetup.kind'), kind), fileBox, s3Box,
    h('div', { class: 'actions' }, checkButton, removeButton), result);
  const spec = () => (kind.value === 'file'
    ? { kind: 'file', path: c.path.value.trim() }
    : {
      kind: 's3', endpoint: c.endpoint.value.trim(), bucket: c.bucket.value.trim(), prefix: c.prefix.value.trim(),
      region: c.region.value.trim(), access_key: c.access_key.value.trim(), secret_key: c.secret_key.value,
    });
  kind.addEventListener('change', () => {
    fileBox.hidden = kind.value !== 'file';
    s3Box.hidden = kind.value !== 's3';
    clear(result);
  });
  checkButton.addEventListener('click', async () => {
    checkButton.disabled = true;
    result.dataset.state = 'checking';
    clear(result).append(h('p', {}, t('vsetup.checking')));
    try {
      const r = await call('POST', '/vault-stores/check', { body: spec() });
      result.dataset.state = r.ok ? 'ok' : 'bad';
      let text;
      if (!r.ok) text = t('vsetup.checkBad', { problem: r.problem || '?' });
      else if (!r.exists) text = t('vsetup.checkNew');
      else text = t('vsetup.checkOk', { empty: r.empty ? t('vsetup.checkEmpty') : t('vsetup.checkNotEmpty', { n: r.objects }) });
      clear(result).append(h('p', { class: r.ok ? 'result ok' : 'result bad' }, text));
    } catch (e) {
      result.dataset.state = 'bad';
      clear(result).append(errorBox(e));
    } finally {
      checkButton.disabled = false;
    }
  });
  removeButton.addEventListener('click', () => {
    row.remove();
    renumber(row);
  });
  const label = (n) => {
    legend.textContent = t('vsetup.store', { n });
    checkButton.setAttribute('aria-label', t('vsetup.checkLabel', { n }));
    removeButton.setAttribute('aria-label', t('vsetup.removeLabel', { n }));
  };
  return { row, c, spec, label, removeButton };
}

function viewNewVault(m) {
  const rows = [];
  const list = h('div', { class: 'store-list' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const k = h('input', { type: 'number', name: 'k', min: '1', step: '1', inputmode: 'numeric', value: '2' });
  const explain = h('p', { class: 'k-explain', 'aria-live': 'polite' });
  const protect = h('input', { type: 'checkbox', name: 'protect' });
  const pass1 = h('input', { type: 'password', name: 'passphrase', autocomplete: 'new-password' });
  const pass2 = h('input', { type: 'password', name: 'passphrase2', autocomplete: 'new-password' });
  const passBox = h('div', { class: 'passphrase-box', hidden: true },
    field(t('vsetup.passphrase'), pass1), field(t('vsetup.passphrase2'), pass2),
    h('p', { class: 'note' }, t('vsetup.passphraseNote')));
  const status = h('div', { class: 'wizard-status', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, t('vsetup.create'));

  const renumber = (removed) => {
    const live = rows.filter((r) => r.row !== removed);
    rows.splice(0, rows.length, ...live);
    rows.forEach((r, i) => r.label(i + 1));
    for (const r of rows) r.removeButton.hidden = rows.length <= 2;
    updateExplain();
  };
  const addRow = () => {
    const r = storeRow(renumber);
    rows.push(r);
    list.append(r.row);
    renumber();
    return r;
  };
  function updateExplain() {
    const n = rows.length;
    const kv = Number(k.value);
    k.max = String(Math.max(n, 1));
    explain.textContent = Number.isInteger(kv) && kv >= 1 && kv <= n
      ? t('vsetup.kExplain', { n, k: kv, lose: n - kv })
      : t('vsetup.kExplainBad', { n });
  }
  k.addEventListener('input', updateExplain);
  protect.addEventListener('change', () => { passBox.hidden = !protect.checked; });

  const form = h('form', { class: 'vault-wizard', novalidate: true, 'aria-labelledby': 'wizard-title' },
    h('section', { class: 'card wizard-step', 'aria-labelledby': 'step1' }, h('h2', { id: 'step1' }, t('vsetup.step1')),
      field(t('vsetup.name'), name, t('vsetup.nameHelp'))),
    h('section', { class: 'card wizard-step', 'aria-labelledby': 'step2' }, h('h2', { id: 'step2' }, t('vsetup.step2')),
      h('p', { class: 'help' }, t('vsetup.step2Help')), list,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'add-store', onclick: () => addRow().c.path.focus() }, t('vsetup.addStore')))),
    h('section', { class: 'card wizard-step', 'aria-labelledby': 'step3' }, h('h2', { id: 'step3' }, t('vsetup.step3')),
      field(t('vsetup.k'), k), explain),
    h('section', { class: 'card wizard-step', 'aria-labelledby': 'step4' }, h('h2', { id: 'step4' }, t('vsetup.step4')),
      field(t('vsetup.protect'), protect, t('vsetup.protectHelp')), passBox),
    h('div', { class: 'actions' }, submit), status);
  for (let i = 0; i < 3; i++) addRow();

  // The first problem, in the order of the page: [control, message] or null.
  function firstProblem() {
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(name.value.trim())) return [name, t('vsetup.nameBad')];
    for (const r of rows) {
      const s = r.spec();
      if (s.kind === 'file' && !s.path.startsWith('/')) return [r.c.path, t('vsetup.pathBad')];
      if (s.kind === 's3' && !s.bucket) return [r.c.bucket, t('vsetup.bucketBad')];
    }
    const n = rows.length;
    if (n < 2) return [k, t('vsetup.nTooSmall')];
    const kv = Number(k.value);
    if (!/^\d+$/.test(k.value.trim()) || kv < 1) return [k, t('vsetup.kNotNumber', { n })];
    if (kv > n) return [k, t('vsetup.kTooBig', { n })];
    if (protect.checked) {
      if (pass1.value.length < 8) return [pass1, t('vsetup.passphraseShort')];
      if (pass1.value !== pass2.value) return [pass2, t('vsetup.passphraseDiffer')];
    }
    return null;
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearMarks(form);
    clear(status);
    const problem = firstProblem();
    if (problem) {
      markField(problem[0], problem[1]);
      status.append(h('p', { class: 'error-text' }, t('vsetup.fixFirst')));
      problem[0].focus();
      return;
    }
    const body = { name: name.value.trim(), k: Number(k.value), stores: rows.map((r) => r.spec()) };
    if (protect.checked) body.passphrase = pass1.value;
    submit.disabled = true;
    status.setAttribute('aria-busy', 'true');
    status.append(h('p', {}, t('vsetup.creating')));
    try {
      const r = await call('POST', '/vaults', { body });
      clear(status).append(h('p', { class: 'result ok' }, t('vsetup.created', { name: r.name })));
      forget();
      go(`#/vault/${enc(r.name)}`);
    } catch (e) {
      clear(status).append(errorBox(e));
      const f = fieldOf(e);
      const m = f && /^stores\[(\d+)\]\.(\w+)$/.exec(f);
      const control = f === 'name' ? name : f === 'k' ? k : f === 'passphrase' ? pass1
        : m && rows[Number(m[1])] ? rows[Number(m[1])].c[m[2]] : null;
      if (control) {
        markField(control, e.message.replace(/^[^:]+: /, ''));
        control.focus();
      }
    } finally {
      submit.disabled = false;
      status.setAttribute('aria-busy', 'false');
    }
  });

  m.append(h('p', { class: 'back' }, h('a', { href: '#/vaults' }, `← ${t('vault.back')}`)),
    h('h1', { tabindex: '-1', id: 'wizard-title' }, t('vsetup.title')),
    h('p', {}, t('vsetup.intro')), form);
}

// The link on the vaults' list, for those who may set vaults up: a list of nodes (none for
// the others), to spread into append().
export function newVaultLink() {
  if (!hasRole(WRITERS)) return [];
  return [h('p', { class: 'new-vault' }, h('a', { href: '#/vault-new', class: 'button-link' }, t('vsetup.link')))];
}

// --- the schedule section of a vault's page --------------------------------------------------

function outcomeText(last) {
  if (!last) return t('sched.never');
  const parts = [h('time', { datetime: last.at }, formatDate(last.at)), '：',
    h('span', { class: `result ${last.outcome === 'done' ? 'ok' : last.outcome === 'running' ? '' : 'bad'}`, dataset: { outcome: last.outcome } },
      t(`sched.outcome.${last.outcome}`))];
  if (last.job) parts.push(`（${t('sched.job', { id: last.job })}）`);
  if (last.error) parts.push(h('span', { class: 'muted' }, ` ${last.error}`));
  return h('span', { class: 'last-run' }, parts);
}

function dayNames(days) {
  return days.map((d) => t(`sched.day${d}`)).join('、');
}

function scheduleFacts(s) {
  const b = s.backup;
  const d = s.drill;
  const facts = [
    [t('sched.backupPlan'), b ? t('sched.backupText', { days: dayNames(b.days), time: b.time, paths: b.paths.join('、') }) : t('sched.none')],
    [t('sched.nextBackup'), s.next_backup ? h('time', { class: 'next-backup', datetime: s.next_backup }, formatDate(s.next_backup)) : t('sched.none')],
    [t('sched.lastBackup'), h('span', { class: 'last-backup' }, outcomeText(s.last_backup))],
    [t('sched.drillPlan'), d ? t('sched.drillText', { day: d.day, time: d.time, lose: d.lose }) + (d.day > 28 ? t('sched.drillTextLast') : '') : t('sched.none')],
    [t('sched.nextDrill'), s.next_drill ? h('time', { class: 'next-drill', datetime: s.next_drill }, formatDate(s.next_drill)) : t('sched.none')],
    [t('sched.lastDrill'), h('span', { class: 'last-drill-run' }, outcomeText(s.last_drill))],
  ];
  return h('dl', { class: 'meta schedule-facts' }, facts.map(([k, x]) => h('div', {}, h('dt', {}, k), h('dd', {}, x))));
}

function scheduleForm(name, s, region, reload) {
  const b = s.backup || { days: [], time: '02:00', paths: [] };
  const d = s.drill || { day: 1, time: '03:00', lose: Math.min(1, s.n - s.k) };
  const max = s.n - s.k;
  const backupOn = h('input', { type: 'checkbox', name: 'backup-on', checked: !!s.backup });
  const dayBoxes = [1, 2, 3, 4, 5, 6, 7].map((i) => h('input', { type: 'checkbox', name: 'day', value: String(i), checked: b.days.includes(i) }));
  const backupTime = h('input', { type: 'text', name: 'backup-time', value: b.time, inputmode: 'numeric', pattern: '[0-2][0-9]:[0-5][0-9]', autocomplete: 'off' });
  const paths = h('textarea', { name: 'paths', rows: '2', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  paths.value = b.paths.join('\n');
  const drillOn = h('input', { type: 'checkbox', name: 'drill-on', checked: !!s.drill });
  const drillDay = h('input', { type: 'number', name: 'drill-day', min: '1', max: '31', value: String(d.day), inputmode: 'numeric' });
  const drillTime = h('input', { type: 'text', name: 'drill-time', value: d.time, inputmode: 'numeric', autocomplete: 'off' });
  const lose = h('input', { type: 'number', name: 'drill-lose', min: '0', max: String(max), value: String(d.lose), inputmode: 'numeric' });
  const save = h('button', { type: 'submit', class: 'primary' }, t('sched.save'));
  const form = h('form', { class: 'card schedule-form', novalidate: true, 'aria-labelledby': 'sched-edit-title' },
    h('h3', { id: 'sched-edit-title' }, t('sched.edit')),
    h('div', { class: 'action-grid' },
      h('fieldset', { class: 'sched-backup' }, h('legend', {}, t('sched.backupPlan')),
        field(t('sched.backupOn'), backupOn),
        h('fieldset', { class: 'days' }, h('legend', {}, t('sched.days')),
          h('div', { class: 'day-boxes' }, dayBoxes.map((box, i) => field(t('sched.dayLabel', { d: t(`sched.day${i + 1}`) }), box)))),
        field(t('sched.time'), backupTime, t('sched.timeHelp')),
        field(t('sched.paths'), paths, t('sched.pathsHelp'))),
      h('fieldset', { class: 'sched-drill' }, h('legend', {}, t('sched.drillPlan')),
        field(t('sched.drillOn'), drillOn),
        field(t('sched.drillDay'), drillDay, t('sched.drillTextLast').replace(/[（）()]/g, '').trim()),
        field(t('sched.drillTime'), drillTime, t('sched.timeHelp')),
        field(t('sched.drillLose', { max }), lose, t('sched.drillLoseHelp')))),
    h('div', { class: 'actions' }, save));

  const timeOk = (x) => /^([01]\d|2[0-3]):[0-5]\d$/.test(x.trim());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearMarks(form);
    const body = { backup: null, drill: null };
    const days = dayBoxes.filter((x) => x.checked).map((x) => Number(x.value));
    const list = paths.value.split('\n').map((x) => x.trim()).filter(Boolean);
    let problem = null;
    if (backupOn.checked) {
      if (!days.length) problem = [dayBoxes[0], t('sched.needDay')];
      else if (!timeOk(backupTime.value)) problem = [backupTime, t('sched.needTime')];
      else if (!list.length || list.some((p) => !p.startsWith('/'))) problem = [paths, t('sched.needPaths')];
      body.backup = { days, time: backupTime.value.trim(), paths: list };
    }
    if (!problem && drillOn.checked) {
      const dd = Number(drillDay.value);
      const lv = Number(lose.value);
      if (!Number.isInteger(dd) || dd < 1 || dd > 31) problem = [drillDay, t('sched.dayBad')];
      else if (!timeOk(drillTime.value)) problem = [drillTime, t('sched.needTime')];
      else if (!/^\d+$/.test(lose.value.trim()) || lv > max) problem = [lose, t('sched.loseBad', { max })];
      body.drill = { day: dd, time: drillTime.value.trim(), lose: lv };
    }
    if (problem) {
      markField(problem[0], problem[1]);
      problem[0].focus();
      return;
    }
    save.disabled = true;
    clear(region).append(h('p', {}, t('sched.saving')));
    try {
      const answer = await call('PUT', `/vaults/${enc(name)}/schedule`, { body });
      clear(region).append(h('p', { class: 'result ok' }, t('sched.saved')));
      reload(answer);
    } catch (e) {
      clear(region).append(errorBox(e));
      const f = fieldOf(e);
      const control = { 'backup.days': dayBoxes[0], 'backup.time': backupTime, 'backup.paths': paths, 'drill.day': drillDay, 'drill.time': drillTime, 'drill.lose': lose }[f];
      if (control) markField(control, e.message.replace(/^[^:]+: /, ''));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// Runs the scheduled backup or drill now and follows its job; the page is drawn again at
// its end, so the new snapshot (or drill) shows in its list.
async function runNow(name, kind, region, buttons) {
  for (const b of buttons) b.disabled = true;
  region.setAttribute('aria-busy', 'true');
  try {
    const { job } = await call('POST', `/vaults/${enc(name)}/schedule/run`, { body: { kind } });
    region.dataset.state = 'running';
    clear(region).append(h('p', {}, t('sched.running', { id: job })));
    let j;
    for (;;) {
      j = await call('GET', `/jobs/${enc(job)}`);
      if (j.state !== 'running' || !state.session) break;
      await sleep(500);
    }
    region.dataset.state = j.state;
    clear(region).append(h('p', { class: j.state === 'done' ? 'result ok' : 'result bad' },
      j.state === 'done' ? t('sched.runDone', { id: job }) : t('sched.runFailed', { id: job, error: j.error || '' })));
    if (routeOf(location.hash).name === 'vault' && routeOf(location.hash).arg === name) {
      forget();
      go(location.hash);
    }
  } catch (e) {
    region.dataset.state = 'error';
    clear(region).append(errorBox(e));
  } finally {
    for (const b of buttons) b.disabled = false;
    region.setAttribute('aria-busy', 'false');
  }
}

// The 排程 section of vault `name`'s page; it fetches the schedule itself.
export function scheduleSection(name) {
  const body = h('div', { class: 'schedule-body' }, h('p', { role: 'status' }, t('loading')));
  const section = h('section', { class: 'vault-schedule', 'aria-labelledby': 'schedule-title', dataset: { vault: name } },
    h('h2', { id: 'schedule-title' }, t('sched.title')), h('p', { class: 'help' }, t('sched.intro')), body);
  const region = h('div', { class: 'schedule-status', role: 'status', 'aria-live': 'polite' });
  const draw = (s) => {
    clear(body).append(h('div', { class: 'card' }, scheduleFacts(s)));
    if (!s.runner) body.append(h('p', { class: 'note' }, t('sched.noRunner')));
    if (hasRole(WRITERS)) {
      const buttons = [];
      const runB = h('button', { type: 'button', class: 'run-backup-now', disabled: !s.backup || !s.runner }, t('sched.runNow'));
      const runD = h('button', { type: 'button', class: 'run-drill-now', disabled: !s.drill || !s.runner }, t('sched.runDrillNow'));
      buttons.push(runB, runD);
      runB.addEventListener('click', () => runNow(name, 'backup', region, buttons));
      runD.addEventListener('click', () => runNow(name, 'drill', region, buttons));
      body.append(scheduleForm(name, s, region, draw), h('div', { class: 'actions run-now' }, runB, runD));
    }
    body.append(region);
  };
  call('GET', `/vaults/${enc(name)}/schedule`).then(draw, (e) => clear(body).append(errorBox(e)));
  return section;
}

export default {
  menu: [],
  views: {
    'vault-new': { view: viewNewVault, roles: WRITERS },
  },
};
