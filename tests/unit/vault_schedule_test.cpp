// Vault schedules (server/vault_schedule.hpp): the next run across days, months, leap years
// and the Taiwan time zone; missed runs owed once; the lost stores rotating; validation
// naming the field; the file; and the runner with an injected clock and for real, starting
// backups and drills as console jobs that leave a snapshot in the vault.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "base/clock.hpp"
#include "server/console_vault.hpp"
#include "server/vault_schedule.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"
#include "vault/vault.hpp"

namespace tessera::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Unix seconds of a Taiwan wall-clock time.
int64_t Taipei(const std::string& local) {
  auto ns = ParseRfc3339(local);
  EXPECT_TRUE(ns.ok()) << local;
  return *ns / 1000000000 - kTaipeiOffset;
}

std::string Utc(int64_t t) {
  return FormatRfc3339(t * 1000000000);
}

BackupSchedule Weekly(std::vector<int> days, int hour, int minute) {
  BackupSchedule b;
  b.days = std::move(days);
  b.minute = hour * 60 + minute;
  b.paths = {"/srv/公文"};
  return b;
}

TEST(VaultScheduleTest, NextBackupIsTheNextChosenWeekdayInTaiwanTime) {
  // Monday and Wednesday at 02:30 Taiwan time, asked on Saturday 2026-12-05 10:00.
  const BackupSchedule b = Weekly({1, 3}, 2, 30);
  EXPECT_EQ(Utc(NextBackup(b, Taipei("2026-12-05T10:00:00Z"))), "2026-12-06T18:30:00Z");
  // Strictly after: at the very time, the next one (Wednesday).
  EXPECT_EQ(Utc(NextBackup(b, Taipei("2026-12-07T02:30:00Z"))), "2026-12-08T18:30:00Z");
  EXPECT_EQ(Utc(NextBackup(b, Taipei("2026-12-07T02:29:59Z"))), "2026-12-06T18:30:00Z");
  // Wednesday after the time: next Monday, across the end of the year.
  EXPECT_EQ(Utc(NextBackup(b, Taipei("2026-12-30T03:00:00Z"))), "2027-01-03T18:30:00Z");
  // The Taiwan day, not the UTC day: Monday 01:00 in Taipei is Sunday 17:00 UTC, and a
  // Sunday-only schedule at 23:30 Taipei is Sunday 15:30 UTC.
  EXPECT_EQ(Utc(NextBackup(Weekly({1}, 1, 0), Taipei("2026-12-06T12:00:00Z"))),
            "2026-12-06T17:00:00Z");
  EXPECT_EQ(Utc(NextBackup(Weekly({7}, 23, 30), Taipei("2026-12-06T23:31:00Z"))),
            "2026-12-13T15:30:00Z");
  // Every day: the next day when today's time has passed.
  EXPECT_EQ(Utc(NextBackup(Weekly({1, 2, 3, 4, 5, 6, 7}, 0, 0), Taipei("2026-12-31T00:00:00Z"))),
            "2026-12-31T16:00:00Z");
}

TEST(VaultScheduleTest, NextDrillAcrossMonthsYearsAndShortMonths) {
  DrillSchedule d;
  d.day = 31;
  d.minute = 3 * 60;
  // The 31st in a month of 30 days is its last day; February 28 or 29.
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2026-11-01T00:00:00Z"))), "2026-11-29T19:00:00Z");
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2027-02-01T00:00:00Z"))), "2027-02-27T19:00:00Z");
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2028-02-01T00:00:00Z"))), "2028-02-28T19:00:00Z");
  // After the month's run: next month's, across the year.
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2026-12-31T03:00:00Z"))), "2027-01-30T19:00:00Z");
  d.day = 15;
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2026-12-20T00:00:00Z"))), "2027-01-14T19:00:00Z");
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2026-12-15T02:59:00Z"))), "2026-12-14T19:00:00Z");
  // 1st of the month at 00:30 Taipei is the previous UTC day.
  d.day = 1;
  d.minute = 30;
  EXPECT_EQ(Utc(NextDrill(d, Taipei("2026-12-05T00:00:00Z"))), "2026-12-31T16:30:00Z");
}

TEST(VaultScheduleTest, AMissedRunIsOwedOnceAndSettingTheScheduleForgivesThePast) {
  VaultSchedule s;
  s.backup = Weekly({1, 2, 3}, 2, 30);
  s.since = Taipei("2026-11-30T12:00:00Z");  // a Monday, after its time
  // Nothing run yet: Tuesday's run is owed.
  EXPECT_EQ(Utc(BackupDue(s)), Utc(Taipei("2026-12-01T02:30:00Z")));
  // Down from Monday to Thursday: Tuesday's and Wednesday's missed; one run is owed now
  // (its due time is past), and after it ran on Thursday the next is next Monday's.
  s.last_backup = LastRun{Taipei("2026-11-30T02:30:00Z"), "j1", "done", ""};
  s.since = Taipei("2026-11-20T00:00:00Z");
  const int64_t thursday = Taipei("2026-12-03T10:00:00Z");
  EXPECT_LE(BackupDue(s), thursday);
  s.last_backup = LastRun{thursday, "j2", "running", ""};
  EXPECT_EQ(Utc(BackupDue(s)), Utc(Taipei("2026-12-07T02:30:00Z")));
  // A schedule set (or changed) on Thursday owes nothing before: next Monday.
  s.last_backup.reset();
  s.since = thursday;
  EXPECT_EQ(Utc(BackupDue(s)), Utc(Taipei("2026-12-07T02:30:00Z")));
  // No schedule: nothing is due.
  s.backup.reset();
  EXPECT_EQ(BackupDue(s), 0);
  EXPECT_EQ(DrillDue(s), 0);
}

TEST(VaultScheduleTest, LostStoresRotateMonthByMonth) {
  DrillSchedule d;
  d.lose = 1;
  std::set<int> seen;
  for (const char* month :
       {"2026-10-01T03:00:00Z", "2026-11-01T03:00:00Z", "2026-12-01T03:00:00Z"}) {
    const auto lost = LostStores(d, 3, Taipei(month));
    ASSERT_EQ(lost.size(), 1u);
    EXPECT_GE(lost[0], 1);
    EXPECT_LE(lost[0], 3);
    seen.insert(lost[0]);
  }
  EXPECT_EQ(seen.size(), 3u) << "each of the 3 stores is left out in turn";
  d.lose = 2;
  const auto two = LostStores(d, 5, Taipei("2026-12-01T03:00:00Z"));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_NE(two[0], two[1]);
  d.lose = 0;
  EXPECT_TRUE(LostStores(d, 3, Taipei("2026-12-01T03:00:00Z")).empty());
}

TEST(VaultScheduleTest, ValidationNamesTheField) {
  auto backup = [](const json& j) { return ParseBackupSchedule(j).status().message(); };
  const json good = {{"days", {1, 3}}, {"time", "02:30"}, {"paths", {"/srv/公文"}}};
  ASSERT_OK(ParseBackupSchedule(good));
  EXPECT_EQ(ParseBackupSchedule(good)->minute, 150);
  json j = good;
  j["days"] = json::array();
  EXPECT_EQ(backup(j).rfind("backup.days: ", 0), 0u) << backup(j);
  j["days"] = {8};
  EXPECT_EQ(backup(j).rfind("backup.days: ", 0), 0u);
  for (const char* bad : {"24:00", "2:30", "02:60", "0230", "ab:cd"}) {
    j = good;
    j["time"] = bad;
    EXPECT_EQ(backup(j).rfind("backup.time: ", 0), 0u) << bad;
  }
  j = good;
  j["paths"] = {"srv"};
  EXPECT_EQ(backup(j).rfind("backup.paths: ", 0), 0u);
  j["paths"] = json::array();
  EXPECT_EQ(backup(j).rfind("backup.paths: ", 0), 0u);
  auto drill = [](const json& j) { return ParseDrillSchedule(j).status().message(); };
  EXPECT_OK(ParseDrillSchedule({{"day", 31}, {"time", "23:59"}, {"lose", 1}}));
  EXPECT_EQ(drill({{"day", 32}, {"time", "03:00"}}).rfind("drill.day: ", 0), 0u);
  EXPECT_EQ(drill({{"day", 0}, {"time", "03:00"}}).rfind("drill.day: ", 0), 0u);
  EXPECT_EQ(drill({{"day", 1}, {"time", "3:00"}}).rfind("drill.time: ", 0), 0u);
  EXPECT_EQ(drill({{"day", 1}, {"time", "03:00"}, {"lose", -1}}).rfind("drill.lose: ", 0), 0u);
}

TEST(VaultScheduleTest, TheFileKeepsEverythingAndIsPrivate) {
  TempDir dir;
  fs::create_directories(dir.path() / "vaults" / "main");
  ASSERT_OK(UpdateSchedule(dir.path(), "main", [](VaultSchedule& s) -> Result<bool> {
    s.backup = Weekly({2, 4}, 22, 5);
    DrillSchedule d;
    d.day = 28;
    d.minute = 61;
    d.lose = 1;
    s.drill = d;
    s.since = 1764900000;
    s.set_by = "王小明";
    s.last_backup = LastRun{1764900100, "abc", "failed", "磁碟已滿"};
    return true;
  }));
  struct stat sb {};
  ASSERT_EQ(::stat(SchedulePath(dir.path(), "main").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  auto loaded = LoadSchedule(dir.path(), "main");
  ASSERT_OK(loaded);
  ASSERT_TRUE(loaded->has_value());
  const VaultSchedule& s = **loaded;
  ASSERT_TRUE(s.backup && s.drill && s.last_backup);
  EXPECT_EQ(s.backup->days, (std::vector<int>{2, 4}));
  EXPECT_EQ(s.backup->minute, 22 * 60 + 5);
  EXPECT_EQ(s.backup->paths, (std::vector<std::string>{"/srv/公文"}));
  EXPECT_EQ(s.drill->day, 28);
  EXPECT_EQ(s.drill->minute, 61);
  EXPECT_EQ(s.drill->lose, 1);
  EXPECT_EQ(s.since, 1764900000);
  EXPECT_EQ(s.set_by, "王小明");
  EXPECT_EQ(s.last_backup->job, "abc");
  EXPECT_EQ(s.last_backup->outcome, "failed");
  EXPECT_EQ(s.last_backup->error, "磁碟已滿");
  EXPECT_FALSE(s.last_drill);
  // No file: no schedule. A damaged file: an error naming it.
  auto none = LoadSchedule(dir.path(), "other");
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  std::ofstream(SchedulePath(dir.path(), "main")) << "{\"backup\": {\"days\": []}}";
  auto broken = LoadSchedule(dir.path(), "main");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("schedule.json"), std::string::npos);
}

class VaultSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("TESSERA_PASSPHRASE");
    home_ = dir_.path() / "home";
    vault::VaultContext ctx;
    ctx.home = home_.string();
    ctx.name = "main";
    ctx.threads = 2;
    vault::InitOptions o;
    for (int i = 0; i < 3; ++i)
      o.stores.push_back("file://" + (dir_.path() / ("store" + std::to_string(i + 1))).string());
    o.threshold = 2;
    ASSERT_OK(vault::InitVault(ctx, o));
    data_ = dir_.path() / "資料";
    fs::create_directories(data_);
    std::ofstream(data_ / "公文.txt") << "本局公文 115 年\n";
    vaults_ = std::make_shared<VaultApi>(home_);
  }

  size_t Snapshots() {
    vault::VaultContext ctx;
    ctx.home = home_.string();
    ctx.name = "main";
    auto repo = vault::OpenVault(ctx);
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    if (!repo.ok()) return 0;
    auto list = (*repo)->ListSnapshots();
    EXPECT_TRUE(list.ok());
    if (list.ok() && !list->empty()) last_tags_ = list->back().tags;
    return list.ok() ? list->size() : 0;
  }

  void SetSchedule(int64_t since, std::optional<BackupSchedule> b,
                   std::optional<DrillSchedule> d = {}) {
    ASSERT_OK(UpdateSchedule(home_, "main", [&](VaultSchedule& s) -> Result<bool> {
      s.backup = b;
      s.drill = d;
      s.since = since;
      s.set_by = "op";
      return true;
    }));
  }

  VaultSchedule Load() {
    auto s = LoadSchedule(home_, "main");
    EXPECT_TRUE(s.ok() && s->has_value());
    return s.ok() && s->has_value() ? **s : VaultSchedule{};
  }

  TempDir dir_;
  fs::path home_, data_;
  std::shared_ptr<VaultApi> vaults_;
  std::vector<std::string> last_tags_;
};

TEST_F(VaultSchedulerTest, TickStartsWhatIsDueOnceAndNotesHowItEnded) {
  BackupSchedule b = Weekly({1, 2, 3, 4, 5, 6, 7}, 2, 30);
  b.paths = {data_.string()};
  int64_t now = Taipei("2026-12-07T02:00:00Z");
  SetSchedule(now, b);
  VaultScheduler scheduler(home_, vaults_, [&] { return now; });
  scheduler.Tick();  // 02:00: not yet
  EXPECT_FALSE(Load().last_backup);
  now = Taipei("2026-12-07T02:30:00Z");
  scheduler.Tick();
  VaultSchedule s = Load();
  ASSERT_TRUE(s.last_backup);
  EXPECT_EQ(s.last_backup->outcome, "running");
  EXPECT_EQ(s.last_backup->at, now);
  EXPECT_FALSE(s.last_backup->job.empty());
  vaults_->WaitForJobs();
  now += 5;
  scheduler.Tick();
  s = Load();
  EXPECT_EQ(s.last_backup->outcome, "done") << s.last_backup->error;
  EXPECT_EQ(Snapshots(), 1u);
  EXPECT_EQ(last_tags_, (std::vector<std::string>{"排程"}));
  // Nothing more until tomorrow's 02:30.
  EXPECT_EQ(Utc(BackupDue(s)), Utc(Taipei("2026-12-08T02:30:00Z")));
  now = Taipei("2026-12-08T02:29:00Z");
  scheduler.Tick();
  vaults_->WaitForJobs();
  EXPECT_EQ(Snapshots(), 1u);
}

TEST_F(VaultSchedulerTest, RunsMissedWhileDownAreMadeOnceAtStart) {
  BackupSchedule b = Weekly({1, 2, 3, 4, 5, 6, 7}, 1, 0);
  b.paths = {data_.string()};
  // Set a week ago; the server was down since: seven runs missed.
  int64_t now = Taipei("2026-12-07T12:00:00Z");
  SetSchedule(now - 7 * 86400, b);
  VaultScheduler scheduler(home_, vaults_, [&] { return now; });
  scheduler.Tick();
  vaults_->WaitForJobs();
  for (int i = 0; i < 3; ++i) {
    now += 2;
    scheduler.Tick();
    vaults_->WaitForJobs();
  }
  EXPECT_EQ(Snapshots(), 1u) << "one run for all the missed ones";
  EXPECT_EQ(Load().last_backup->outcome, "done");
}

TEST_F(VaultSchedulerTest, AScheduledDrillTreatsStoresAsLostAndAFailureIsRecorded) {
  DrillSchedule d;
  d.day = 7;
  d.minute = 3 * 60;
  d.lose = 1;
  BackupSchedule b = Weekly({1}, 2, 0);
  b.paths = {data_.string()};
  int64_t now = Taipei("2026-12-07T01:00:00Z");  // Monday
  SetSchedule(now, b, d);
  VaultScheduler scheduler(home_, vaults_, [&] { return now; });
  now = Taipei("2026-12-07T02:00:00Z");
  scheduler.Tick();  // the backup
  vaults_->WaitForJobs();
  now = Taipei("2026-12-07T03:00:00Z");
  scheduler.Tick();  // the backup's end noted; the drill started
  vaults_->WaitForJobs();
  now += 1;
  scheduler.Tick();
  VaultSchedule s = Load();
  ASSERT_TRUE(s.last_backup && s.last_drill);
  EXPECT_EQ(s.last_backup->outcome, "done");
  EXPECT_EQ(s.last_drill->outcome, "done") << s.last_drill->error;
  EXPECT_EQ(Utc(DrillDue(s)), Utc(Taipei("2027-01-07T03:00:00Z")));
  // A backup of a path that is gone fails, and the failure is what is recorded.
  fs::remove_all(data_);
  now = Taipei("2026-12-14T02:00:00Z");
  scheduler.Tick();
  vaults_->WaitForJobs();
  now += 1;
  scheduler.Tick();
  s = Load();
  EXPECT_EQ(s.last_backup->outcome, "failed");
  EXPECT_FALSE(s.last_backup->error.empty());
}

TEST_F(VaultSchedulerTest, RunNowStartsTheScheduledBackupAsAJob) {
  BackupSchedule b = Weekly({3}, 4, 0);
  b.paths = {data_.string()};
  SetSchedule(NowUnixSeconds(), b);
  VaultScheduler scheduler(home_, vaults_);
  auto job = scheduler.RunNow("main", "backup", "op", "operator");
  ASSERT_OK(job);
  EXPECT_EQ(Load().last_backup->job, *job);
  vaults_->WaitForJobs();
  EXPECT_EQ(Snapshots(), 1u);
  EXPECT_EQ(scheduler.RunNow("main", "drill", "op", "operator").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(scheduler.RunNow("nope", "backup", "op", "operator").status().code(),
            StatusCode::kNotFound);
}

TEST_F(VaultSchedulerTest, TheRealRunnerMakesASnapshotWhenDueAndStopsPromptly) {
  // A clock some seconds off the real one, so that a scheduled minute comes ~1.5 s after
  // the runner starts.
  const int64_t real = NowUnixSeconds();
  const int64_t target = Taipei("2026-12-09T09:15:00Z");  // a Wednesday
  const int64_t offset = target - real - 2;
  BackupSchedule b = Weekly({3}, 9, 15);
  b.paths = {data_.string()};
  SetSchedule(target - 60, b);
  VaultScheduler scheduler(home_, vaults_, [offset] { return NowUnixSeconds() + offset; });
  std::thread runner([&] { EXPECT_OK(scheduler.Run()); });
  const auto start = std::chrono::steady_clock::now();
  size_t snapshots = 0;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto s = LoadSchedule(home_, "main");
    if (s.ok() && s->has_value() && (*s)->last_backup && (*s)->last_backup->outcome == "done") {
      snapshots = Snapshots();
      break;
    }
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(snapshots, 1u);
  EXPECT_GE(waited, 1.0) << "not before it was due";
  const auto stop = std::chrono::steady_clock::now();
  scheduler.Stop();
  runner.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - stop).count(), 1.5);
}

}  // namespace
}  // namespace tessera::server
