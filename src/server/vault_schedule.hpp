// Backup and restore-drill schedules of the vaults of one installation, and the runner
// `tessera serve` keeps on a thread of its own (docs/api.md, "Setting up vaults and
// schedules"; docs/vault-operator.md, "Schedules").
//
// A vault's schedule is HOME/vaults/NAME/schedule.json (written atomically, 0600): a
// weekly backup (days of the week, a time of day, the paths) and a monthly drill (a day
// of the month — the month's last day when it is shorter —, a time of day, how many
// stores to treat as lost), with the last run of each (when, the job, its outcome).
// Times of day are Taiwan's (Asia/Taipei: UTC+8 all year, no daylight saving time).
//
// The runner starts each run as a console job through VaultApi (server/console_vault.hpp),
// so that it shows in the console like a backup started by hand, under the account
// "排程" (audit actor "console:排程"). A run is owed at the first scheduled time after the
// later of the last run and the moment the schedule was set; a run missed while the
// server was down is therefore made once, when it starts again, not once per missed time.
// A run is not started while the previous one of the same kind still runs.
//
// Safe to call from several threads at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace tessera::server {

class VaultApi;

// Asia/Taipei's offset from UTC in seconds (no daylight saving time since 1979).
inline constexpr int64_t kTaipeiOffset = 8 * 3600;

struct BackupSchedule {
  std::vector<int> days;           // ISO weekdays, 1 = Monday … 7 = Sunday; sorted, no repeats
  int minute = 0;                  // of the day, Taiwan time: 0 … 1439
  std::vector<std::string> paths;  // absolute paths on the server
};

struct DrillSchedule {
  int day = 1;     // of the month, 1 … 31 (the last day of shorter months)
  int minute = 0;  // of the day, Taiwan time
  int lose = 0;    // how many stores the drill treats as lost (rotating), 0 … n-k
};

struct LastRun {
  int64_t at = 0;       // Unix seconds
  std::string job;      // the console job's id ("" when none was started)
  std::string outcome;  // "running", "done", "failed", "not_started", "unknown"
  std::string error;    // why, when failed / not started / unknown
};

struct VaultSchedule {
  std::optional<BackupSchedule> backup;
  std::optional<DrillSchedule> drill;
  int64_t since = 0;   // when it was set (Unix seconds): no run before is owed
  std::string set_by;  // the account that set it
  std::optional<LastRun> last_backup, last_drill;
};

// The first scheduled time strictly after `after` (Unix seconds).
int64_t NextBackup(const BackupSchedule& s, int64_t after);
int64_t NextDrill(const DrillSchedule& s, int64_t after);
// When the next run is owed: the first scheduled time after the later of `since` and the
// last run; at or before now means it is due (a missed run is owed once). 0 when none.
int64_t BackupDue(const VaultSchedule& s);
int64_t DrillDue(const VaultSchedule& s);
// The stores (1-based) a drill at `when` treats as lost: `lose` of the n, starting at a
// store that moves on by one each month, so every store is left out in turn.
std::vector<int> LostStores(const DrillSchedule& s, int n, int64_t when);

// "02:30" → minutes of the day; InvalidArgument naming `field` otherwise.
Result<int> ParseTimeOfDay(const nlohmann::json& value, const std::string& field);
std::string FormatTimeOfDay(int minute);

// The schedule parts of an API body or a file: {"days": [1, 3, 5], "time": "02:30",
// "paths": ["/srv/data"]} and {"day": 1, "time": "03:00", "lose": 1}. InvalidArgument
// whose message starts with the field's name ("backup.days: …").
Result<BackupSchedule> ParseBackupSchedule(const nlohmann::json& j);
Result<DrillSchedule> ParseDrillSchedule(const nlohmann::json& j);
nlohmann::json ScheduleToJson(const VaultSchedule& s);
Result<VaultSchedule> ScheduleFromJson(const nlohmann::json& j);

std::filesystem::path SchedulePath(const std::filesystem::path& home, const std::string& vault);
// nullopt when the vault has no schedule file.
Result<std::optional<VaultSchedule>> LoadSchedule(const std::filesystem::path& home,
                                                  const std::string& vault);
// Reads, changes and writes back a vault's schedule (an empty one when it has none) under
// a lock shared by every writer in this process. `change` says whether to write; nothing
// is written when it says no or fails.
Status UpdateSchedule(const std::filesystem::path& home, const std::string& vault,
                      const std::function<Result<bool>(VaultSchedule&)>& change);

class VaultScheduler {
 public:
  using Clock = std::function<int64_t()>;  // Unix seconds
  VaultScheduler(std::filesystem::path home, std::shared_ptr<VaultApi> vaults,
                 Clock clock = nullptr);  // null: the system clock
  ~VaultScheduler();                      // stops the runner
  VaultScheduler(const VaultScheduler&) = delete;
  VaultScheduler& operator=(const VaultScheduler&) = delete;

  // Checks every vault's schedule about once a second, starting what is due and noting how
  // the runs it started ended, until Stop(). Always returns OK.
  Status Run();
  void Stop();  // safe from any thread; Run returns within a moment
  // One round of Run: for tests with an injected clock.
  void Tick();

  // Starts the vault's scheduled backup or drill ("backup", "drill") now, as a job of
  // `account`, and records it as the last run. The job's id; NotFound when the vault has
  // no such schedule, FailedPrecondition (409) when the vault is busy.
  Result<std::string> RunNow(const std::string& vault, const std::string& kind,
                             const std::string& account, const std::string& role_name);

 private:
  Result<std::string> StartJob(const std::string& vault, const std::string& kind,
                               const VaultSchedule& s, int64_t when, const std::string& account,
                               const std::string& role_name);
  nlohmann::json JobState(const std::string& id);
  void TickVault(const std::string& vault, int64_t now);

  std::filesystem::path home_;
  std::shared_ptr<VaultApi> vaults_;
  Clock clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
};

}  // namespace tessera::server
