#include "vault/drill.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <future>
#include <sstream>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/json_fields.hpp"
#include "base/version.hpp"
#include "crypto/random.hpp"
#include "vault/keyring.hpp"
#include "vault/lock.hpp"
#include "vault/restore.hpp"

namespace tessera::vault {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kDrillPrefix[] = "drills/";
constexpr char kReportFormat[] = "tessera-drill-report";

std::string OperatorName() {
  struct passwd pw {};
  struct passwd* out = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &out) == 0 && out) return out->pw_name;
  if (const char* u = std::getenv("USER")) return u;
  return "uid " + std::to_string(::getuid());
}

// The start time first, so that ids (and object names, and file names) sort by time.
std::string NewDrillId(int64_t now_ns) {
  std::string compact;
  for (char c : FormatRfc3339(now_ns))
    if (c != '-' && c != ':') compact += c;
  return compact + "-" + crypto::RandomId().substr(0, 8);
}

// "3, 4, 5" as people number stores.
std::string StoreNumbers(const std::vector<DrillStore>& stores) {
  std::string out;
  for (const DrillStore& s : stores) out += (out.empty() ? "" : ", ") + std::to_string(s.index + 1);
  return out;
}

std::vector<int> Indices(const std::vector<DrillStore>& stores) {
  std::vector<int> out;
  for (const DrillStore& s : stores) out.push_back(s.index);
  return out;
}

bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void AddFailure(DrillReport& r, const std::string& phase, const std::string& path,
                const std::string& reason) {
  r.failure_count++;
  if (r.failures.size() < kMaxDrillFailures) r.failures.push_back({phase, path, reason});
  if (r.reason.empty()) r.reason = path.empty() ? reason : path + ": " + reason;
}

class PhaseClock {
 public:
  PhaseClock(DrillReport& r, std::string name, const DrillOptions& o, const std::string& what)
      : r_(r), name_(std::move(name)), start_(MonotonicSeconds()) {
    if (o.on_step) o.on_step(what);
  }
  // Records the phase; returns `ok` for the caller's bookkeeping.
  bool Done(bool ok) {
    r_.phases.push_back({name_, MonotonicSeconds() - start_, ok});
    return ok;
  }

 private:
  DrillReport& r_;
  std::string name_;
  double start_;
};

// Restored directories may have lost their write or search permission (they are restored
// with the snapshot's modes); give it back so that the tree can be removed.
void MakeRemovable(const fs::path& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code sec;
    if (it->symlink_status(sec).type() != fs::file_type::directory) continue;
    ::chmod(it->path().c_str(), 0700);
    MakeRemovable(it->path());
  }
}

Status RemoveScratch(const fs::path& scratch, bool remove_top) {
  MakeRemovable(scratch);
  std::error_code ec;
  if (remove_top) {
    fs::remove_all(scratch, ec);
  } else {
    for (fs::directory_iterator it(scratch, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code rec;
      fs::remove_all(it->path(), rec);
      if (rec) ec = rec;
    }
  }
  if (ec)
    return Status::IOError("cannot remove the drill's scratch directory " + scratch.string() +
                           ": " + ec.message());
  return Status::Ok();
}

// What is wrong with one restored entry, or empty; `content` tells whether a file is there
// to have its content checked. Content itself is checked by the caller.
std::string CheckEntryMetadata(const Entry& e, const std::string& dest, uint32_t mode_mask,
                               bool* content) {
  *content = false;
  struct stat st {};
  if (::lstat(dest.c_str(), &st) != 0) return std::string("not restored: ") + std::strerror(errno);
  switch (e.node.type) {
    case NodeType::kDir:
      if (!S_ISDIR(st.st_mode)) return "is not a directory";
      break;
    case NodeType::kFile:
      if (!S_ISREG(st.st_mode)) return "is not a regular file";
      *content = true;
      break;
    case NodeType::kSymlink: {
      if (!S_ISLNK(st.st_mode)) return "is not a symbolic link";
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t got = ::readlink(dest.c_str(), target.data(), target.size());
      if (got < 0) return std::string("cannot read the link: ") + std::strerror(errno);
      target.resize(static_cast<size_t>(got));
      if (target != e.node.link_target)
        return "links to '" + target + "', expected '" + e.node.link_target + "'";
      return "";  // a link's own mode means nothing on Linux
    }
    case NodeType::kOther:
      return "";
  }
  if ((st.st_mode & mode_mask) != (e.node.mode & mode_mask))
    return "mode " + FormatMode(st.st_mode & mode_mask) + ", expected " +
           FormatMode(e.node.mode & mode_mask);
  return "";
}

// Phase (e): every entry of the snapshot against the restored tree.
void VerifyTree(Repository& repo, const std::vector<Entry>& entries, const fs::path& target,
                DrillReport& r) {
  // Without root, chmod silently drops set-group-ID for groups one is not in, and restore
  // sets no owners: only the bits an ordinary operator can restore are compared.
  uint32_t mode_mask = ::geteuid() == 0 ? 07777 : 01777;
  auto dest = [&](const std::string& p) { return (target / p.substr(1)).string(); };
  std::vector<std::string> problems(entries.size());
  std::vector<size_t> files;  // entries whose content is to be checked
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.node.type == NodeType::kOther) {
      r.skipped++;
      continue;
    }
    bool content = false;
    problems[i] = CheckEntryMetadata(e, dest(e.path), mode_mask, &content);
    if (content) files.push_back(i);
    if (e.node.type == NodeType::kDir && problems[i].empty()) r.dirs_verified++;
    if (e.node.type == NodeType::kSymlink && problems[i].empty()) r.symlinks_verified++;
  }
  // File contents, the bulk of the work, on every core.
  std::vector<std::string> content(files.size());
  std::atomic<size_t> next{0};
  std::vector<std::future<void>> work;
  size_t workers = std::min(files.size(), repo.cpu().size() + 1);
  for (size_t w = 0; w < workers; ++w) {
    work.push_back(repo.cpu().Submit([&] {
      for (size_t j = next++; j < files.size(); j = next++) {
        const Entry& e = entries[files[j]];
        Status st = VerifyRestoredFile(repo, dest(e.path), e.node);
        if (!st.ok()) content[j] = st.message();
      }
    }));
  }
  for (auto& w : work) w.get();
  for (size_t j = 0; j < files.size(); ++j) {
    size_t i = files[j];
    if (!content[j].empty()) {
      problems[i] += (problems[i].empty() ? "" : "; ") + content[j];
    } else if (problems[i].empty()) {
      r.files_verified++;
      r.bytes_verified += entries[i].node.size;
    }
  }
  for (size_t i = 0; i < entries.size(); ++i)
    if (!problems[i].empty()) AddFailure(r, "verify", entries[i].path, problems[i]);
  if (r.failure_count > 0)
    r.reason = std::to_string(r.failure_count) + " restored entr" +
               (r.failure_count == 1 ? "y does" : "ies do") +
               " not match the snapshot (first: " + r.failures.front().path + ": " +
               r.failures.front().reason + ")";
}

struct Chosen {
  std::vector<DrillStore> used, unreachable;
};

// Phase (a): exactly k stores among those allowed, the ones that answer first in index order.
Chosen ChooseStores(const VaultConfig& config, const DrillOptions& options,
                    const store::StoreOptions& store_options) {
  std::vector<int> candidates;
  for (int i = 0; i < config.n; ++i) {
    if (Contains(options.lose, i)) continue;
    if (!options.use.empty() && !Contains(options.use, i)) continue;
    candidates.push_back(i);
  }
  // Pinged together: an unreachable cloud may take its whole retry budget to say so.
  std::vector<std::future<Status>> pings;
  for (int i : candidates) {
    pings.push_back(std::async(std::launch::async, [&config, &store_options, i]() -> Status {
      auto s = store::OpenStore(config.stores[i], store_options);
      if (!s.ok()) return s.status();
      return (*s)->Ping();
    }));
  }
  Chosen out;
  for (size_t c = 0; c < candidates.size(); ++c) {
    int i = candidates[c];
    Status st = pings[c].get();
    if (!st.ok())
      out.unreachable.push_back({i, config.stores[i], st.message()});
    else if (static_cast<int>(out.used.size()) < config.k)
      out.used.push_back({i, config.stores[i], ""});
  }
  return out;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.3f s" : "%.1f s", s);
  return buf;
}

std::string PhaseLabel(const std::string& name) {
  if (name == "select") return "選擇儲存位置 / Choose stores";
  if (name == "open") return "由儲存位置重建金鑰並開啟 / Rebuild the key from the stores and open";
  if (name == "find") return "尋找快照 / Find the snapshot";
  if (name == "restore") return "還原至暫存目錄 / Restore to the scratch directory";
  if (name == "verify") return "逐一驗證 / Verify every entry";
  return name;
}

const char kStyle[] =
    "body{font-family:system-ui,'Noto Sans TC','PingFang TC','Microsoft JhengHei',sans-serif;"
    "margin:2em auto;max-width:64em;padding:0 1em;color:#222;line-height:1.45}"
    "h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;"
    "padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f4f4;"
    "font-weight:600}td.num{text-align:right;white-space:nowrap}"
    ".en{color:#555;font-weight:normal}.result{display:inline-block;padding:.2em .9em;"
    "font-size:1.4em;font-weight:bold;border-radius:.25em;color:#fff}"
    ".pass{background:#1a7f37}.fail{background:#c62828}.ok{color:#1a7f37}.bad{color:#c62828}"
    "code{font-family:ui-monospace,monospace;word-break:break-all}"
    "footer{margin-top:2em;color:#777;font-size:.9em}";

std::string PageStart(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"zh-Hant\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         HtmlEscape(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
}

// A table row of a label (trusted, already HTML) and a value (escaped here).
std::string Row(const std::string& label_html, const std::string& value) {
  return "<tr><th>" + label_html + "</th><td>" + HtmlEscape(value) + "</td></tr>\n";
}

std::string ResultBadge(bool passed) {
  return passed ? "<span class=\"result pass\">通過 / PASS</span>"
                : "<span class=\"result fail\">未通過 / FAIL</span>";
}

json StoreJson(const DrillStore& s) {
  json j = {{"store", s.index + 1}, {"url", s.url}};
  if (!s.error.empty()) j["error"] = s.error;
  return j;
}

std::vector<DrillStore> StoresFromJson(const json& j, const char* key) {
  std::vector<DrillStore> out;
  if (!j.contains(key)) return out;
  for (const json& s : j.at(key))
    out.push_back({RequiredInt<int>(s, "store") - 1, s.value("url", ""), s.value("error", "")});
  return out;
}

}  // namespace

std::string FormatLocalTime(int64_t unix_ns) {
  time_t t = static_cast<time_t>(unix_ns / 1000000000);
  struct tm tm {};
  if (!::localtime_r(&t, &tm)) return FormatRfc3339(unix_ns);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z", &tm);
  return buf;
}

std::string FormatDuration(int64_t s) {
  bool negative = s < 0;
  int64_t a = negative ? -s : s;
  std::string out;
  if (a >= 86400)
    out = std::to_string(a / 86400) + " d " + std::to_string(a % 86400 / 3600) + " h";
  else if (a >= 3600)
    out = std::to_string(a / 3600) + " h " + std::to_string(a % 3600 / 60) + " min";
  else if (a >= 60)
    out = std::to_string(a / 60) + " min " + std::to_string(a % 60) + " s";
  else
    out = std::to_string(a) + " s";
  return (negative ? "-" : "") + out;
}

int LocalYear(int64_t unix_ns) {
  time_t t = static_cast<time_t>(unix_ns / 1000000000);
  struct tm tm {};
  if (!::localtime_r(&t, &tm)) ::gmtime_r(&t, &tm);
  return tm.tm_year + 1900;
}

Result<DrillReport> RunDrill(const VaultContext& ctx, const DrillOptions& options) {
  TESSERA_ASSIGN_OR_RETURN(VaultConfig config, LoadLocalConfig(ctx));
  for (const std::vector<int>* list : {&options.lose, &options.use})
    for (int i : *list)
      if (i < 0 || i >= config.n)
        return Status::InvalidArgument("store " + std::to_string(i + 1) +
                                       " does not exist (the vault has " +
                                       std::to_string(config.n) + ")");
  for (int i : options.use)
    if (Contains(options.lose, i))
      return Status::InvalidArgument("store " + std::to_string(i + 1) +
                                     " cannot be both lost and used in a drill");

  DrillReport r;
  r.started_ns = NowUnixNanos();
  r.id = NewDrillId(r.started_ns);
  r.hostname = HostName();
  r.operator_name = OperatorName();
  r.tessera_version = kTesseraVersion;
  r.vault_id = config.vault_id;
  r.k = config.k;
  r.n = config.n;
  r.snapshot_ref = options.snapshot.empty() ? "latest" : options.snapshot;
  for (int i = 0; i < config.n; ++i)
    if (Contains(options.lose, i)) r.stores_lost.push_back({i, config.stores[i], ""});

  const fs::path drills_dir = fs::path(ctx.home) / "drills";
  // The scratch directory must hold nothing but the restore: the drill removes it after.
  fs::path scratch = options.scratch.empty() ? drills_dir / ("scratch-" + r.id)
                                             : fs::absolute(options.scratch).lexically_normal();
  bool scratch_is_ours = true;
  {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(scratch, ec))) {
      if (!fs::is_directory(fs::symlink_status(scratch, ec)) || !fs::is_empty(scratch, ec))
        return Status::InvalidArgument("scratch directory " + scratch.string() +
                                       " is not an empty directory; give a new or empty one");
      scratch_is_ours = false;
    }
  }
  TESSERA_RETURN_IF_ERROR(MakeDirs(scratch, 0700));
  r.scratch = scratch.string();

  // (a) Choose the stores.
  {
    PhaseClock clock(r, "select", options,
                     "choosing " + std::to_string(config.k) + " of the stores");
    Chosen chosen = ChooseStores(config, options, ctx.store_options);
    r.stores_used = chosen.used;
    r.stores_unreachable = chosen.unreachable;
    if (static_cast<int>(r.stores_used.size()) < config.k) {
      std::string why = "only " + std::to_string(r.stores_used.size()) +
                        " store(s) are available to the drill" +
                        (r.stores_used.empty() ? "" : " (" + StoreNumbers(r.stores_used) + ")") +
                        " but the vault needs " + std::to_string(config.k) + " of its " +
                        std::to_string(config.n) + " to restore";
      if (!r.stores_lost.empty()) why += "; treated as lost: " + StoreNumbers(r.stores_lost);
      for (const DrillStore& s : r.stores_unreachable)
        why += "; store " + std::to_string(s.index + 1) + " is unreachable: " + s.error;
      AddFailure(r, "select", "", why);
      r.stores_used.clear();  // none was used: the recovery never started
    }
    clock.Done(r.failure_count == 0);
  }

  // (b)-(e) are the recovery itself; their time is the RTO.
  std::unique_ptr<Repository> repo;
  Snapshot snap;
  bool ok = r.failure_count == 0;
  if (ok) {
    PhaseClock clock(r, "open", options,
                     "rebuilding the key from stores " + StoreNumbers(r.stores_used));
    SecretBytes custodian_key;
    const SecretBytes* ck = nullptr;
    r.key_source = "key shares in the descriptors of stores " + StoreNumbers(r.stores_used);
    if (config.custodians > 0) {
      if (!options.recovery_codes.empty()) {
        r.key_source +=
            " + " + std::to_string(options.recovery_codes.size()) + " custodian recovery code(s)";
      } else {
        // Standing in for the custodians is the one use of the key file in a drill; the
        // master key itself still comes from the stores.
        auto key = ReadKeyFile(ctx.KeyPath(), config.vault_id, ctx.passphrase);
        if (!key.ok()) {
          AddFailure(
              r, "open", "",
              "the vault has custodians: give recovery codes from " +
                  std::to_string(config.quorum) + " of its " + std::to_string(config.custodians) +
                  " custodians (the local key file could not stand in: " + key.status().message() +
                  ")");
        } else {
          custodian_key = key->custodian_key;
          ck = &custodian_key;
          r.custodian_key_from_key_file = true;
          r.key_source += " + the custodian key from the local key file (standing in for " +
                          std::to_string(config.quorum) + " custodians' recovery codes)";
          r.notes.push_back(
              "No recovery codes were given: the custodian key from the local key file stood in "
              "for the custodians. A recovery on a new machine needs recovery codes from " +
              std::to_string(config.quorum) + " of the " + std::to_string(config.custodians) +
              " custodians; rehearse with --code to prove they work.");
        }
      }
    }
    if (r.failure_count == 0) {
      auto opened = OpenFromStores(config, Indices(r.stores_used), options.recovery_codes, ck,
                                   ctx.store_options, ctx.threads);
      if (!opened.ok()) {
        AddFailure(r, "open", "",
                   "cannot rebuild the key from stores " + StoreNumbers(r.stores_used) + ": " +
                       opened.status().message());
      } else {
        repo = std::move(opened).value();
        // As `vault connect` would on a new machine: the configuration comes from the stores.
        auto sealed = repo->objects().Get(kConfigObject);
        Result<VaultConfig> stored =
            sealed.ok() ? ParseConfig(*sealed) : Result<VaultConfig>(sealed.status());
        if (!stored.ok())
          AddFailure(r, "open", "",
                     "cannot read the vault's configuration from stores " +
                         StoreNumbers(r.stores_used) + ": " + stored.status().message());
        else if (stored->vault_id != config.vault_id)
          AddFailure(r, "open", "", "the stores hold the configuration of another vault");
      }
    }
    ok = clock.Done(r.failure_count == 0);
  }
  if (ok) {
    PhaseClock clock(r, "find", options, "finding snapshot " + r.snapshot_ref);
    auto found = repo->FindSnapshot(r.snapshot_ref);
    if (!found.ok()) {
      AddFailure(r, "find", "", found.status().message());
    } else {
      snap = std::move(found).value();
      r.snapshot_id = snap.id;
      r.snapshot_time_ns = snap.time_ns;
      r.snapshot_host = snap.hostname;
      r.snapshot_paths = snap.paths;
      r.rpo_seconds = (r.started_ns - snap.time_ns) / 1000000000;
    }
    ok = clock.Done(r.failure_count == 0);
  }
  if (ok) {
    PhaseClock clock(r, "restore", options,
                     "restoring snapshot " + snap.id.substr(0, 8) + " to " + r.scratch);
    RestoreOptions ro;
    ro.target = r.scratch;
    auto restored = Restore(*repo, snap, ro, options.progress);
    if (!restored.ok()) {
      AddFailure(r, "restore", "", restored.status().message());
      r.notes.push_back(
          "Run `tessera vault verify --read-data` to see the damage store by store, and "
          "`tessera vault repair` to rebuild it from the other stores.");
    } else {
      r.files = restored->files;
      r.dirs = restored->dirs;
      r.symlinks = restored->symlinks;
      r.bytes = restored->bytes;
      for (const std::string& w : restored->warnings) r.warnings.push_back(w);
    }
    ok = clock.Done(r.failure_count == 0);
  }
  if (ok) {
    PhaseClock clock(r, "verify", options, "checking every restored entry against the snapshot");
    auto entries = ListEntries(*repo, snap);
    if (!entries.ok())
      AddFailure(r, "verify", "", entries.status().message());
    else
      VerifyTree(*repo, *entries, scratch, r);
    ok = clock.Done(r.failure_count == 0);
  }
  repo.reset();
  r.passed = ok && r.failure_count == 0;
  if (r.passed) {
    double rto = 0;
    for (const DrillPhase& p : r.phases)
      if (p.name != "select") rto += p.seconds;
    r.rto_seconds = rto;
  }
  if (r.skipped > 0)
    r.notes.push_back(std::to_string(r.skipped) +
                      " special file(s) (devices, FIFOs, sockets) are in the snapshot; restores "
                      "do not recreate them, so they were not checked");

  r.scratch_kept = options.keep;
  if (!options.keep) {
    Status st = RemoveScratch(scratch, scratch_is_ours);
    if (!st.ok()) r.warnings.push_back(st.message());
  }
  r.finished_ns = NowUnixNanos();

  // Recorded through every reachable store (lost ones too: they are only pretended gone),
  // so each store keeps a shard of the evidence. That needs the local key, which the
  // recovery above did without; without it the report stays on this machine.
  const std::string object = kDrillPrefix + r.id;
  r.json_path = (drills_dir / (r.id + ".json")).string();
  r.html_path = (drills_dir / (r.id + ".html")).string();
  // Stores that did not answer the drill are left out, so as not to wait out their retries.
  OpenOptions record_on;
  if (!r.stores_unreachable.empty())
    for (int i = 0; i < config.n; ++i)
      if (std::none_of(r.stores_unreachable.begin(), r.stores_unreachable.end(),
                       [i](const DrillStore& s) { return s.index == i; }))
        record_on.only_stores.push_back(i);
  auto all = OpenVault(ctx, record_on);
  if (!all.ok()) {
    r.vault_record_error = "cannot open the vault with the local key: " + all.status().message();
  } else {
    DrillReport as_recorded = r;
    as_recorded.recorded_in_vault = true;
    std::string text = JsonText(DrillReportToJson(as_recorded), 2);
    auto put = (*all)->objects().Put(object, AsBytes(text), true);
    if (!put.ok()) {
      r.vault_record_error = put.status().message();
    } else {
      r.recorded_in_vault = true;
      if (!put->failed_stores.empty()) {
        std::vector<DrillStore> missed;
        for (int i : put->failed_stores) missed.push_back({i, config.stores[i], ""});
        r.notes.push_back("stores " + StoreNumbers(missed) +
                          " did not take their shard of the report; `tessera vault repair` "
                          "fills them in");
      }
    }
  }
  if (!r.recorded_in_vault)
    r.notes.push_back("The report could not be recorded in the vault (" + r.vault_record_error +
                      "); it is kept only on this machine, in " + r.json_path);
  Status st = MakeDirs(drills_dir, 0700);
  if (st.ok()) st = WriteFileAtomic(r.json_path, JsonText(DrillReportToJson(r), 2) + "\n", 0600);
  if (st.ok()) st = WriteFileAtomic(r.html_path, DrillReportHtml(r), 0600);
  if (!st.ok()) {
    r.warnings.push_back("cannot write the local copy of the report: " + st.message());
    r.json_path.clear();
    r.html_path.clear();
  }
  return r;
}

json DrillReportToJson(const DrillReport& r) {
  json stores_used = json::array(), stores_lost = json::array(), unreachable = json::array();
  for (auto& s : r.stores_used) stores_used.push_back(StoreJson(s));
  for (auto& s : r.stores_lost) stores_lost.push_back(StoreJson(s));
  for (auto& s : r.stores_unreachable) unreachable.push_back(StoreJson(s));
  json failures = json::array(), phases = json::array();
  for (auto& f : r.failures)
    failures.push_back({{"phase", f.phase}, {"path", f.path}, {"reason", f.reason}});
  for (auto& p : r.phases)
    phases.push_back({{"name", p.name}, {"seconds", p.seconds}, {"ok", p.ok}});
  json snapshot = {{"ref", r.snapshot_ref},
                   {"id", r.snapshot_id},
                   {"hostname", r.snapshot_host},
                   {"paths", r.snapshot_paths}};
  if (!r.snapshot_id.empty()) {
    snapshot["time"] = FormatRfc3339(r.snapshot_time_ns);
    snapshot["time_ns"] = r.snapshot_time_ns;
  }
  json j = {{"format", kReportFormat},
            {"version", 1},
            {"id", r.id},
            {"result", r.passed ? "pass" : "fail"},
            {"passed", r.passed},
            {"reason", r.reason},
            {"started", FormatRfc3339(r.started_ns)},
            {"started_ns", r.started_ns},
            {"finished", FormatRfc3339(r.finished_ns)},
            {"finished_ns", r.finished_ns},
            {"hostname", r.hostname},
            {"operator", r.operator_name},
            {"tessera_version", r.tessera_version},
            {"vault_id", r.vault_id},
            {"k", r.k},
            {"n", r.n},
            {"snapshot", snapshot},
            {"stores_used", stores_used},
            {"stores_lost", stores_lost},
            {"stores_unreachable", unreachable},
            {"key_source", r.key_source},
            {"custodian_key_from_key_file", r.custodian_key_from_key_file},
            {"restored",
             {{"files", r.files}, {"dirs", r.dirs}, {"symlinks", r.symlinks}, {"bytes", r.bytes}}},
            {"verified",
             {{"files", r.files_verified},
              {"bytes", r.bytes_verified},
              {"dirs", r.dirs_verified},
              {"symlinks", r.symlinks_verified},
              {"skipped", r.skipped}}},
            {"failure_count", r.failure_count},
            {"failures", failures},
            {"phases", phases},
            {"rto_seconds", nullptr},
            {"rpo_seconds", nullptr},
            {"warnings", r.warnings},
            {"notes", r.notes},
            {"scratch", {{"path", r.scratch}, {"kept", r.scratch_kept}}},
            {"record",
             {{"in_vault", r.recorded_in_vault},
              {"error", r.vault_record_error},
              {"json", r.json_path},
              {"html", r.html_path}}}};
  if (r.rto_seconds) j["rto_seconds"] = *r.rto_seconds;
  if (r.rpo_seconds) j["rpo_seconds"] = *r.rpo_seconds;
  return j;
}

Result<DrillReport> DrillReportFromJson(const json& j) {
  try {
    if (!j.is_object() || j.value("format", "") != kReportFormat)
      return Status::Corruption("not a tessera drill report");
    if (OptionalInt<int>(j, "version", 0) != 1)
      return Status::Corruption("drill report version " +
                                std::to_string(OptionalInt<int>(j, "version", 0)) +
                                " is not supported by this tessera");
    DrillReport r;
    r.id = j.at("id").get<std::string>();
    r.passed = j.at("passed").get<bool>();
    r.reason = j.value("reason", "");
    r.started_ns = RequiredInt<int64_t>(j, "started_ns");
    r.finished_ns = OptionalInt<int64_t>(j, "finished_ns", 0);
    r.hostname = j.value("hostname", "");
    r.operator_name = j.value("operator", "");
    r.tessera_version = j.value("tessera_version", "");
    r.vault_id = j.value("vault_id", "");
    r.k = OptionalInt<int>(j, "k", 0);
    r.n = OptionalInt<int>(j, "n", 0);
    if (j.contains("snapshot")) {
      const json& s = j.at("snapshot");
      r.snapshot_ref = s.value("ref", "");
      r.snapshot_id = s.value("id", "");
      r.snapshot_host = s.value("hostname", "");
      r.snapshot_time_ns = OptionalInt<int64_t>(s, "time_ns", 0);
      if (s.contains("paths")) r.snapshot_paths = s.at("paths").get<std::vector<std::string>>();
    }
    r.stores_used = StoresFromJson(j, "stores_used");
    r.stores_lost = StoresFromJson(j, "stores_lost");
    r.stores_unreachable = StoresFromJson(j, "stores_unreachable");
    r.key_source = j.value("key_source", "");
    r.custodian_key_from_key_file = j.value("custodian_key_from_key_file", false);
    if (j.contains("restored")) {
      const json& x = j.at("restored");
      r.files = OptionalInt<uint64_t>(x, "files", 0);
      r.dirs = OptionalInt<uint64_t>(x, "dirs", 0);
      r.symlinks = OptionalInt<uint64_t>(x, "symlinks", 0);
      r.bytes = OptionalInt<uint64_t>(x, "bytes", 0);
    }
    if (j.contains("verified")) {
      const json& x = j.at("verified");
      r.files_verified = OptionalInt<uint64_t>(x, "files", 0);
      r.bytes_verified = OptionalInt<uint64_t>(x, "bytes", 0);
      r.dirs_verified = OptionalInt<uint64_t>(x, "dirs", 0);
      r.symlinks_verified = OptionalInt<uint64_t>(x, "symlinks", 0);
      r.skipped = OptionalInt<uint64_t>(x, "skipped", 0);
    }
    r.failure_count = OptionalInt<uint64_t>(j, "failure_count", 0);
    if (j.contains("failures"))
      for (const json& f : j.at("failures"))
        r.failures.push_back({f.value("phase", ""), f.value("path", ""), f.value("reason", "")});
    if (j.contains("phases"))
      for (const json& p : j.at("phases"))
        r.phases.push_back({p.value("name", ""), p.value("seconds", 0.0), p.value("ok", false)});
    if (j.contains("rto_seconds") && j.at("rto_seconds").is_number())
      r.rto_seconds = j.at("rto_seconds").get<double>();
    if (j.contains("rpo_seconds") && j.at("rpo_seconds").is_number())
      r.rpo_seconds = RequiredInt<int64_t>(j, "rpo_seconds");
    if (j.contains("warnings")) r.warnings = j.at("warnings").get<std::vector<std::string>>();
    if (j.contains("notes")) r.notes = j.at("notes").get<std::vector<std::string>>();
    if (j.contains("scratch")) {
      r.scratch = j.at("scratch").value("path", "");
      r.scratch_kept = j.at("scratch").value("kept", false);
    }
    if (j.contains("record")) {
      const json& x = j.at("record");
      r.recorded_in_vault = x.value("in_vault", false);
      r.vault_record_error = x.value("error", "");
      r.json_path = x.value("json", "");
      r.html_path = x.value("html", "");
    }
    return r;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("drill report is malformed: ") + e.what());
  }
}

std::string DrillReportHtml(const DrillReport& r) {
  std::string h = PageStart("還原演練報告 / Restore drill report " + r.id);
  h += "<h1>還原演練報告 <span class=\"en\">/ Restore drill report</span></h1>\n";
  h += "<p>" + ResultBadge(r.passed) + "</p>\n";
  if (!r.passed) h += "<p class=\"bad\">原因 / Reason: " + HtmlEscape(r.reason) + "</p>\n";

  h += "<h2>摘要 <span class=\"en\">/ Summary</span></h2>\n<table>\n";
  h +=
      Row("復原時間 RTO <span class=\"en\">/ Recovery time</span>",
          r.rto_seconds ? Seconds(*r.rto_seconds) + " (open → verified)" : "未達成 / not achieved");
  h += Row("復原點 RPO <span class=\"en\">/ Recovery point</span>",
           r.rpo_seconds ? FormatDuration(*r.rpo_seconds) + " (" + std::to_string(*r.rpo_seconds) +
                               " s: drill start − snapshot time)"
                         : "未知 / unknown (no snapshot found)");
  h += Row("演練編號 <span class=\"en\">/ Drill ID</span>", r.id);
  h += Row("開始時間 <span class=\"en\">/ Started</span>",
           FormatLocalTime(r.started_ns) + " (" + FormatRfc3339(r.started_ns) + ")");
  h += Row("結束時間 <span class=\"en\">/ Finished</span>",
           FormatLocalTime(r.finished_ns) + " (" + FormatRfc3339(r.finished_ns) + ")");
  h += Row("主機 <span class=\"en\">/ Host</span>", r.hostname);
  h += Row("執行人員 <span class=\"en\">/ Operator</span>", r.operator_name);
  h += Row("備份庫 <span class=\"en\">/ Vault</span>",
           r.vault_id + " (" + std::to_string(r.k) + "-of-" + std::to_string(r.n) + ")");
  h += Row("金鑰來源 <span class=\"en\">/ Key rebuilt from</span>",
           r.key_source.empty() ? "—" : r.key_source);
  h += Row("已還原 <span class=\"en\">/ Restored</span>",
           std::to_string(r.files) + " files, " + std::to_string(r.dirs) + " directories, " +
               std::to_string(r.symlinks) + " symlinks, " + HumanBytes(r.bytes));
  h += Row("已驗證 <span class=\"en\">/ Verified</span>",
           std::to_string(r.files_verified) + " files (" + HumanBytes(r.bytes_verified) + "), " +
               std::to_string(r.dirs_verified) + " directories, " +
               std::to_string(r.symlinks_verified) + " symlinks");
  h += Row("報告存放 <span class=\"en\">/ Report kept</span>",
           r.recorded_in_vault ? "備份庫 drills/" + r.id + " / in the vault, and on this machine"
                               : "僅本機 / on this machine only: " + r.vault_record_error);
  h += "</table>\n";

  h += "<h2>快照 <span class=\"en\">/ Snapshot</span></h2>\n<table>\n";
  h += Row("要求 <span class=\"en\">/ Asked for</span>", r.snapshot_ref);
  if (!r.snapshot_id.empty()) {
    h += Row("快照 ID <span class=\"en\">/ ID</span>", r.snapshot_id);
    h += Row("時間 <span class=\"en\">/ Time</span>",
             FormatLocalTime(r.snapshot_time_ns) + " (" + FormatRfc3339(r.snapshot_time_ns) + ")");
    h += Row("主機 <span class=\"en\">/ Host</span>", r.snapshot_host);
    h += "<tr><th>路徑 <span class=\"en\">/ Paths</span></th><td>";
    for (auto& p : r.snapshot_paths) h += "<code>" + HtmlEscape(p) + "</code><br>";
    h += "</td></tr>\n";
  } else {
    h += Row("快照 <span class=\"en\">/ Snapshot</span>", "未找到 / not found");
  }
  h += "</table>\n";

  h += "<h2>儲存位置 <span class=\"en\">/ Stores</span></h2>\n<table>\n";
  h += "<tr><th>#</th><th>URL</th><th>狀態 <span class=\"en\">/ Status</span></th></tr>\n";
  std::vector<std::pair<const DrillStore*, std::string>> rows;
  for (auto& s : r.stores_used) rows.emplace_back(&s, "使用 / used");
  for (auto& s : r.stores_lost) rows.emplace_back(&s, "視為遺失 / treated as lost");
  for (auto& s : r.stores_unreachable) rows.emplace_back(&s, "無法連線 / unreachable: " + s.error);
  std::sort(rows.begin(), rows.end(),
            [](auto& a, auto& b) { return a.first->index < b.first->index; });
  for (auto& [s, status] : rows)
    h += "<tr><td class=\"num\">" + std::to_string(s->index + 1) + "</td><td><code>" +
         HtmlEscape(s->url) + "</code></td><td>" + HtmlEscape(status) + "</td></tr>\n";
  h += "</table>\n";

  h += "<h2>階段耗時 <span class=\"en\">/ Phase timings</span></h2>\n<table>\n";
  h += "<tr><th>階段 <span class=\"en\">/ Phase</span></th><th>耗時 <span "
       "class=\"en\">/ Time</span></th><th>結果 <span class=\"en\">/ Result</span></th></tr>\n";
  for (auto& p : r.phases)
    h += "<tr><td>" + HtmlEscape(PhaseLabel(p.name)) + "</td><td class=\"num\">" +
         HtmlEscape(Seconds(p.seconds)) + "</td><td class=\"" + (p.ok ? "ok\">✓" : "bad\">✗") +
         "</td></tr>\n";
  h += "</table>\n<p class=\"en\">RTO = 重建金鑰開啟 + 尋找快照 + 還原 + 驗證 / open + find + "
       "restore + verify.</p>\n";

  if (r.failure_count > 0) {
    h += "<h2>失敗項目 <span class=\"en\">/ Failures</span> (" + std::to_string(r.failure_count) +
         ")</h2>\n<table>\n<tr><th>階段 <span class=\"en\">/ Phase</span></th><th>路徑 <span "
         "class=\"en\">/ Path</span></th><th>原因 <span class=\"en\">/ Reason</span></th></tr>\n";
    for (auto& f : r.failures)
      h += "<tr><td>" + HtmlEscape(f.phase) + "</td><td><code>" + HtmlEscape(f.path) +
           "</code></td><td>" + HtmlEscape(f.reason) + "</td></tr>\n";
    h += "</table>\n";
    if (r.failure_count > r.failures.size())
      h += "<p>另有 " + std::to_string(r.failure_count - r.failures.size()) + " 項未列出 / " +
           std::to_string(r.failure_count - r.failures.size()) + " more not shown.</p>\n";
  }
  if (!r.notes.empty() || !r.warnings.empty()) {
    h += "<h2>附註 <span class=\"en\">/ Notes</span></h2>\n<ul>\n";
    for (auto& n : r.notes) h += "<li>" + HtmlEscape(n) + "</li>\n";
    for (auto& w : r.warnings) h += "<li>警告 / warning: " + HtmlEscape(w) + "</li>\n";
    h += "</ul>\n";
  }
  h += "<footer>tessera " + HtmlEscape(r.tessera_version) + " · " +
       HtmlEscape(r.scratch_kept ? "還原結果保留於 / restored tree kept in " + r.scratch
                                 : "暫存目錄已刪除 / scratch directory removed") +
       "</footer>\n</body>\n</html>\n";
  return h;
}

Result<DrillHistory> ListDrills(Repository& repo) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> names, repo.objects().List(kDrillPrefix));
  std::vector<std::future<Result<Bytes>>> reads;
  for (auto& n : names)
    reads.push_back(repo.cpu().Submit([&repo, n] { return repo.objects().Get(n); }));
  DrillHistory h;
  for (size_t i = 0; i < names.size(); ++i) {
    Result<Bytes> data = reads[i].get();
    if (!data.ok()) {
      if (data.status().code() == StatusCode::kNotFound) continue;  // removed meanwhile
      h.unreadable.push_back(names[i] + ": " + data.status().message());
      continue;
    }
    json j = json::parse(AsString(*data), nullptr, false);
    auto report = DrillReportFromJson(j);
    if (!report.ok()) {
      h.unreadable.push_back(names[i] + ": " + report.status().message());
      continue;
    }
    h.reports.push_back(std::move(report).value());
  }
  std::sort(h.reports.begin(), h.reports.end(), [](const DrillReport& a, const DrillReport& b) {
    return a.started_ns != b.started_ns ? a.started_ns < b.started_ns : a.id < b.id;
  });
  for (const DrillReport& r : h.reports) {
    DrillYear& y = h.per_year[LocalYear(r.started_ns)];
    (r.passed ? y.passed : y.failed)++;
  }
  return h;
}

std::string DrillHistoryHtml(const DrillHistory& h, const std::string& vault_id) {
  std::string out = PageStart("還原演練紀錄 / Restore drill records");
  out += "<h1>還原演練紀錄 <span class=\"en\">/ Restore drill records</span></h1>\n";
  out += "<p>備份庫 <span class=\"en\">/ Vault</span> <code>" + HtmlEscape(vault_id) +
         "</code> · 產生時間 <span class=\"en\">/ Generated</span> " +
         HtmlEscape(FormatLocalTime(NowUnixNanos())) + "</p>\n";
  out += "<h2>年度成功演練次數 <span class=\"en\">/ Successful drills per year (KPI)</span></h2>\n";
  out +=
      "<table>\n<tr><th>年度 <span class=\"en\">/ Year</span></th><th>成功 <span "
      "class=\"en\">/ Passed</span></th><th>未通過 <span class=\"en\">/ Failed</span></th></tr>\n";
  for (auto& [year, c] : h.per_year)
    out += "<tr><td>" + std::to_string(year) + "</td><td class=\"num ok\">" +
           std::to_string(c.passed) + "</td><td class=\"num\">" + std::to_string(c.failed) +
           "</td></tr>\n";
  out += "</table>\n";
  out += "<h2>演練 <span class=\"en\">/ Drills</span></h2>\n<table>\n";
  out +=
      "<tr><th>時間 <span class=\"en\">/ Time</span></th><th>快照 <span class=\"en\">/ "
      "Snapshot</span></th><th>使用的儲存位置 <span class=\"en\">/ Stores used</span></th>"
      "<th>RTO</th><th>RPO</th><th>結果 <span class=\"en\">/ Result</span></th>"
      "<th>年度第幾次成功 <span class=\"en\">/ Success # in year</span></th>"
      "<th>原因 <span class=\"en\">/ Reason</span></th></tr>\n";
  std::map<int, int> running;
  for (const DrillReport& r : h.reports) {
    std::string kpi;
    if (r.passed) {
      int year = LocalYear(r.started_ns);
      kpi = std::to_string(year) + " #" + std::to_string(++running[year]);
    }
    out += "<tr><td>" + HtmlEscape(FormatLocalTime(r.started_ns)) + "</td><td><code>" +
           HtmlEscape(r.snapshot_id.empty() ? r.snapshot_ref : r.snapshot_id.substr(0, 8)) +
           "</code></td><td>" + HtmlEscape(StoreNumbers(r.stores_used)) +
           "</td><td class=\"num\">" + HtmlEscape(r.rto_seconds ? Seconds(*r.rto_seconds) : "—") +
           "</td><td class=\"num\">" +
           HtmlEscape(r.rpo_seconds ? FormatDuration(*r.rpo_seconds) : "—") + "</td><td class=\"" +
           (r.passed ? "ok\">通過 / PASS" : "bad\">未通過 / FAIL") + "</td><td>" + HtmlEscape(kpi) +
           "</td><td>" + HtmlEscape(r.reason) + "</td></tr>\n";
  }
  out += "</table>\n";
  if (!h.unreadable.empty()) {
    out += "<h2>無法讀取的紀錄 <span class=\"en\">/ Unreadable records</span></h2>\n<ul>\n";
    for (auto& u : h.unreadable) out += "<li>" + HtmlEscape(u) + "</li>\n";
    out += "</ul>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace tessera::vault
