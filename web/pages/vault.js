// The vaults: k-of-n, each store's health, snapshots, drills with RTO/RPO, and for
// operators and admins "back up now", "run a drill" and "restore" (chosen files of a snapshot,
// browsed a directory at a time, into a new directory on the server) as jobs with live
// progress, with totals and a <progress> bar where the job knows them.
//   #/vaults             all vaults (operator, admin; auditor and records read-only)
//   #/vault/NAME         one vault
import { api, call } from '../api.js';
import { t, getLang, formatDate, formatSize, formatDuration, addWords } from '../i18n.js';
import { h, clear, field } from '../dom.js';
import { state, errorBox, table, sleep, hasRole, routeOf, loadOrShow } from '../shell.js';
import { scheduleSection, newVaultLink } from './vault_setup.js';

const VAULT_ROLES = ['operator', 'admin', 'auditor', 'records'];
const VAULT_WRITERS = ['operator', 'admin'];

// The job being watched on each vault (name → {id, kind, job, error, running}): kept across
// re-renders (a language switch, leaving and coming back) so the progress goes on showing.
const vaultJobs = new Map();
const mayWriteVaults = () => hasRole(VAULT_WRITERS);
const vaultHash = (name) => `#/vault/${encodeURIComponent(name)}`;

function when(value) {
  return value ? h('time', { datetime: value }, formatDate(value)) : t('vault.noneYet');
}

function drillResult(d) {
  return h('span', { class: d.ok ? 'result ok' : 'result bad' }, d.ok ? t('vault.pass') : t('vault.fail'));
}

function lastDrillText(d) {
  if (!d) return t('vault.noneYet');
  const sep = getLang() === 'en' ? ', ' : '，';
  return h('span', { class: 'last-drill' }, drillResult(d), sep, when(d.at),
    `${sep}RTO ${formatDuration(d.rto_seconds)}${sep}RPO ${formatDuration(d.rpo_seconds)}`);
}

function storeHealth(s) {
  return s.ok ? h('span', { class: 'result ok' }, t('vault.storeOk'))
    : h('span', { class: 'result bad' }, t('vault.storeBad', { problem: s.problem || '?' }));
}

function vaultFacts(v) {
  const facts = [
    [t('vault.threshold'), h('span', { class: 'k-of-n' }, `${v.k}/${v.n}（${t('vault.thresholdValue', { k: v.k, n: v.n })}）`)],
    [t('vault.snapshots'), h('span', { class: 'snapshot-count' }, v.snapshots ?? '—')],
    [t('vault.newest'), when(v.newest_snapshot)],
    [t('vault.lastDrill'), lastDrillText(v.last_drill)],
    [t('vault.drillsThisYear'), h('span', { class: 'kpi-drills', dataset: { n: v.drills_this_year ?? '' } },
      v.drills_this_year === null || v.drills_this_year === undefined ? '—' : t('vault.drillsThisYearValue', { n: v.drills_this_year }))],
  ];
  if (v.job) facts.push([t('vault.jobStatus'), h('span', { class: 'job-running' }, t('vault.busyOther'))]);
  if (v.problem) facts.push([t('vault.problem'), h('span', { class: 'result bad' }, v.problem)]);
  return h('dl', { class: 'meta vault-facts' }, facts.map(([k, x]) => h('div', {}, h('dt', {}, k), h('dd', {}, x))));
}

function storesTable(v) {
  return table(t('vault.storesCaption'), [
    [t('vault.storeIndex'), (s) => s.index, 'word'],
    [t('vault.storeLocation'), (s) => s.location],
    [t('vault.storeKind'), (s) => s.kind, 'word'],
    [t('vault.storeHealth'), storeHealth],
  ], v.stores || []);
}

async function viewVaults(m, route, live) {
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(h('h1', { tabindex: '-1' }, t('vaults.title')), ...newVaultLink(), status);
  const data = await loadOrShow(status, () => api.vaults(), live);
  if (!data) return;
  status.remove();
  const vaults = data.vaults || [];
  if (!vaults.length) {
    m.append(h('p', {}, t('vaults.none')));
    return;
  }
  for (const v of vaults) {
    const titleId = `vault-${v.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
    m.append(h('section', { class: 'card vault', 'aria-labelledby': titleId, dataset: { vault: v.name } },
      h('h2', { id: titleId }, h('a', { href: vaultHash(v.name), 'aria-label': t('vaults.open', { name: v.name }) }, v.name)),
      vaultFacts(v), storesTable(v)));
  }
}

function snapshotsTable(snaps) {
  if (!snaps.length) return h('p', { class: 'muted' }, t('vault.noSnapshots'));
  return table(t('vault.snapshotCaption'), [
    [t('vault.snapTime'), (x) => when(x.time), 'when'],
    [t('vault.snapId'), (x) => h('code', {}, x.short_id || (x.id || '').slice(0, 8)), 'word'],
    [t('vault.snapFiles'), (x) => x.files ?? '', 'word'],
    [t('vault.snapBytes'), (x) => formatSize(x.bytes), 'word'],
    [t('vault.snapPaths'), (x) => (x.paths || []).join('、')],
  ], snaps, true);
}

function drillsTable(drills) {
  if (!drills.length) return h('p', { class: 'muted' }, t('vault.noDrills'));
  const list = (a) => (Array.isArray(a) && a.length ? a.join('、') : '—');
  return table(t('vault.drillCaption'), [
    [t('vault.drillAt'), (d) => when(d.at), 'when'],
    [t('vault.drillResult'), drillResult],
    [t('vault.rto'), (d) => formatDuration(d.rto_seconds), 'rto'],
    [t('vault.rpo'), (d) => formatDuration(d.rpo_seconds), 'rpo'],
    [t('vault.storesUsed'), (d) => list(d.stores_used)],
    [t('vault.storesLost'), (d) => list(d.stores_lost)],
    [t('vault.filesVerified'), (d) => d.files_verified ?? '', 'word'],
  ], drills, true);
}

// Fills the parts of a vault's page that come from the server (again after a job).
function fillVault(parts, [v, snaps, drills]) {
  clear(parts.facts).append(vaultFacts(v), h('h3', {}, t('vault.stores')), storesTable(v));
  clear(parts.snapshots).append(snapshotsTable(snaps.snapshots || []));
  const perYear = (drills.per_year || []).map((y) => t('vault.perYear', y)).join('；');
  fillRegion(parts.drills, perYear ? h('p', { class: 'per-year' }, perYear) : null, drillsTable(drills.drills || []));
}

const loadVault = (name) => Promise.all([api.vault(name), api.snapshots(name), api.drills(name)]);

async function viewVault(m, route, live) {
  const name = route.arg || '';
  m.append(h('p', { class: 'back' }, h('a', { href: '#/vaults' }, `← ${t('vault.back')}`)),
    h('h1', { tabindex: '-1' }, t('vault.title', { name })));
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(status);
  const data = await loadOrShow(status, () => loadVault(name), live);
  if (!data) return;
  status.remove();
  const parts = {
    facts: h('div', { class: 'vault-summary' }),
    snapshots: h('div', { id: 'vault-snapshots' }),
    drills: h('div', { id: 'vault-drills' }),
  };
  m.append(h('section', { class: 'card', 'aria-label': t('vault.title', { name }) }, parts.facts));
  if (mayWriteVaults()) m.append(vaultActions(name, data[0]), restoreSection(name, data[1].snapshots || []));
  m.append(
    h('section', { 'aria-labelledby': 'snapshots-title' }, h('h2', { id: 'snapshots-title' }, t('vault.snapshotList')), parts.snapshots),
    h('section', { 'aria-labelledby': 'drills-title' }, h('h2', { id: 'drills-title' }, t('vault.drillList')), parts.drills),
    scheduleSection(name));
  fillVault(parts, data);
  const w = vaultJobs.get(name);
  if (data[0].job && !(w && w.id === data[0].job) && mayWriteVaults()) watchJob(name, data[0].job);
  else updateJobView(name);
}

function vaultActions(name, v) {
  const paths = h('textarea', { name: 'paths', rows: '3', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const backup = h('form', { class: 'card vault-action backup-form', 'aria-labelledby': 'backup-title', novalidate: true },
    h('h3', { id: 'backup-title' }, t('vault.backupTitle')),
    field(t('vault.backupPaths'), paths, t('vault.backupHelp')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('vault.backupSubmit'))));
  const lose = (v.stores || []).map((s) => {
    const box = h('input', { type: 'checkbox', name: 'lose', value: String(s.index) });
    return field(t('vault.drillLoseStore', { index: s.index, location: s.location }), box);
  });
  const drill = h('form', { class: 'card vault-action drill-form', 'aria-labelledby': 'drill-title' },
    h('h3', { id: 'drill-title' }, t('vault.drillTitle')),
    h('p', { class: 'help' }, t('vault.drillIntro')),
    lose.length ? h('fieldset', {}, h('legend', {}, t('vault.drillLose')), lose) : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('vault.drillSubmit'))));
  const region = h('div', { class: 'job-status', id: 'job-status', role: 'status', 'aria-live': 'polite',
    'aria-label': t('vault.jobStatus'), dataset: { vault: name } });

  const start = async (form, post, kind) => {
    const w = vaultJobs.get(name);
    if (w && w.running) return;
    setVaultBusy(name, true);
    clear(region).append(h('p', {}, t('vault.jobStarting')));
    region.dataset.state = 'starting';
    try {
      const answer = await post();
      watchJob(name, answer.job, kind);
    } catch (e) {
      region.dataset.state = 'error';
      clear(region).append(errorBox(e));
      setVaultBusy(name, false);
    }
  };
  backup.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const list = paths.value.split('\n').map((x) => x.trim()).filter(Boolean);
    if (!list.length) {
      region.dataset.state = 'error';
      clear(region).append(errorBox({ code: 'invalid_argument', message: t('vault.backupNoPaths') }));
      paths.focus();
      return;
    }
    start(backup, () => api.backup(name, list), 'backup');
  });
  drill.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const lost = [...drill.querySelectorAll('input[name="lose"]:checked')].map((x) => Number(x.value));
    start(drill, () => api.drill(name, lost.length ? { lose: lost } : {}), 'drill');
  });
  return h('section', { class: 'vault-actions', 'aria-labelledby': 'actions-title' },
    h('h2', { id: 'actions-title' }, t('vault.actions')),
    h('div', { class: 'action-grid' }, backup, drill),
    region);
}

function setVaultBusy(name, busy) {
  const region = document.getElementById('job-status');
  if (!region || region.dataset.vault !== name) return;
  region.setAttribute('aria-busy', busy ? 'true' : 'false');
  for (const b of document.querySelectorAll('form.vault-action button[type="submit"], form.vault-restore-form button[type="submit"]')) b.disabled = busy;
}

// Polls GET /jobs/{id} about every 500 ms until the job has ended, then shows its result
// and refreshes the vault's lists (if its page is still shown).
async function watchJob(name, id, kind) {
  const w = { id, kind, job: null, error: null, running: true };
  vaultJobs.set(name, w);
  updateJobView(name);
  while (vaultJobs.get(name) === w && state.session) {
    try {
      w.job = await api.job(id);
    } catch (e) {
      w.error = e;
      break;
    }
    if (w.job.kind) w.kind = w.job.kind;
    if (w.job.state !== 'running') break;
    updateJobView(name);
    await sleep(500);
  }
  w.running = false;
  if (vaultJobs.get(name) !== w) return;
  await refreshVault(name);
  updateJobView(name);
}

async function refreshVault(name) {
  if (routeOf(location.hash).name !== 'vault' || routeOf(location.hash).arg !== name) return;
  let data;
  try {
    data = await loadVault(name);
  } catch {
    return; // the job's result is shown; the lists stay as they were
  }
  if (routeOf(location.hash).arg !== name) return;
  state.cache = { hash: location.hash, data };
  const parts = {
    facts: document.querySelector('#main .vault-summary'),
    snapshots: document.getElementById('vault-snapshots'),
    drills: document.getElementById('vault-drills'),
  };
  if (parts.facts && parts.snapshots && parts.drills) fillVault(parts, data);
  refreshRestore(name, data[1].snapshots || []);
}

function updateJobView(name) {
  const w = vaultJobs.get(name);
  const region = jobRegion(w);
  if (!region || region.dataset.vault !== name) return;
  if (!w) {
    setVaultBusy(name, false);
    return;
  }
  setVaultBusy(name, w.running);
  if (w.kind === 'restore') {
    showRestoreJob(region, w);
    return;
  }
  const j = w.job;
  const r = j && j.result;
  let text;
  let cls = '';
  if (w.error) {
    region.dataset.state = 'error';
    clear(region).append(errorBox(w.error));
    return;
  }
  if (!j) {
    region.dataset.state = 'starting';
    text = t('vault.jobStarting');
  } else if (j.state === 'running') {
    region.dataset.state = 'running';
    const p = j.progress || {};
    if (p.total_items !== null && p.total_items !== undefined) {
      fillRegion(region, progressView(w.kind, p));
      return;
    }
    text = t(w.kind === 'drill' ? 'vault.drillRunning' : 'vault.backupRunning', { items: p.items ?? 0, bytes: formatSize(p.bytes ?? 0) });
  } else if (j.state === 'done') {
    region.dataset.state = 'done';
    cls = 'chain ok';
    text = w.kind === 'drill'
      ? t('vault.drillDone', { rto: formatDuration(r?.rto_seconds), rpo: formatDuration(r?.rpo_seconds), files: r?.files_verified ?? '?' })
      : t('vault.backupDone', { id: r?.short_id || (r?.snapshot || '').slice(0, 8), files: r?.files ?? '?', bytes: formatSize(r?.bytes ?? 0), seconds: formatDuration(r?.seconds) });
  } else {
    region.dataset.state = 'failed';
    cls = 'chain bad';
    text = w.kind === 'drill' && r ? t('vault.drillFailed', { error: j.error || '' }) : t('vault.jobFailed', { error: j.error || '' });
  }
  clear(region).append(h('p', { class: cls || null }, text));
}

// --- restore ---------------------------------------------------------------------------

addWords({
  zh: {
    'vaultRestore.title': '還原',
    'vaultRestore.intro': '自快照還原整份資料或勾選的檔案與目錄，寫入伺服器上的新目錄（或空目錄）；還原後逐一讀回驗證。',
    'vaultRestore.snapshot': '快照',
    'vaultRestore.snapshotOption': '{when}，{id}，{files} 個檔案，{bytes}',
    'vaultRestore.newest': '（最新）',
    'vaultRestore.noSnapshots': '尚無快照可還原。',
    'vaultRestore.choose': '要還原的檔案',
    'vaultRestore.all': '全部（整份快照）',
    'vaultRestore.allHelp': '取消勾選後，可在下方逐一勾選檔案或目錄；勾選目錄即還原其下所有檔案。',
    'vaultRestore.where': '目前目錄',
    'vaultRestore.up': '上一層',
    'vaultRestore.open': '開啟目錄 {name}',
    'vaultRestore.pick': '還原 {name}',
    'vaultRestore.dir': '目錄',
    'vaultRestore.link': '連結 → {target}',
    'vaultRestore.empty': '此目錄是空的。',
    'vaultRestore.truncated': '只列出前 {shown} 項（共 {total} 項）。',
    'vaultRestore.loading': '讀取檔案清單…',
    'vaultRestore.chosen': '已選 {n} 項：{list}',
    'vaultRestore.chosenNone': '尚未勾選任何檔案。',
    'vaultRestore.entries': '{path} 的內容',
    'vaultRestore.colPick': '選取',
    'vaultRestore.colName': '名稱',
    'vaultRestore.colSize': '大小',
    'vaultRestore.colTime': '修改時間',
    'vaultRestore.target': '還原到伺服器上的目錄',
    'vaultRestore.targetHelp': '伺服器上的絕對路徑，例如 /srv/restore/1141205；目錄須不存在或是空的。檔案依快照中的完整路徑放在此目錄下。',
    'vaultRestore.submit': '開始還原',
    'vaultRestore.noTarget': '請輸入還原目錄（伺服器上的絕對路徑）。',
    'vaultRestore.relative': '還原目錄必須是絕對路徑（以 / 開頭）。',
    'vaultRestore.noneChosen': '請勾選要還原的檔案或目錄，或勾選「全部」。',
    'vaultRestore.status': '還原進度',
    'vaultRestore.progressLabel': '進度',
    'vaultRestore.running': '已還原 {items} / {total} 個檔案，{bytes} / {totalBytes}（{percent}%）',
    'vaultRestore.drillRunning': '還原演練進行中：已還原 {items} / {total} 個檔案，{bytes} / {totalBytes}（{percent}%）',
    'vaultRestore.backupRunning': '備份進行中：已讀取 {items} / {total} 個檔案，{bytes} / {totalBytes}（{percent}%）',
    'vaultRestore.done': '還原完成：快照 {id} 的 {files} 個檔案（{bytes}）已寫入 {target}，並逐一驗證無誤（{verified} 個）。耗時 {seconds}。',
    'vaultRestore.warnings': '注意事項',
    'vaultRestore.problems': '與快照不符的檔案',
    'vaultRestore.failed': '還原失敗：{error}',
  },
  en: {
    'vaultRestore.title': 'Restore',
    'vaultRestore.intro': 'Restore a whole snapshot, or the files and directories ticked, into a new (or empty) directory on the server; every file is read back and verified.',
    'vaultRestore.snapshot': 'Snapshot',
    'vaultRestore.snapshotOption': '{when}, {id}, {files} files, {bytes}',
    'vaultRestore.newest': ' (newest)',
    'vaultRestore.noSnapshots': 'No snapshot to restore yet.',
    'vaultRestore.choose': 'What to restore',
    'vaultRestore.all': 'Everything (the whole snapshot)',
    'vaultRestore.allHelp': 'Untick it to tick files or directories below; a directory brings everything in it.',
    'vaultRestore.where': 'Current directory',
    'vaultRestore.up': 'Up',
    'vaultRestore.open': 'Open directory {name}',
    'vaultRestore.pick': 'Restore {name}',
    'vaultRestore.dir': 'directory',
    'vaultRestore.link': 'link → {target}',
    'vaultRestore.empty': 'This directory is empty.',
    'vaultRestore.truncated': 'Only the first {shown} of {total} entries are listed.',
    'vaultRestore.loading': 'Reading the file list…',
    'vaultRestore.chosen': '{n} chosen: {list}',
    'vaultRestore.chosenNone': 'Nothing ticked yet.',
    'vaultRestore.entries': 'In {path}',
    'vaultRestore.colPick': 'Choose',
    'vaultRestore.colName': 'Name',
    'vaultRestore.colSize': 'Size',
    'vaultRestore.colTime': 'Modified',
    'vaultRestore.target': 'Directory on the server to restore into',
    'vaultRestore.targetHelp': 'An absolute path on the server, e.g. /srv/restore/2026-12-05; it must not exist or be empty. Files go below it under their full paths in the snapshot.',
    'vaultRestore.submit': 'Start the restore',
    'vaultRestore.noTarget': 'Enter the directory to restore into (an absolute path on the server).',
    'vaultRestore.relative': 'The directory must be an absolute path (starting with /).',
    'vaultRestore.noneChosen': 'Tick the files or directories to restore, or tick "Everything".',
    'vaultRestore.status': 'Restore progress',
    'vaultRestore.progressLabel': 'Progress',
    'vaultRestore.running': 'Restored {items} / {total} files, {bytes} / {totalBytes} ({percent}%)',
    'vaultRestore.drillRunning': 'Drill running: restored {items} / {total} files, {bytes} / {totalBytes} ({percent}%)',
    'vaultRestore.backupRunning': 'Backing up: read {items} / {total} files, {bytes} / {totalBytes} ({percent}%)',
    'vaultRestore.done': 'Restored: {files} files ({bytes}) of snapshot {id} written to {target}, each verified ({verified}). Took {seconds}.',
    'vaultRestore.warnings': 'Warnings',
    'vaultRestore.problems': 'Files that do not match the snapshot',
    'vaultRestore.failed': 'The restore failed: {error}',
  },
});

const vaultPath = (name) => `/vaults/${encodeURIComponent(name)}`;

// The region a job's progress shows in: a restore's beside its form, the others' below theirs.
function jobRegion(w) {
  return document.getElementById(w && w.kind === 'restore' ? 'vault-restore-status' : 'job-status');
}

// "已還原 N / M 個檔案，X / Y（P%）" with a <progress> bar, for a job whose totals are known.
function progressView(kind, p) {
  const key = kind === 'restore' ? 'vaultRestore.running' : kind === 'drill' ? 'vaultRestore.drillRunning' : 'vaultRestore.backupRunning';
  const percent = p.percent ?? 0;
  return [
    h('progress', { max: '100', value: String(percent), 'aria-label': t('vaultRestore.progressLabel') }, `${percent}%`),
    h('p', { class: 'progress-text' }, t(key, {
      items: p.items ?? 0, total: p.total_items, bytes: formatSize(p.bytes ?? 0),
      totalBytes: formatSize(p.total_bytes ?? 0), percent,
    })),
  ];
}

// Puts nodes (and lists of nodes; nothing for null) into a region, in place of what it held.
function fillRegion(region, ...nodes) {
  clear(region).append(...nodes.flat().filter(Boolean));
}

function listOf(title, items) {
  if (!items || !items.length) return null;
  return h('div', { class: 'vault-restore-notes' }, h('h3', {}, title),
    h('ul', {}, items.map((x) => h('li', {}, typeof x === 'string' ? x : `${x.path}：${x.problem}`))));
}

function showRestoreJob(region, w) {
  const other = document.getElementById('job-status');
  if (other && other.dataset.state) { clear(other); delete other.dataset.state; }
  const j = w.job;
  const r = j && j.result;
  if (w.error) {
    region.dataset.state = 'error';
    clear(region).append(errorBox(w.error));
  } else if (!j) {
    region.dataset.state = 'starting';
    clear(region).append(h('p', {}, t('vault.jobStarting')));
  } else if (j.state === 'running') {
    region.dataset.state = 'running';
    const p = j.progress || {};
    if (p.total_items === null || p.total_items === undefined) {
      clear(region).append(h('progress', { 'aria-label': t('vaultRestore.progressLabel') }),
        h('p', { class: 'progress-text' }, t('vault.jobStarting')));
    } else {
      fillRegion(region, progressView('restore', p));
    }
  } else if (j.state === 'done') {
    region.dataset.state = 'done';
    const p = j.progress || {};
    fillRegion(region, progressView('restore', p),
      h('p', { class: 'chain ok vault-restore-result' }, t('vaultRestore.done', {
        id: r?.short_id || '', files: r?.files ?? '?', bytes: formatSize(r?.bytes ?? 0), target: r?.target || '',
        verified: r?.files_verified ?? '?', seconds: formatDuration(r?.seconds),
      })),
      listOf(t('vaultRestore.warnings'), r?.warnings));
  } else {
    region.dataset.state = 'failed';
    fillRegion(region, h('p', { class: 'chain bad vault-restore-result' }, t('vaultRestore.failed', { error: j.error || '' })),
      listOf(t('vaultRestore.problems'), r?.problems), listOf(t('vaultRestore.warnings'), r?.warnings));
  }
}

// The snapshot's first backed-up path is where browsing starts (its parent holds nothing else).
function startDir(snap) {
  const paths = (snap && snap.paths) || [];
  return paths.length === 1 && paths[0].startsWith('/') ? paths[0].replace(/\/+$/, '') || '/' : '/';
}

// A new snapshot (a backup made from this page) is offered for restoring at once.
function refreshRestore(name, snaps) {
  const section = document.querySelector('#main section.vault-restore');
  if (!section || !snaps.length) return;
  const select = section.querySelector('select[name="snapshot"]');
  if (select && select.options[0] && select.options[0].value === snaps[0].id) return;
  section.replaceWith(restoreSection(name, snaps));
}

function restoreSection(name, snaps) {
  const title = h('h2', { id: 'vault-restore-title' }, t('vaultRestore.title'));
  const region = h('div', { class: 'job-status vault-restore-status', id: 'vault-restore-status', role: 'status', 'aria-live': 'polite',
    'aria-label': t('vaultRestore.status'), dataset: { vault: name } });
  if (!snaps.length) {
    return h('section', { class: 'card vault-restore', 'aria-labelledby': 'vault-restore-title' }, title,
      h('p', { class: 'muted' }, t('vaultRestore.noSnapshots')), region);
  }
  // What is chosen survives browsing (paths in the snapshot); reset with another snapshot.
  const chosen = new Set();
  let dir = startDir(snaps[0]);
  let listing = 0;
  const select = h('select', { name: 'snapshot' }, snaps.map((x, i) => h('option', { value: x.id },
    t('vaultRestore.snapshotOption', { when: formatDate(x.time), id: x.short_id, files: x.files ?? '?', bytes: formatSize(x.bytes) })
    + (i === 0 ? t('vaultRestore.newest') : ''))));
  const all = h('input', { type: 'checkbox', name: 'all', checked: true });
  const crumbs = h('nav', { class: 'vault-restore-crumbs', 'aria-label': t('vaultRestore.where') });
  const files = h('div', { class: 'vault-restore-files' });
  const summary = h('p', { class: 'vault-restore-chosen help', 'aria-live': 'polite' });
  const target = h('input', { type: 'text', name: 'target', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', inputmode: 'url' });
  const form = h('form', { class: 'vault-restore-form', novalidate: true, 'aria-labelledby': 'vault-restore-title' },
    field(t('vaultRestore.snapshot'), select),
    h('fieldset', { class: 'vault-restore-choose' }, h('legend', {}, t('vaultRestore.choose')),
      field(t('vaultRestore.all'), all, t('vaultRestore.allHelp')), crumbs, files, summary),
    field(t('vaultRestore.target'), target, t('vaultRestore.targetHelp')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, t('vaultRestore.submit'))));

  const covered = (path) => [...chosen].some((c) => c === path || path.startsWith(c === '/' ? '/' : `${c}/`));
  const showChosen = () => {
    const list = [...chosen].sort();
    summary.textContent = all.checked ? t('vaultRestore.all') : list.length ? t('vaultRestore.chosen', { n: list.length, list: list.join('、') }) : t('vaultRestore.chosenNone');
  };
  const showCrumbs = () => {
    const parts = dir.split('/').filter(Boolean);
    const items = [h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => browse('/') }, '/'))];
    parts.forEach((p, i) => {
      const to = `/${parts.slice(0, i + 1).join('/')}`;
      items.push(h('li', {}, i === parts.length - 1
        ? h('span', { 'aria-current': 'location' }, p)
        : h('button', { type: 'button', class: 'link', onclick: () => browse(to) }, p)));
    });
    clear(crumbs).append(h('ol', {}, items));
  };
  const row = (e) => {
    const box = h('input', { type: 'checkbox', name: 'path', value: e.path, 'aria-label': t('vaultRestore.pick', { name: e.name }),
      checked: all.checked || covered(e.path), disabled: all.checked || (covered(e.path) && !chosen.has(e.path)) });
    box.addEventListener('change', () => {
      if (box.checked) chosen.add(e.path); else chosen.delete(e.path);
      // A directory chosen covers what is under it.
      for (const c of [...chosen]) if (c !== e.path && box.checked && c.startsWith(`${e.path}/`)) chosen.delete(c);
      showChosen();
      refreshBoxes();
    });
    const nameCell = e.type === 'dir'
      ? h('button', { type: 'button', class: 'link open-dir', 'aria-label': t('vaultRestore.open', { name: e.name }), onclick: () => browse(e.path) }, `${e.name}/`)
      : h('span', { class: 'file-name' }, e.name);
    const size = e.type === 'dir' ? t('vaultRestore.dir') : e.type === 'symlink' ? t('vaultRestore.link', { target: e.link_target || '' }) : formatSize(e.size);
    return h('tr', { dataset: { path: e.path, type: e.type } },
      h('td', { 'data-label': t('vaultRestore.colPick'), class: 'pick' }, box),
      h('td', { 'data-label': t('vaultRestore.colName'), class: 'name' }, nameCell),
      h('td', { 'data-label': t('vaultRestore.colSize'), class: 'word' }, size),
      h('td', { 'data-label': t('vaultRestore.colTime'), class: 'when' }, when(e.mtime)));
  };
  // The boxes follow the choice in place (a redraw would take the keyboard focus away).
  const refreshBoxes = () => {
    for (const box of files.querySelectorAll('input[name="path"]')) {
      box.checked = all.checked || covered(box.value);
      box.disabled = all.checked || (covered(box.value) && !chosen.has(box.value));
    }
  };
  let entries = [];
  let answer = null;
  const renderRows = () => {
    if (!answer) return;
    const sorted = [...entries].sort((a, b) => (a.type === 'dir') === (b.type === 'dir') ? 0 : a.type === 'dir' ? -1 : 1);
    const up = answer.parent !== null && answer.parent !== undefined
      ? h('p', {}, h('button', { type: 'button', class: 'link vault-restore-up', onclick: () => browse(answer.parent) }, `↑ ${t('vaultRestore.up')}`)) : null;
    const tableEl = sorted.length ? h('table', { class: 'responsive vault-restore-table' },
      h('caption', { class: 'visually-hidden' }, t('vaultRestore.entries', { path: answer.prefix })),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('vaultRestore.colPick')),
        h('th', { scope: 'col' }, t('vaultRestore.colName')), h('th', { scope: 'col' }, t('vaultRestore.colSize')), h('th', { scope: 'col' }, t('vaultRestore.colTime')))),
      h('tbody', {}, sorted.map(row))) : h('p', { class: 'muted' }, t('vaultRestore.empty'));
    fillRegion(files, up, tableEl,
      answer.truncated ? h('p', { class: 'help' }, t('vaultRestore.truncated', { shown: entries.length, total: answer.total })) : null);
  };
  const browse = async (path) => {
    const mine = ++listing;
    dir = path;
    showCrumbs();
    clear(files).append(h('p', { class: 'muted' }, t('vaultRestore.loading')));
    try {
      const a = await call('GET', `${vaultPath(name)}/snapshots/${encodeURIComponent(select.value)}/files`, { query: { prefix: path } });
      if (mine !== listing) return;
      answer = a;
      entries = a.entries || [];
      renderRows();
    } catch (e) {
      if (mine !== listing) return;
      answer = null;
      clear(files).append(errorBox(e));
    }
  };
  all.addEventListener('change', () => {
    if (all.checked) chosen.clear();
    showChosen();
    refreshBoxes();
  });
  select.addEventListener('change', () => {
    chosen.clear();
    all.checked = true;
    showChosen();
    browse(startDir(snaps.find((x) => x.id === select.value)));
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const w = vaultJobs.get(name);
    if (w && w.running) return;
    const bad = (key, focus) => {
      region.dataset.state = 'error';
      clear(region).append(errorBox({ code: 'invalid_argument', message: t(key) }));
      focus.focus();
    };
    const where = target.value.trim();
    if (!where) return bad('vaultRestore.noTarget', target);
    if (!where.startsWith('/')) return bad('vaultRestore.relative', target);
    if (!all.checked && !chosen.size) return bad('vaultRestore.noneChosen', all);
    const body = { snapshot: select.value, target: where };
    if (!all.checked) body.paths = [...chosen].sort();
    setVaultBusy(name, true);
    region.dataset.state = 'starting';
    clear(region).append(h('p', {}, t('vault.jobStarting')));
    try {
      const answer = await call('POST', `${vaultPath(name)}/restores`, { body });
      watchJob(name, answer.job, 'restore');
    } catch (e) {
      region.dataset.state = 'error';
      clear(region).append(errorBox(e));
      setVaultBusy(name, false);
    }
  });
  showChosen();
  browse(dir);
  return h('section', { class: 'card vault-restore', 'aria-labelledby': 'vault-restore-title' }, title,
    h('p', { class: 'help' }, t('vaultRestore.intro')), form, region);
}

export default {
  menu: [{ route: 'vaults', key: 'menu.vaults', also: ['vault'] }],
  views: {
    vaults: { view: viewVaults, roles: VAULT_ROLES },
    vault: { view: viewVault, roles: VAULT_ROLES },
  },
};
