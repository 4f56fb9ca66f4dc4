// The vaults: k-of-n, each store's health, snapshots, drills with RTO/RPO, and for
// operators and admins "back up now" and "run a drill" as jobs with live progress.
//   #/vaults             all vaults (operator, admin; auditor and records read-only)
//   #/vault/NAME         one vault
import { api } from '../api.js';
import { t, getLang, formatDate, formatSize, formatDuration } from '../i18n.js';
import { h, clear, field } from '../dom.js';
import { state, load, errorBox, table, sleep, hasRole, routeOf } from '../shell.js';
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
  let data;
  try {
    data = await load(() => api.vaults());
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
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
  clear(parts.drills).append(perYear ? h('p', { class: 'per-year' }, perYear) : null, drillsTable(drills.drills || []));
}

const loadVault = (name) => Promise.all([api.vault(name), api.snapshots(name), api.drills(name)]);

async function viewVault(m, route, live) {
  const name = route.arg || '';
  m.append(h('p', { class: 'back' }, h('a', { href: '#/vaults' }, `← ${t('vault.back')}`)),
    h('h1', { tabindex: '-1' }, t('vault.title', { name })));
  const status = h('p', { role: 'status' }, t('loading'));
  m.append(status);
  let data;
  try {
    data = await load(() => loadVault(name));
  } catch (e) {
    if (!live()) return;
    status.replaceWith(errorBox(e));
    return;
  }
  if (!live()) return;
  status.remove();
  const parts = {
    facts: h('div', { class: 'vault-summary' }),
    snapshots: h('div', { id: 'vault-snapshots' }),
    drills: h('div', { id: 'vault-drills' }),
  };
  m.append(h('section', { class: 'card', 'aria-label': t('vault.title', { name }) }, parts.facts));
  if (mayWriteVaults()) m.append(vaultActions(name, data[0]));
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
  for (const b of document.querySelectorAll('form.vault-action button[type="submit"]')) b.disabled = busy;
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
}

function updateJobView(name) {
  const region = document.getElementById('job-status');
  if (!region || region.dataset.vault !== name) return;
  const w = vaultJobs.get(name);
  if (!w) {
    setVaultBusy(name, false);
    return;
  }
  setVaultBusy(name, w.running);
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
export default {
  menu: [{ route: 'vaults', key: 'menu.vaults', also: ['vault'] }],
  views: {
    vaults: { view: viewVaults, roles: VAULT_ROLES },
    vault: { view: viewVault, roles: VAULT_ROLES },
  },
};
