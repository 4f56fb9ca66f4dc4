#include "server/console_vault.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "base/progress.hpp"
#include "guard/audit_log.hpp"
#include "vault/backup.hpp"
#include "vault/drill.hpp"
#include "vault/keyring.hpp"
#include "vault/restore.hpp"
#include "vault/vault.hpp"

namespace tessera::server {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json TimeOrNull(int64_t unix_ns) {
  return unix_ns == 0 ? json(nullptr) : json(FormatRfc3339(unix_ns));
}

// Vault names as `tessera vault --vault NAME` makes directories of them: nothing that could
// leave HOME/vaults.
bool IsValidVaultName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// A store's address without any user or password in it.
std::string Location(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t host = scheme + 3;
  const size_t slash = url.find('/', host);
  const size_t at = url.rfind('@', slash == std::string::npos ? url.size() : slash);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

std::string Kind(const std::string& url) {
  const size_t scheme = url.find("://");
  return scheme == std::string::npos ? "unknown" : url.substr(0, scheme);
}

json Numbers(const std::vector<vault::DrillStore>& stores) {
  json out = json::array();
  for (const auto& s : stores) out.push_back(s.index + 1);
  return out;
}

json DrillSummary(const vault::DrillReport& r) {
  json j = {{"id", r.id},
            {"at", TimeOrNull(r.started_ns)},
            {"finished_at", TimeOrNull(r.finished_ns)},
            {"ok", r.passed},
            {"rto_seconds", r.rto_seconds ? json(*r.rto_seconds) : json(nullptr)},
            {"rpo_seconds", r.rpo_seconds ? json(*r.rpo_seconds) : json(nullptr)},
            {"snapshot", r.snapshot_id.empty() ? json(nullptr) : json(r.snapshot_id)},
            {"stores_used", Numbers(r.stores_used)},
            {"stores_lost", Numbers(r.stores_lost)},
            {"stores_unreachable", Numbers(r.stores_unreachable)},
            {"files_verified", r.files_verified},
            {"bytes_verified", r.bytes_verified},
            {"failures", r.failure_count},
            {"operator", r.operator_name},
            {"year", vault::LocalYear(r.started_ns)}};
  if (!r.passed) j["reason"] = r.reason;
  return j;
}

json SnapshotJson(const vault::Snapshot& s) {
  json degraded = json::array();
  for (int i : s.degraded_stores) degraded.push_back(i + 1);
  return {{"id", s.id},
          {"short_id", s.id.substr(0, 8)},
          {"time", FormatRfc3339(s.time_ns)},
          {"hostname", s.hostname},
          {"username", s.username},
          {"paths", s.paths},
          {"tags", s.tags},
          {"parent", s.parent.empty() ? json(nullptr) : json(s.parent)},
          {"files", s.summary.files},
          {"dirs", s.summary.dirs},
          {"symlinks", s.summary.symlinks},
          {"bytes", s.summary.bytes},
          {"new_bytes", s.summary.new_bytes},
          {"stored_bytes", s.summary.stored_bytes},
          {"seconds", s.summary.seconds},
          {"degraded_stores", degraded}};
}

// Store numbers (1-based, as the command line takes them) of a JSON array → 0-based.
Result<std::vector<int>> StoreNumbers(const json& body, const char* field, int n) {
  std::vector<int> out;
  if (!body.contains(field)) return out;
  const json& list = body[field];
  if (!list.is_array())
    return Status::InvalidArgument(std::string(field) + " must be a list of store numbers");
  for (const json& v : list) {
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > n)
      return Status::InvalidArgument(std::string(field) + ": stores are numbered 1 to " +
                                     std::to_string(n));
    out.push_back(v.get<int>() - 1);
  }
  return out;
}

std::string RandomId() {
  static const char* hex = "0123456789abcdef";
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j, v >>= 4) id += hex[v & 15];
  }
  return id;
}

bool MayRead(Role r) {
  return r != Role::kClerk;
}
bool MayChange(Role r) {
  return r == Role::kOperator || r == Role::kAdmin;
}

// A job's progress: what is done and, where the work knows it (restores and drills; a
// backup does not count its files beforehand), the totals and a percentage.
json ProgressJson(const Progress& progress) {
  const Progress::Counts c = progress.counts();
  json p = {{"items", c.items},
            {"bytes", c.bytes},
            {"total_items", nullptr},
            {"total_bytes", nullptr},
            {"percent", nullptr}};
  if (c.totals_known) {
    p["total_items"] = c.total_items;
    p["total_bytes"] = c.total_bytes;
    // By bytes where there are any, else by files; never past 100 (a total set after the
    // counting began).
    const uint64_t done = c.total_bytes > 0 ? c.bytes : c.items;
    const uint64_t total = c.total_bytes > 0 ? c.total_bytes : c.total_items;
    p["percent"] = total == 0 ? 100 : std::min<uint64_t>(100, done * 100 / total);
  }
  return p;
}

// A path inside a snapshot as the API takes it: absolute, normalized, no trailing '/'
// (except "/" itself). InvalidArgument naming `what` otherwise.
Result<std::string> SnapshotPath(const std::string& text, const std::string& what) {
  if (text.empty() || text[0] != '/')
    return Status::InvalidArgument(what +
                                   " must be an absolute path in the snapshot, such as "
                                   "/srv/data/公文: got '" +
                                   text + "'");
  if (text.find('\0') != std::string::npos)
    return Status::InvalidArgument(what + " must not contain NUL");
  std::string p = fs::path(text).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// The node at `path` ("/" is the snapshot's root, a directory), reading only the trees on
// the way. NotFound naming the path when the snapshot has nothing there.
Result<vault::Node> NodeAt(vault::Repository& repo, const vault::Snapshot& snap,
                           const std::string& path) {
  vault::Node node;
  node.name = "/";
  node.type = vault::NodeType::kDir;
  node.subtree = snap.tree;
  std::string walked;
  for (const auto& part : fs::path(path)) {
    const std::string name = part.string();
    if (name == "/" || name.empty()) continue;
    if (node.type != vault::NodeType::kDir || !node.subtree)
      return Status::NotFound("no '" + path + "' in snapshot " + snap.id.substr(0, 8) + ": " +
                              (walked.empty() ? "/" : walked) + " is a " +
                              vault::NodeTypeName(node.type) + ", not a directory");
    TESSERA_ASSIGN_OR_RETURN(vault::Tree tree, repo.ReadTree(*node.subtree));
    auto it = std::find_if(tree.nodes.begin(), tree.nodes.end(),
                           [&](const vault::Node& n) { return n.name == name; });
    if (it == tree.nodes.end())
      return Status::NotFound("no '" + path + "' in snapshot " + snap.id.substr(0, 8));
    node = std::move(*it);
    walked += "/" + name;
  }
  return node;
}

json EntryJson(const std::string& dir, const vault::Node& n) {
  json e = {{"name", n.name},
            {"path", dir == "/" ? "/" + n.name : dir + "/" + n.name},
            {"type", vault::NodeTypeName(n.type)},
            {"mtime", FormatRfc3339(n.mtime_ns)}};
  e["size"] = n.type == vault::NodeType::kFile ? json(n.size) : json(nullptr);
  if (n.type == vault::NodeType::kSymlink) e["link_target"] = n.link_target;
  return e;
}

// Whether `dir` is missing or an empty directory; FailedPrecondition / InvalidArgument
// saying why a restore may not go there otherwise.
Status UsableTarget(const std::string& target) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(target, ec);
  if (ec && ec != std::errc::no_such_file_or_directory)
    return Status::FailedPrecondition("cannot look at target " + target + ": " + ec.message());
  if (!fs::exists(st)) return Status::Ok();  // made by the restore
  if (fs::is_symlink(st))
    return Status::InvalidArgument("target " + target +
                                   " is a symbolic link: name the directory itself");
  if (!fs::is_directory(st))
    return Status::InvalidArgument("target " + target + " is a " +
                                   (fs::is_regular_file(st) ? "file" : "special file") +
                                   ", not a directory: name a new or empty directory");
  fs::directory_iterator it(target, ec);
  if (ec)
    return Status::FailedPrecondition("cannot read target directory " + target + ": " +
                                      ec.message());
  if (it != fs::directory_iterator())
    return Status::FailedPrecondition(
        "target directory " + target +
        " is not empty: the console restores only into a new or empty directory, so that "
        "nothing there is overwritten (`tessera vault restore` on the server writes over "
        "what is there)");
  return Status::Ok();
}

}  // namespace

struct Job {
  std::string id, kind, vault, account;
  int64_t started_ns = 0;
  Progress progress{"", false};
  std::thread thread;
  // Guarded by VaultApi::Impl::mu:
  bool running = true, ok = false;
  int64_t finished_ns = 0;
  json result;
  std::string error;
};

struct VaultApi::Impl {
  fs::path home;
  VaultApiOptions options;
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Job>> jobs;  // guarded by mu
  std::deque<std::string> order;                     // job ids, oldest first; guarded by mu
  std::map<std::string, std::string> busy;           // vault → running job; guarded by mu

  Impl(fs::path h, VaultApiOptions o) : home(std::move(h)), options(std::move(o)) {}

  vault::VaultContext Context(const std::string& name) const {
    vault::VaultContext ctx;
    ctx.home = home.string();
    ctx.name = name;
    ctx.store_options = options.store_options;
    ctx.passphrase = options.passphrase;
    ctx.threads = options.threads;
    return ctx;
  }

  std::vector<std::string> VaultNames() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(home / "vaults", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (IsValidVaultName(name) && fs::exists(Context(name).ConfigPath(), ec))
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // NotFound for a name that is no vault of this home.
  Result<vault::VaultConfig> Config(const std::string& name) const {
    std::error_code ec;
    if (!IsValidVaultName(name) || !fs::exists(Context(name).ConfigPath(), ec))
      return Status::NotFound("no vault named '" + name + "' is set up on this server");
    return vault::LoadLocalConfig(Context(name));
  }

  // Whether the server can use the vault's key file; FailedPrecondition saying what to
  // configure when it cannot.
  Status KeyUsable(const std::string& name, const vault::VaultConfig& config) const {
    const vault::VaultContext ctx = Context(name);
    auto key = vault::ReadKeyFile(ctx.KeyPath(), config.vault_id, ctx.passphrase);
    if (key.ok()) return Status::Ok();
    if (key.status().code() == StatusCode::kPermissionDenied && !ctx.passphrase)
      return Status::FailedPrecondition(
          "vault " + name + " cannot be opened: its key file " + ctx.KeyPath() +
          " is protected by a passphrase and the console cannot ask for one; start `tessera "
          "serve` with TESSERA_PASSPHRASE set in its environment (" +
          key.status().message() + ")");
    if (key.status().code() == StatusCode::kPermissionDenied)
      return Status::FailedPrecondition(
          "vault " + name + " cannot be opened with the server's key settings: " +
          key.status().message() + " (check TESSERA_PASSPHRASE in the server's environment)");
    return Status::FailedPrecondition("vault " + name +
                                      " cannot be opened: " + key.status().message() +
                                      " (restore the key file, or run `tessera vault connect`)");
  }

  Result<std::unique_ptr<vault::Repository>> Open(const std::string& name) {
    TESSERA_ASSIGN_OR_RETURN(vault::VaultConfig config, Config(name));
    auto repo = vault::OpenVault(Context(name));
    if (repo.ok()) return repo;
    // Say what to configure when it is the key (a passphrase the server was not given).
    TESSERA_RETURN_IF_ERROR(KeyUsable(name, config));
    return repo.status();
  }

  json StoresJson(const vault::VaultConfig& config) const {
    store::StoreOptions probe = options.store_options;
    probe.retries = 0;
    probe.timeout_seconds = std::min(probe.timeout_seconds, 5.0);
    json stores = json::array();
    for (int i = 0; i < config.n; ++i) {
      const std::string& url = config.stores[i];
      json s = {{"index", i + 1}, {"location", Location(url)}, {"kind", Kind(url)}, {"ok", false}};
      auto st = store::OpenStore(url, probe);
      Status problem = st.status();
      if (st.ok()) {
        auto size = (*st)->Stat(vault::kDescriptorName);
        problem = size.status();
        if (problem.code() == StatusCode::kNotFound)
          problem = Status::NotFound("the store does not hold this vault's descriptor");
      }
      if (problem.ok())
        s["ok"] = true;
      else
        s["problem"] = problem.message();
      stores.push_back(s);
    }
    return stores;
  }

  json VaultSummary(const std::string& name, int64_t now) {
    json v = {{"name", name}};
    auto config = Config(name);
    if (!config.ok()) {
      v["problem"] = config.status().message();
      return v;
    }
    v["vault_id"] = config->vault_id;
    v["k"] = config->k;
    v["n"] = config->n;
    v["stores"] = StoresJson(*config);
    v["snapshots"] = nullptr;
    v["newest_snapshot"] = nullptr;
    v["last_drill"] = nullptr;
    v["drills_this_year"] = nullptr;
    {
      std::lock_guard lock(mu);
      auto it = busy.find(name);
      v["job"] = it == busy.end() ? json(nullptr) : json(it->second);
    }
    auto repo = Open(name);
    if (!repo.ok()) {
      v["problem"] = repo.status().message();
      return v;
    }
    auto snapshots = (*repo)->ListSnapshots();
    if (snapshots.ok()) {
      v["snapshots"] = snapshots->size();
      if (!snapshots->empty()) {
        int64_t newest = 0;
        for (const auto& s : *snapshots) newest = std::max(newest, s.time_ns);
        v["newest_snapshot"] = FormatRfc3339(newest);
      }
    } else {
      v["problem"] = snapshots.status().message();
    }
    auto drills = vault::ListDrills(**repo);
    if (drills.ok()) {
      if (!drills->reports.empty()) v["last_drill"] = DrillSummary(drills->reports.back());
      auto y = drills->per_year.find(vault::LocalYear(now * 1000000000));
      v["drills_this_year"] = y == drills->per_year.end() ? 0 : y->second.passed;
    } else if (!v.contains("problem")) {
      v["problem"] = drills.status().message();
    }
    return v;
  }

  json JobJson(const Job& j) {  // mu held
    json out = {{"id", j.id},
                {"kind", j.kind},
                {"vault", j.vault},
                {"account", j.account},
                {"state", j.running ? "running"
                          : j.ok    ? "done"
                                    : "failed"},
                {"started_at", FormatRfc3339(j.started_ns)},
                {"progress", ProgressJson(j.progress)}};
    if (!j.running) {
      out["finished_at"] = FormatRfc3339(j.finished_ns);
      if (!j.result.is_null()) out["result"] = j.result;
      if (!j.error.empty()) out["error"] = j.error;
    }
    return out;
  }

  // What a job's work gives back: its result, and the error when it failed.
  struct Outcome {
    bool ok = false;
    json result;
    std::string error;
  };

  // Reserves the vault for a new job, records it (`describe`) and starts `work` on a thread
  // of its own. 409 when the vault is busy; nothing runs when the record cannot be made.
  ApiResponse Start(const ApiCall& call, const std::string& action, const std::string& kind,
                    const std::string& name, const std::string& describe,
                    std::function<Outcome(Job&)> work) {
    auto job = std::make_shared<Job>();
    job->id = RandomId();
    job->kind = kind;
    job->vault = name;
    job->account = call.session.account;
    job->started_ns = NowUnixNanos();
    std::string running;
    {
      std::lock_guard lock(mu);
      auto it = busy.find(name);
      if (it != busy.end()) {
        running = it->second;
      } else {
        busy[name] = job->id;
        jobs[job->id] = job;
        order.push_back(job->id);
      }
    }
    if (!running.empty()) {
      const std::string why = "vault " + name + " is busy with job " + running;
      return server::Refused(
          call, action, name,
          ErrorResponse(409, "failed_precondition",
                        why + "; one job per vault at a time, try again when it has ended"),
          why);
    }
    if (Status st = call.audit(action, name, "started job " + job->id + ": " + describe);
        !st.ok()) {
      std::lock_guard lock(mu);
      busy.erase(name);
      jobs.erase(job->id);
      std::erase(order, job->id);
      return ErrorResponse(st);
    }
    std::vector<std::thread> finished;
    {
      std::lock_guard lock(mu);
      job->thread = std::thread([this, job, action, work = std::move(work)] {
        Outcome o;
        try {
          o = work(*job);
        } catch (const std::exception& e) {
          o.ok = false;
          o.error = std::string("the job failed: ") + e.what();
        }
        // The end is recorded too, under the account that started it.
        if (auto log = guard::AuditLog::Open(home); log.ok())
          (void)(*log)->Append("console:" + job->account, action, job->vault,
                               "job " + job->id + (o.ok ? " done" : " failed: " + o.error));
        std::lock_guard lock(mu);
        job->running = false;
        job->ok = o.ok;
        job->result = std::move(o.result);
        job->error = std::move(o.error);
        job->finished_ns = NowUnixNanos();
        busy.erase(job->vault);
        cv.notify_all();
      });
      // Forget the oldest finished jobs beyond the bound.
      for (auto it = order.begin(); jobs.size() > options.max_jobs && it != order.end();) {
        auto j = jobs.find(*it);
        if (j == jobs.end() || !j->second->running) {
          if (j != jobs.end()) {
            finished.push_back(std::move(j->second->thread));
            jobs.erase(j);
          }
          it = order.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (std::thread& t : finished)
      if (t.joinable()) t.join();
    return JsonResponse(202, {{"job", job->id}});
  }

  // A request refused before any work, recorded first.
  static ApiResponse Refused(const ApiCall& call, const std::string& action,
                             const std::string& name, const Status& why) {
    return server::Refused(call, action, name, ErrorResponse(why), why.message());
  }
  // The request's JSON body: {} when empty, a discarded value when it is not JSON.
  static json BodyOf(const ApiCall& call) {
    return call.request.body.empty()
               ? json::object()
               : json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
  }

  ApiResponse Backup(const ApiCall& call, const std::string& name) {
    const std::string action = "vault.backup";
    auto refuse = [&](const Status& why) { return Refused(call, action, name, why); };
    const json body = BodyOf(call);
    std::vector<std::string> paths;
    if (!body.is_object() || !body.contains("paths") || !body["paths"].is_array() ||
        body["paths"].empty())
      return refuse(Status::InvalidArgument(
          "name what to back up: {\"paths\": [\"/srv/data\"]} (absolute paths on the server)"));
    for (const json& p : body["paths"]) {
      if (!p.is_string() || p.get<std::string>().empty() || p.get<std::string>()[0] != '/')
        return refuse(Status::InvalidArgument("paths must be absolute paths on the server"));
      paths.push_back(p.get<std::string>());
    }
    std::vector<std::string> tags;
    if (body.contains("tags")) {
      if (!body["tags"].is_array())
        return refuse(Status::InvalidArgument("tags must be a list of strings"));
      for (const json& t : body["tags"]) {
        if (!t.is_string()) return refuse(Status::InvalidArgument("tags must be strings"));
        tags.push_back(t.get<std::string>());
      }
    }
    auto config = Config(name);
    if (!config.ok()) return refuse(config.status());
    if (Status st = KeyUsable(name, *config); !st.ok()) return refuse(st);
    std::string describe = "backup of";
    for (const std::string& p : paths) describe += " " + p;
    return Start(call, action, "backup", name, describe, [this, name, paths, tags](Job& job) {
      Outcome o;
      auto repo = vault::OpenVault(Context(name));
      if (!repo.ok()) {
        o.error = repo.status().message();
        return o;
      }
      vault::BackupOptions bo;
      bo.paths = paths;
      bo.tags = tags;
      auto r = vault::Backup(**repo, bo, &job.progress);
      if (!r.ok()) {
        o.error = r.status().message();
        return o;
      }
      o.ok = true;
      o.result = SnapshotJson(r->snapshot);
      o.result["snapshot"] = r->snapshot.id;
      o.result["warnings"] = r->warnings;
      json degraded = json::array();
      for (int i : r->degraded_stores) degraded.push_back(i + 1);
      o.result["degraded_stores"] = degraded;
      return o;
    });
  }

  ApiResponse Drill(const ApiCall& call, const std::string& name) {
    const std::string action = "vault.drill";
    auto refuse = [&](const Status& why) { return Refused(call, action, name, why); };
    const json body = BodyOf(call);
    if (!body.is_object())
      return refuse(Status::InvalidArgument(
          "a drill takes an optional JSON object: {\"snapshot\": \"latest\", \"lose\": [1], "
          "\"stores\": [2, 3, 4]}"));
    auto config = Config(name);
    if (!config.ok()) return refuse(config.status());
    vault::DrillOptions o;
    if (body.contains("snapshot")) {
      if (!body["snapshot"].is_string() || body["snapshot"].get<std::string>().empty())
        return refuse(Status::InvalidArgument("snapshot: an id, a prefix or \"latest\""));
      o.snapshot = body["snapshot"];
    }
    auto lose = StoreNumbers(body, "lose", config->n);
    if (!lose.ok()) return refuse(lose.status());
    auto use = StoreNumbers(body, "stores", config->n);
    if (!use.ok()) return refuse(use.status());
    o.lose = *lose;
    o.use = *use;
    if (Status st = KeyUsable(name, *config); !st.ok()) return refuse(st);
    std::string describe = "restore drill of " + o.snapshot;
    if (!o.lose.empty()) describe += ", stores treated as lost: " + body["lose"].dump();
    if (!o.use.empty()) describe += ", using stores " + body["stores"].dump();
    return Start(call, action, "drill", name, describe, [this, name, o](Job& job) mutable {
      Outcome out;
      o.progress = &job.progress;
      auto r = vault::RunDrill(Context(name), o);
      if (!r.ok()) {
        out.error = r.status().message();
        return out;
      }
      out.ok = r->passed;
      out.result = DrillSummary(*r);
      out.result["drill"] = r->id;
      out.result["recorded_in_vault"] = r->recorded_in_vault;
      out.result["report"] = vault::DrillReportToJson(*r);
      if (!r->passed) out.error = "the drill failed: " + r->reason;
      return out;
    });
  }

  ApiResponse Snapshots(const std::string& name) {
    auto repo = Open(name);
    if (!repo.ok()) return ErrorResponse(repo.status());
    auto snapshots = (*repo)->ListSnapshots();
    if (!snapshots.ok()) return ErrorResponse(snapshots.status());
    json list = json::array();
    for (auto it = snapshots->rbegin(); it != snapshots->rend(); ++it)
      list.push_back(SnapshotJson(*it));
    return JsonResponse(200, {{"vault", name}, {"snapshots", list}});
  }

  ApiResponse Drills(const std::string& name, int64_t now) {
    auto repo = Open(name);
    if (!repo.ok()) return ErrorResponse(repo.status());
    auto h = vault::ListDrills(**repo);
    if (!h.ok()) return ErrorResponse(h.status());
    json drills = json::array();
    for (auto it = h->reports.rbegin(); it != h->reports.rend(); ++it)
      drills.push_back(DrillSummary(*it));
    json per_year = json::array();
    for (const auto& [year, c] : h->per_year)
      per_year.push_back({{"year", year}, {"passed", c.passed}, {"failed", c.failed}});
    const int year = vault::LocalYear(now * 1000000000);
    auto y = h->per_year.find(year);
    return JsonResponse(200, {{"vault", name},
                              {"drills", drills},
                              {"per_year", per_year},
                              {"year", year},
                              {"drills_this_year", y == h->per_year.end() ? 0 : y->second.passed},
                              {"failed_this_year", y == h->per_year.end() ? 0 : y->second.failed},
                              {"unreadable", h->unreadable}});
  }

  // GET /vaults/{name}/snapshots/{id}/files?prefix=/DIR: the entries directly in DIR.
  ApiResponse Files(const ApiCall& call, const std::string& name, const std::string& ref) {
    auto limit = LimitParameter(call.query, 1000, 10000);
    if (!limit.ok()) return ErrorResponse(limit.status());
    auto q = call.query.find("prefix");
    auto prefix =
        SnapshotPath(q == call.query.end() || q->second.empty() ? "/" : q->second, "prefix");
    if (!prefix.ok()) return ErrorResponse(prefix.status());
    auto repo = Open(name);
    if (!repo.ok()) return ErrorResponse(repo.status());
    if (Status st = (*repo)->LoadIndex(vault::Repository::IndexGaps::kSkipUnreadable); !st.ok())
      return ErrorResponse(st);
    auto snap = (*repo)->FindSnapshot(ref);
    if (!snap.ok()) return ErrorResponse(snap.status());
    auto node = NodeAt(**repo, *snap, *prefix);
    if (!node.ok()) return ErrorResponse(node.status());
    if (node->type != vault::NodeType::kDir || !node->subtree)
      return ErrorResponse(
          Status::InvalidArgument("prefix " + *prefix + " is a " + vault::NodeTypeName(node->type) +
                                  " in snapshot " + snap->id.substr(0, 8) + ", not a directory"));
    auto tree = (*repo)->ReadTree(*node->subtree);
    if (!tree.ok()) return ErrorResponse(tree.status());
    json entries = json::array();
    for (const vault::Node& n : tree->nodes) {
      if (entries.size() >= *limit) break;
      entries.push_back(EntryJson(*prefix, n));
    }
    json parent = nullptr;
    if (*prefix != "/") parent = fs::path(*prefix).parent_path().string();
    return JsonResponse(200, {{"vault", name},
                              {"snapshot", snap->id},
                              {"short_id", snap->id.substr(0, 8)},
                              {"prefix", *prefix},
                              {"parent", parent},
                              {"entries", entries},
                              {"total", tree->nodes.size()},
                              {"truncated", entries.size() < tree->nodes.size()}});
  }

  // POST /vaults/{name}/restores {snapshot, target, paths?}: a job restoring the snapshot
  // (or the chosen paths of it) into a new or empty directory of the server, then reading
  // every restored file back against the snapshot's chunk ids.
  ApiResponse RestoreJob(const ApiCall& call, const std::string& name) {
    const std::string action = "vault.restore";
    auto refuse = [&](const Status& why) { return Refused(call, action, name, why); };
    const json body = BodyOf(call);
    if (!body.is_object())
      return refuse(Status::InvalidArgument(
          "a restore takes a JSON object: {\"snapshot\": \"latest\", \"target\": "
          "\"/srv/restore/new\", \"paths\": [\"/srv/data/公文\"]}"));
    if (!body.contains("snapshot") || !body["snapshot"].is_string() ||
        body["snapshot"].get<std::string>().empty())
      return refuse(Status::InvalidArgument("snapshot: an id, a prefix of one or \"latest\""));
    const std::string ref = body["snapshot"];
    if (!body.contains("target") || !body["target"].is_string() ||
        body["target"].get<std::string>().empty())
      return refuse(Status::InvalidArgument(
          "target: the directory on the server to restore into, such as /srv/restore/new"));
    std::string target = body["target"];
    if (target[0] != '/')
      return refuse(Status::InvalidArgument(
          "target must be an absolute directory on the server, such as /srv/restore/new: got '" +
          target + "'"));
    target = fs::path(target).lexically_normal().string();
    while (target.size() > 1 && target.back() == '/') target.pop_back();
    std::vector<std::string> includes;
    if (body.contains("paths")) {
      if (!body["paths"].is_array())
        return refuse(Status::InvalidArgument(
            "paths must be a list of absolute paths in the snapshot (omit it for everything)"));
      for (const json& p : body["paths"]) {
        if (!p.is_string()) return refuse(Status::InvalidArgument("paths must be strings"));
        auto path = SnapshotPath(p.get<std::string>(), "each of paths");
        if (!path.ok()) return refuse(path.status());
        if (*path == "/") {  // the whole snapshot
          includes.clear();
          break;
        }
        if (std::find(includes.begin(), includes.end(), *path) == includes.end())
          includes.push_back(*path);
      }
    }
    auto config = Config(name);
    if (!config.ok()) return refuse(config.status());
    if (Status st = KeyUsable(name, *config); !st.ok()) return refuse(st);
    if (Status st = UsableTarget(target); !st.ok()) return refuse(st);
    // The snapshot and every chosen path must be there before anything is written.
    std::string snapshot_id;
    {
      auto repo = Open(name);
      if (!repo.ok()) return refuse(repo.status());
      if (Status st = (*repo)->LoadIndex(vault::Repository::IndexGaps::kSkipUnreadable); !st.ok())
        return refuse(st);
      auto snap = (*repo)->FindSnapshot(ref);
      if (!snap.ok()) return refuse(snap.status());
      snapshot_id = snap->id;
      for (const std::string& p : includes)
        if (auto node = NodeAt(**repo, *snap, p); !node.ok()) return refuse(node.status());
    }
    std::string describe = "restore of snapshot " + snapshot_id.substr(0, 8);
    if (includes.empty()) {
      describe += " (everything)";
    } else {
      describe += " (";
      for (size_t i = 0; i < includes.size(); ++i) describe += (i ? ", " : "") + includes[i];
      describe += ")";
    }
    describe += " into " + target;
    return Start(
        call, action, "restore", name, describe,
        [this, name, snapshot_id, target, includes](Job& job) {
          Outcome o;
          o.result = {{"snapshot", snapshot_id},
                      {"short_id", snapshot_id.substr(0, 8)},
                      {"target", target},
                      {"paths", includes}};
          auto repo = vault::OpenVault(Context(name));
          if (!repo.ok()) {
            o.error = repo.status().message();
            return o;
          }
          auto snap = (*repo)->FindSnapshot(snapshot_id);
          if (!snap.ok()) {
            o.error = snap.status().message();
            return o;
          }
          vault::RestoreOptions ro;
          ro.target = target;
          ro.includes = includes;
          auto r = vault::Restore(**repo, *snap, ro, &job.progress);
          if (!r.ok()) {
            o.error = r.status().message();
            return o;
          }
          o.result["files"] = r->files;
          o.result["dirs"] = r->dirs;
          o.result["symlinks"] = r->symlinks;
          o.result["bytes"] = r->bytes;
          o.result["seconds"] = r->seconds;
          o.result["warnings"] = r->warnings;
          // Every restored file read back and checked chunk by chunk against the snapshot.
          std::vector<vault::Entry> entries;
          std::set<std::string> seen;
          const std::vector<std::string> roots =
              includes.empty() ? std::vector<std::string>{"/"} : includes;
          json problems = json::array();
          for (const std::string& root : roots) {
            auto listed = vault::ListEntries(**repo, *snap, root);
            if (!listed.ok()) {
              problems.push_back({{"path", root}, {"problem", listed.status().message()}});
              continue;
            }
            for (vault::Entry& e : *listed)
              if (seen.insert(e.path).second) entries.push_back(std::move(e));
          }
          uint64_t files_verified = 0, bytes_verified = 0;
          for (const vault::Entry& e : entries) {
            if (e.node.type != vault::NodeType::kFile) continue;
            const std::string file = (fs::path(target) / e.path.substr(1)).string();
            Status st = vault::VerifyRestoredFile(**repo, file, e.node);
            if (!st.ok()) {
              problems.push_back({{"path", e.path}, {"problem", st.message()}});
              continue;
            }
            files_verified++;
            bytes_verified += e.node.size;
          }
          o.result["files_verified"] = files_verified;
          o.result["bytes_verified"] = bytes_verified;
          o.result["problems"] = problems;
          o.ok = problems.empty();
          if (!o.ok)
            o.error = std::to_string(problems.size()) + " restored entr" +
                      (problems.size() == 1 ? "y does" : "ies do") +
                      " not match the snapshot (first: " + problems[0]["path"].get<std::string>() +
                      ": " + problems[0]["problem"].get<std::string>() + ")";
          return o;
        });
  }

  ApiResponse Route(const ApiCall& call) {
    const std::vector<std::string>& p = call.parts;
    const std::string& method = call.request.method;
    const bool read = method == "GET" || method == "HEAD";
    const Role role = call.session.role;
    if (!read && method != "POST")
      return ErrorResponse(405, "method_not_allowed", "use GET or POST on " + call.path);
    if (!(read ? MayRead(role) : MayChange(role))) {
      std::string action = "vault.read";
      if (!read && p.size() == 3 && p[0] == "vaults")
        action = p[2] == "backups"    ? "vault.backup"
                 : p[2] == "drills"   ? "vault.drill"
                 : p[2] == "restores" ? "vault.restore"
                                      : action;
      const std::string why =
          call.session.account + " (" + std::string(RoleName(role)) + ") may not " +
          (read ? "see" : "change") + " the vaults: that is for " +
          (read ? "auditors, records officers, operators and admins" : "operators and admins");
      if (Status st = call.audit(action, call.path, "denied: " + why); !st.ok())
        return ErrorResponse(st);
      return ErrorResponse(403, "permission_denied", why);
    }
    if (p[0] == "jobs") {
      if (!read || p.size() > 2) return NoSuchResource(call);
      std::lock_guard lock(mu);
      if (p.size() == 1) {
        json list = json::array();
        for (auto it = order.rbegin(); it != order.rend(); ++it)
          if (auto j = jobs.find(*it); j != jobs.end()) list.push_back(JobJson(*j->second));
        return JsonResponse(200, {{"jobs", list}});
      }
      auto j = jobs.find(p[1]);
      if (j == jobs.end())
        return ErrorResponse(404, "not_found",
                             "no job " + p[1] +
                                 " (unknown, or finished long enough ago to be "
                                 "forgotten)");
      return JsonResponse(200, JobJson(*j->second));
    }
    // vaults
    if (p.size() == 1 && read) {
      json list = json::array();
      for (const std::string& name : VaultNames())
        list.push_back(VaultSummary(name, call.request.now));
      return JsonResponse(200, {{"vaults", list}});
    }
    if (p.size() < 2) return ErrorResponse(405, "method_not_allowed", "use GET on " + call.path);
    const std::string& name = p[1];
    if (p.size() == 2 && read) {
      auto config = Config(name);
      if (!config.ok()) return ErrorResponse(config.status());
      return JsonResponse(200, VaultSummary(name, call.request.now));
    }
    if (p.size() == 3 && p[2] == "backups" && !read) return Backup(call, name);
    if (p.size() == 3 && p[2] == "drills" && !read) return Drill(call, name);
    if (p.size() == 3 && p[2] == "restores" && !read) return RestoreJob(call, name);
    if (p.size() == 5 && p[2] == "snapshots" && p[4] == "files" && read) {
      auto config = Config(name);
      if (!config.ok()) return ErrorResponse(config.status());
      return Files(call, name, p[3]);
    }
    if (p.size() == 3 && read && (p[2] == "snapshots" || p[2] == "drills")) {
      auto config = Config(name);
      if (!config.ok()) return ErrorResponse(config.status());
      return p[2] == "snapshots" ? Snapshots(name) : Drills(name, call.request.now);
    }
    return NoSuchResource(call);
  }

  void WaitForJobs() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return busy.empty(); });
  }
};

VaultApi::VaultApi(fs::path home, VaultApiOptions options)
    : impl_(std::make_unique<Impl>(std::move(home), std::move(options))) {}

VaultApi::~VaultApi() {
  // Backups and drills cannot be interrupted half-way without leaving locks and partial
  // packs behind: wait for them.
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, job] : impl_->jobs) threads.push_back(std::move(job->thread));
  }
  for (std::thread& t : threads)
    if (t.joinable()) t.join();
}

bool VaultApi::Handles(const ApiCall& call) {
  return !call.parts.empty() && (call.parts[0] == "vaults" || call.parts[0] == "jobs");
}

ApiResponse VaultApi::Handle(const ApiCall& call) {
  if (!Handles(call)) return ErrorResponse(404, "not_found", "no such resource: " + call.path);
  return impl_->Route(call);
}

void VaultApi::WaitForJobs() {
  impl_->WaitForJobs();
}

}  // namespace tessera::server
