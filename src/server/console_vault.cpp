#include "server/console_vault.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "base/progress.hpp"
#include "guard/audit_log.hpp"
#include "vault/backup.hpp"
#include "vault/drill.hpp"
#include "vault/keyring.hpp"
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
                {"progress", {{"items", j.progress.items()}, {"bytes", j.progress.bytes()}}}};
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
      if (Status st = call.audit(action, name, "refused: " + why); !st.ok())
        return ErrorResponse(st);
      return ErrorResponse(409, "failed_precondition",
                           why + "; one job per vault at a time, try again when it has ended");
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
    if (Status st = call.audit(action, name, "refused: " + why.message()); !st.ok())
      return ErrorResponse(st);
    return ErrorResponse(why);
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
        action = p[2] == "backups" ? "vault.backup" : p[2] == "drills" ? "vault.drill" : action;
      const std::string why =
          call.session.account + " (" + std::string(RoleName(role)) + ") may not " +
          (read ? "see" : "change") + " the vaults: that is for " +
          (read ? "auditors, records officers, operators and admins" : "operators and admins");
      if (Status st = call.audit(action, call.path, "denied: " + why); !st.ok())
        return ErrorResponse(st);
      return ErrorResponse(403, "permission_denied", why);
    }
    if (p[0] == "jobs") {
      if (!read || p.size() > 2)
        return ErrorResponse(404, "not_found", "no such resource: " + method + " " + call.path);
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
    if (p.size() == 3 && read && (p[2] == "snapshots" || p[2] == "drills")) {
      auto config = Config(name);
      if (!config.ok()) return ErrorResponse(config.status());
      return p[2] == "snapshots" ? Snapshots(name) : Drills(name, call.request.now);
    }
    return ErrorResponse(404, "not_found", "no such resource: " + method + " " + call.path);
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
