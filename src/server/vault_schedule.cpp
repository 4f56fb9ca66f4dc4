#include "server/vault_schedule.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <set>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "guard/audit_log.hpp"
#include "server/console_vault.hpp"
#include "vault/vault.hpp"

namespace tessera::server {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDay = 86400;
constexpr char kScheduleAccount[] = "排程";

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t y;
  unsigned m, d;
};
Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

json TimeJson(int64_t t) {
  return t == 0 ? json(nullptr) : json(FormatRfc3339(t * 1000000000));
}

Result<int64_t> TimeFrom(const json& j, const std::string& field) {
  if (j.is_null()) return int64_t{0};
  if (!j.is_string()) return Status::InvalidArgument(field + ": an RFC 3339 time");
  TESSERA_ASSIGN_OR_RETURN(int64_t ns, ParseRfc3339(j.get<std::string>()));
  return ns / 1000000000;
}

json LastJson(const std::optional<LastRun>& l) {
  if (!l) return nullptr;
  json j = {{"at", TimeJson(l->at)},
            {"job", l->job.empty() ? json(nullptr) : json(l->job)},
            {"outcome", l->outcome}};
  if (!l->error.empty()) j["error"] = l->error;
  return j;
}

Result<std::optional<LastRun>> LastFrom(const json& j, const std::string& field) {
  if (!j.is_object()) return std::optional<LastRun>();
  LastRun l;
  TESSERA_ASSIGN_OR_RETURN(l.at, TimeFrom(j.value("at", json(nullptr)), field + ".at"));
  l.job = j.value("job", json("")).is_string() ? j.value("job", "") : "";
  l.outcome = j.value("outcome", "unknown");
  l.error = j.value("error", "");
  return std::optional<LastRun>(l);
}

// The lock shared by every writer of schedule files in this process.
std::mutex& FileLock() {
  static std::mutex mu;
  return mu;
}

bool IsVaultName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

int64_t NextBackup(const BackupSchedule& s, int64_t after) {
  if (s.days.empty()) return 0;
  const int64_t local = after + kTaipeiOffset;
  const int64_t today = FloorDiv(local, kDay);
  for (int64_t d = today; d <= today + 8; ++d) {
    const int weekday = static_cast<int>(((d % 7) + 7 + 3) % 7) + 1;  // 1970-01-01: Thursday
    const int64_t at = d * kDay + s.minute * 60;
    if (at > local && std::find(s.days.begin(), s.days.end(), weekday) != s.days.end())
      return at - kTaipeiOffset;
  }
  return 0;
}

int64_t NextDrill(const DrillSchedule& s, int64_t after) {
  const int64_t local = after + kTaipeiOffset;
  const Civil now = CivilFromDays(FloorDiv(local, kDay));
  int64_t y = now.y;
  unsigned m = now.m;
  for (int i = 0; i < 3; ++i) {
    const unsigned d = std::min<unsigned>(static_cast<unsigned>(s.day), DaysInMonth(y, m));
    const int64_t at = DaysFromCivil(y, m, d) * kDay + s.minute * 60;
    if (at > local) return at - kTaipeiOffset;
    if (++m == 13) m = 1, ++y;
  }
  return 0;
}

int64_t BackupDue(const VaultSchedule& s) {
  if (!s.backup) return 0;
  return NextBackup(*s.backup, std::max(s.since, s.last_backup ? s.last_backup->at : 0));
}

int64_t DrillDue(const VaultSchedule& s) {
  if (!s.drill) return 0;
  return NextDrill(*s.drill, std::max(s.since, s.last_drill ? s.last_drill->at : 0));
}

std::vector<int> LostStores(const DrillSchedule& s, int n, int64_t when) {
  std::vector<int> out;
  if (n <= 0) return out;
  const Civil c = CivilFromDays(FloorDiv(when + kTaipeiOffset, kDay));
  const int64_t month = c.y * 12 + c.m - 1;
  const int start = static_cast<int>(month % n);
  for (int i = 0; i < s.lose && i < n; ++i) out.push_back((start + i) % n + 1);
  std::sort(out.begin(), out.end());
  return out;
}

Result<int> ParseTimeOfDay(const json& value, const std::string& field) {
  const auto bad = [&] {
    return Status::InvalidArgument(field +
                                   ": a time of day as HH:MM (00:00 to 23:59, Taiwan "
                                   "time)");
  };
  if (!value.is_string()) return bad();
  const std::string t = value.get<std::string>();
  if (t.size() != 5 || t[2] != ':' || !std::isdigit(static_cast<unsigned char>(t[0])) ||
      !std::isdigit(static_cast<unsigned char>(t[1])) ||
      !std::isdigit(static_cast<unsigned char>(t[3])) ||
      !std::isdigit(static_cast<unsigned char>(t[4])))
    return bad();
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 23 || m > 59) return bad();
  return h * 60 + m;
}

std::string FormatTimeOfDay(int minute) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

Result<BackupSchedule> ParseBackupSchedule(const json& j) {
  if (!j.is_object())
    return Status::InvalidArgument(
        "backup: an object {\"days\": [1, 3, 5], \"time\": \"02:30\", \"paths\": [\"/srv\"]}");
  BackupSchedule s;
  const json days = j.value("days", json(nullptr));
  if (!days.is_array() || days.empty())
    return Status::InvalidArgument(
        "backup.days: at least one day of the week, 1 (Monday) to 7 (Sunday)");
  std::set<int> seen;
  for (const json& d : days) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > 7)
      return Status::InvalidArgument("backup.days: days of the week are 1 (Monday) to 7 (Sunday)");
    seen.insert(d.get<int>());
  }
  s.days.assign(seen.begin(), seen.end());
  TESSERA_ASSIGN_OR_RETURN(s.minute, ParseTimeOfDay(j.value("time", json(nullptr)), "backup.time"));
  const json paths = j.value("paths", json(nullptr));
  if (!paths.is_array() || paths.empty())
    return Status::InvalidArgument("backup.paths: at least one absolute path on the server");
  for (const json& p : paths) {
    if (!p.is_string() || p.get<std::string>().empty() || p.get<std::string>()[0] != '/')
      return Status::InvalidArgument("backup.paths: absolute paths on the server (from /)");
    s.paths.push_back(p.get<std::string>());
  }
  return s;
}

Result<DrillSchedule> ParseDrillSchedule(const json& j) {
  if (!j.is_object())
    return Status::InvalidArgument(
        "drill: an object {\"day\": 1, \"time\": \"03:00\", \"lose\": 1}");
  DrillSchedule s;
  const json day = j.value("day", json(nullptr));
  if (!day.is_number_integer() || day.get<int64_t>() < 1 || day.get<int64_t>() > 31)
    return Status::InvalidArgument(
        "drill.day: a day of the month, 1 to 31 (the last day of shorter months)");
  s.day = day.get<int>();
  TESSERA_ASSIGN_OR_RETURN(s.minute, ParseTimeOfDay(j.value("time", json(nullptr)), "drill.time"));
  const json lose = j.value("lose", json(0));
  if (!lose.is_number_integer() || lose.get<int64_t>() < 0 || lose.get<int64_t>() > 255)
    return Status::InvalidArgument("drill.lose: how many stores to treat as lost, 0 or more");
  s.lose = lose.get<int>();
  return s;
}

json ScheduleToJson(const VaultSchedule& s) {
  json j = {{"backup", nullptr},
            {"drill", nullptr},
            {"since", TimeJson(s.since)},
            {"set_by", s.set_by},
            {"last_backup", LastJson(s.last_backup)},
            {"last_drill", LastJson(s.last_drill)}};
  if (s.backup)
    j["backup"] = {{"days", s.backup->days},
                   {"time", FormatTimeOfDay(s.backup->minute)},
                   {"paths", s.backup->paths}};
  if (s.drill)
    j["drill"] = {
        {"day", s.drill->day}, {"time", FormatTimeOfDay(s.drill->minute)}, {"lose", s.drill->lose}};
  return j;
}

Result<VaultSchedule> ScheduleFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("a schedule is a JSON object");
  VaultSchedule s;
  if (j.contains("backup") && !j["backup"].is_null()) {
    TESSERA_ASSIGN_OR_RETURN(BackupSchedule b, ParseBackupSchedule(j["backup"]));
    s.backup = b;
  }
  if (j.contains("drill") && !j["drill"].is_null()) {
    TESSERA_ASSIGN_OR_RETURN(DrillSchedule d, ParseDrillSchedule(j["drill"]));
    s.drill = d;
  }
  TESSERA_ASSIGN_OR_RETURN(s.since, TimeFrom(j.value("since", json(nullptr)), "since"));
  s.set_by = j.value("set_by", "");
  TESSERA_ASSIGN_OR_RETURN(s.last_backup,
                           LastFrom(j.value("last_backup", json(nullptr)), "last_backup"));
  TESSERA_ASSIGN_OR_RETURN(s.last_drill,
                           LastFrom(j.value("last_drill", json(nullptr)), "last_drill"));
  return s;
}

fs::path SchedulePath(const fs::path& home, const std::string& vault) {
  return home / "vaults" / vault / "schedule.json";
}

Result<std::optional<VaultSchedule>> LoadSchedule(const fs::path& home, const std::string& vault) {
  const fs::path path = SchedulePath(home, vault);
  auto text = ReadTextFile(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<VaultSchedule>();
    return text.status();
  }
  const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto s = ScheduleFromJson(j);
  if (!s.ok())
    return Status::Corruption("schedule file " + path.string() +
                              " cannot be read: " + s.status().message());
  return std::optional<VaultSchedule>(std::move(*s));
}

Status UpdateSchedule(const fs::path& home, const std::string& vault,
                      const std::function<Result<bool>(VaultSchedule&)>& change) {
  std::lock_guard lock(FileLock());
  TESSERA_ASSIGN_OR_RETURN(std::optional<VaultSchedule> loaded, LoadSchedule(home, vault));
  VaultSchedule s = loaded.value_or(VaultSchedule{});
  TESSERA_ASSIGN_OR_RETURN(bool write, change(s));
  if (!write) return Status::Ok();
  return WriteFileAtomic(SchedulePath(home, vault), ScheduleToJson(s).dump(2) + "\n", 0600);
}

// ---- the runner ----

VaultScheduler::VaultScheduler(fs::path home, std::shared_ptr<VaultApi> vaults, Clock clock)
    : home_(std::move(home)), vaults_(std::move(vaults)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return NowUnixSeconds(); };
}

VaultScheduler::~VaultScheduler() {
  Stop();
}

Status VaultScheduler::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    Tick();
    lock.lock();
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
  }
  return Status::Ok();
}

void VaultScheduler::Stop() {
  std::lock_guard lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

void VaultScheduler::Tick() {
  const int64_t now = clock_();
  std::error_code ec;
  for (fs::directory_iterator it(home_ / "vaults", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!IsVaultName(name) || !fs::exists(SchedulePath(home_, name), ec)) continue;
    TickVault(name, now);
  }
}

json VaultScheduler::JobState(const std::string& id) {
  ApiRequest request;
  request.method = "GET";
  request.target = "/api/v1/jobs/" + id;
  request.now = clock_();
  Session session;
  session.account = kScheduleAccount;
  session.role = Role::kOperator;
  ApiCall call{request,
               session,
               request.target,
               {},
               {"jobs", id},
               [](const std::string&, const std::string&, const std::string&) {
                 return Status::Ok();  // reading a job is not recorded
               }};
  ApiResponse r = vaults_->Handle(call);
  if (r.status == 404) return {{"state", "unknown"}};
  return json::parse(r.body, nullptr, false);
}

Result<std::string> VaultScheduler::StartJob(const std::string& vault, const std::string& kind,
                                             const VaultSchedule& s, int64_t when,
                                             const std::string& account,
                                             const std::string& role_name) {
  json body;
  if (kind == "backup") {
    if (!s.backup) return Status::NotFound("vault " + vault + " has no backup schedule");
    body = {{"paths", s.backup->paths}, {"tags", {"排程"}}};
  } else {
    if (!s.drill) return Status::NotFound("vault " + vault + " has no drill schedule");
    vault::VaultContext ctx;
    ctx.home = home_.string();
    ctx.name = vault;
    auto config = vault::LoadLocalConfig(ctx);
    if (!config.ok()) return config.status();
    body = json::object();
    if (s.drill->lose > 0) body["lose"] = LostStores(*s.drill, config->n, when);
  }
  ApiRequest request;
  request.method = "POST";
  request.target = "/api/v1/vaults/" + vault + (kind == "backup" ? "/backups" : "/drills");
  request.body = body.dump();
  request.now = when;
  Session session;
  session.account = account;
  TESSERA_ASSIGN_OR_RETURN(session.role, ParseRole(role_name));
  const fs::path home = home_;
  ApiCall call{request,
               session,
               request.target,
               {},
               {"vaults", vault, kind == "backup" ? "backups" : "drills"},
               [home, account](const std::string& action, const std::string& target,
                               const std::string& outcome) -> Status {
                 TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(home));
                 return log->Append("console:" + account, action, target, outcome);
               }};
  ApiResponse r = vaults_->Handle(call);
  const json answer = json::parse(r.body, nullptr, false);
  if (r.status == 202) return answer.value("job", "");
  std::string message = "the job was not started (HTTP " + std::to_string(r.status) + ")";
  if (answer.is_object() && answer.contains("error"))
    message = answer["error"].value("message", message);
  if (r.status == 409) return Status::FailedPrecondition(message);
  if (r.status == 404) return Status::NotFound(message);
  if (r.status == 400) return Status::InvalidArgument(message);
  return Status::Internal(message);
}

void VaultScheduler::TickVault(const std::string& vault, int64_t now) {
  // Notes the end of a run started earlier (another process's jobs are unknown here).
  auto settle = [&](std::optional<LastRun>& last) {
    if (!last || last->outcome != "running") return false;
    const json state = JobState(last->job);
    const std::string st = state.is_object() ? state.value("state", "unknown") : "unknown";
    if (st == "running") return false;
    if (st == "done") {
      last->outcome = "done";
      last->error.clear();
    } else if (st == "failed") {
      last->outcome = "failed";
      last->error = state.value("error", "the job failed");
    } else {
      last->outcome = "unknown";
      last->error = "the server stopped (or forgot the job) before its end was seen";
    }
    return true;
  };
  Status st = UpdateSchedule(home_, vault, [&](VaultSchedule& s) -> Result<bool> {
    bool changed = settle(s.last_backup);
    changed = settle(s.last_drill) || changed;
    for (const std::string kind : {"backup", "drill"}) {
      std::optional<LastRun>& last = kind == "backup" ? s.last_backup : s.last_drill;
      const int64_t due = kind == "backup" ? BackupDue(s) : DrillDue(s);
      if (due == 0 || due > now || (last && last->outcome == "running")) continue;
      LastRun run;
      run.at = now;
      auto job = StartJob(vault, kind, s, now, kScheduleAccount, "operator");
      if (job.ok()) {
        run.job = *job;
        run.outcome = "running";
      } else {
        run.outcome = "not_started";
        run.error = job.status().message();
        spdlog::warn("vault schedule: the scheduled {} of vault {} was not started: {}", kind,
                     vault, run.error);
      }
      last = run;
      changed = true;
    }
    return changed;
  });
  if (!st.ok()) spdlog::warn("vault schedule of vault {}: {}", vault, st.ToString());
}

Result<std::string> VaultScheduler::RunNow(const std::string& vault, const std::string& kind,
                                           const std::string& account,
                                           const std::string& role_name) {
  if (kind != "backup" && kind != "drill")
    return Status::InvalidArgument("kind: \"backup\" or \"drill\"");
  std::string id;
  TESSERA_RETURN_IF_ERROR(UpdateSchedule(home_, vault, [&](VaultSchedule& s) -> Result<bool> {
    const int64_t now = clock_();
    TESSERA_ASSIGN_OR_RETURN(id, StartJob(vault, kind, s, now, account, role_name));
    LastRun run;
    run.at = now;
    run.job = id;
    run.outcome = "running";
    (kind == "backup" ? s.last_backup : s.last_drill) = run;
    return true;
  }));
  return id;
}

}  // namespace tessera::server
