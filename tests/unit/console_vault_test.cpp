// The console's vault API (server/console_vault.hpp) through ConsoleApi::Handle with signed-in
// sessions: the vault list with its stores, backups and drills as jobs polled to their end,
// snapshots that really hold the files, drills with RTO/RPO counted in the year, the roles,
// one job per vault, unknown vaults, passphrase-protected keys, and the audit log; a
// snapshot's files a directory at a time, restores of chosen files or of everything into
// new directories (bytes compared, refusals), job progress with totals, and the store
// options (S3 profiles) reaching the vaults' stores.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "audit_records.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "console_session.hpp"
#include "guard/audit_log.hpp"
#include "server/console_api.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"
#include "vault/restore.hpp"
#include "vault/vault.hpp"

namespace tessera::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "correct horse battery 馬";

void WriteText(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

class ConsoleVaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("TESSERA_PASSPHRASE");
    now_ = NowUnixSeconds();
    home_ = dir_.path() / "home";
    fs::create_directories(home_);
    SignInPolicy policy;
    policy.scrypt_log2_n = 10;  // quick hashes for tests
    auto accounts = AccountStore::Open(home_, policy);
    ASSERT_OK(accounts);
    accounts_ = std::move(*accounts);
    for (auto [name, role] : {std::pair{"admin", Role::kAdmin}, std::pair{"li", Role::kAuditor},
                              std::pair{"rec", Role::kRecords}, std::pair{"op", Role::kOperator},
                              std::pair{"wang", Role::kClerk}}) {
      Account a;
      a.name = name;
      a.display_name = std::string(name) + " 先生";
      a.role = role;
      if (role == Role::kClerk) a.agency = "A15060000H";
      ASSERT_OK(accounts_->Add(a, kPassword));
    }
    // A real vault, 2-of-3 over local directories, as `tessera vault init` makes it.
    vault::VaultContext ctx;
    ctx.home = home_.string();
    ctx.name = "main";
    ctx.threads = 2;
    vault::InitOptions o;
    for (int i = 0; i < 3; ++i) o.stores.push_back("file://" + Store(i).string());
    o.threshold = 2;
    ASSERT_OK(vault::InitVault(ctx, o));
    data_ = dir_.path() / "data";
    WriteText(data_ / "公文.txt", "本局公文 2026\n");
    WriteText(data_ / "sub" / "b.bin", std::string(100000, 'x') + "end");
    api_ = std::make_unique<ConsoleApi>(home_, *accounts_, ConsoleApiOptions{});
  }

  fs::path Store(int i) const { return dir_.path() / ("cloud" + std::to_string(i + 1)); }

  ApiResponse Call(const std::string& method, const std::string& target,
                   const std::string& body = "", const SignedIn& s = {}) {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.cookie = s.cookie;
    r.csrf = s.csrf;
    r.client_address = "10.0.0.1";
    r.now = now_;
    return api_->Handle(r);
  }

  SignedIn SignIn(const std::string& name) {
    ApiResponse r =
        Call("POST", "/api/v1/session", json{{"name", name}, {"password", kPassword}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return SessionOf(r);
  }

  json Get(const SignedIn& s, const std::string& target, int want = 200) {
    ApiResponse r = Call("GET", target, "", s);
    EXPECT_EQ(r.status, want) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  // Starts a job and returns its id (empty when refused).
  std::string StartJob(const SignedIn& s, const std::string& target, const json& body) {
    ApiResponse r = Call("POST", target, body.is_null() ? "" : body.dump(), s);
    EXPECT_EQ(r.status, 202) << r.body;
    if (r.status != 202) return "";
    return json::parse(r.body).value("job", "");
  }

  // Polls a job until it is no longer running (at most two minutes).
  json WaitForJob(const SignedIn& s, const std::string& id) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    json j;
    do {
      j = Get(s, "/api/v1/jobs/" + id);
      if (j.value("state", "") != "running") return j;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < give_up);
    ADD_FAILURE() << "job " << id << " still running: " << j.dump();
    return j;
  }

  std::string BackUp(const SignedIn& s) {
    const std::string id =
        StartJob(s, "/api/v1/vaults/main/backups", {{"paths", {data_.string()}}});
    json j = WaitForJob(s, id);
    EXPECT_EQ(j["state"], "done") << j.dump();
    return j["result"].value("snapshot", "");
  }

  std::vector<guard::AuditRecord> AuditRecords() { return ReadAuditLog(home_); }

  size_t CountAudit(const std::string& actor, const std::string& action,
                    const std::string& outcome_part) {
    return tessera::CountAudit(home_, actor, action, outcome_part);
  }

  TempDir dir_{"tessera-console-vault"};
  int64_t now_ = 0;
  fs::path home_, data_;
  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<ConsoleApi> api_;
};

TEST_F(ConsoleVaultTest, TheListShowsTheVaultAndItsStores) {
  SignedIn li = SignIn("li");
  json list = Get(li, "/api/v1/vaults");
  ASSERT_EQ(list["vaults"].size(), 1u) << list.dump();
  json v = list["vaults"][0];
  EXPECT_EQ(v["name"], "main");
  EXPECT_EQ(v["k"], 2);
  EXPECT_EQ(v["n"], 3);
  ASSERT_EQ(v["stores"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(v["stores"][i]["location"], "file://" + Store(i).string());
    EXPECT_EQ(v["stores"][i]["kind"], "file");
    EXPECT_EQ(v["stores"][i]["ok"], true) << v.dump();
  }
  EXPECT_EQ(v["snapshots"], 0);
  EXPECT_TRUE(v["newest_snapshot"].is_null());
  EXPECT_TRUE(v["last_drill"].is_null());
  EXPECT_EQ(v["drills_this_year"], 0);
  EXPECT_FALSE(v.contains("problem")) << v.dump();

  // A store that is gone is shown as such; the vault still answers from the others.
  fs::remove_all(Store(2));
  v = Get(li, "/api/v1/vaults")["vaults"][0];
  EXPECT_EQ(v["stores"][0]["ok"], true);
  EXPECT_EQ(v["stores"][2]["ok"], false);
  EXPECT_TRUE(v["stores"][2]["problem"].is_string()) << v.dump();
  EXPECT_EQ(v["snapshots"], 0) << v.dump();
}

TEST_F(ConsoleVaultTest, AnOperatorsBackupIsAJobWhoseSnapshotHoldsTheFiles) {
  SignedIn op = SignIn("op");
  const std::string id = StartJob(op, "/api/v1/vaults/main/backups", {{"paths", {data_.string()}}});
  ASSERT_FALSE(id.empty());
  json job = WaitForJob(op, id);
  EXPECT_EQ(job["id"], id);
  EXPECT_EQ(job["kind"], "backup");
  EXPECT_EQ(job["vault"], "main");
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_TRUE(job["started_at"].is_string());
  EXPECT_TRUE(job["finished_at"].is_string());
  EXPECT_GE(job["progress"]["items"].get<uint64_t>(), 2u) << job.dump();
  EXPECT_GE(job["progress"]["bytes"].get<uint64_t>(), 100003u) << job.dump();
  const std::string snapshot = job["result"]["snapshot"];
  EXPECT_EQ(snapshot.size(), 64u);
  EXPECT_EQ(job["result"]["files"], 2);

  // An auditor sees it in the list and among the snapshots.
  SignedIn li = SignIn("li");
  json v = Get(li, "/api/v1/vaults")["vaults"][0];
  EXPECT_EQ(v["snapshots"], 1);
  EXPECT_TRUE(v["newest_snapshot"].is_string());
  json snaps = Get(li, "/api/v1/vaults/main/snapshots");
  ASSERT_EQ(snaps["snapshots"].size(), 1u) << snaps.dump();
  EXPECT_EQ(snaps["snapshots"][0]["id"], snapshot);
  EXPECT_EQ(snaps["snapshots"][0]["paths"], json::array({data_.string()}));
  EXPECT_EQ(snaps["snapshots"][0]["files"], 2);
  EXPECT_EQ(snaps["snapshots"][0]["bytes"], 100003 + std::string("本局公文 2026\n").size());

  // The files are really in it: restored from the vault, they are what was backed up.
  vault::VaultContext ctx;
  ctx.home = home_.string();
  ctx.name = "main";
  auto repo = vault::OpenVault(ctx);
  ASSERT_OK(repo);
  auto s = (*repo)->FindSnapshot(snapshot);
  ASSERT_OK(s);
  vault::RestoreOptions ro;
  ro.target = (dir_.path() / "restored").string();
  ASSERT_OK(vault::Restore(**repo, *s, ro, nullptr));
  const fs::path back = dir_.path() / "restored" / data_.relative_path();
  auto text = ReadTextFile(back / "公文.txt");
  ASSERT_OK(text);
  EXPECT_EQ(*text, "本局公文 2026\n");
  auto bin = ReadTextFile(back / "sub" / "b.bin");
  ASSERT_OK(bin);
  EXPECT_EQ(*bin, std::string(100000, 'x') + "end");

  // Recorded as the console's account: the start, before it ran, and the end.
  EXPECT_EQ(CountAudit("console:op", "vault.backup", "started job " + id), 1u);
  EXPECT_EQ(CountAudit("console:op", "vault.backup", "job " + id + " done"), 1u);
  // The job list knows it.
  json jobs = Get(li, "/api/v1/jobs");
  ASSERT_EQ(jobs["jobs"].size(), 1u);
  EXPECT_EQ(jobs["jobs"][0]["id"], id);
}

TEST_F(ConsoleVaultTest, ADrillEndsWithRtoAndRpoAndCountsForTheYear) {
  SignedIn admin = SignIn("admin");
  const std::string snapshot = BackUp(admin);
  ASSERT_FALSE(snapshot.empty());
  const std::string id = StartJob(admin, "/api/v1/vaults/main/drills", {{"lose", {1}}});
  ASSERT_FALSE(id.empty());
  json job = WaitForJob(admin, id);
  EXPECT_EQ(job["kind"], "drill");
  ASSERT_EQ(job["state"], "done") << job.dump();
  const json& r = job["result"];
  EXPECT_EQ(r["ok"], true);
  EXPECT_TRUE(r["rto_seconds"].is_number()) << r.dump();
  EXPECT_TRUE(r["rpo_seconds"].is_number()) << r.dump();
  EXPECT_GE(r["rpo_seconds"].get<int64_t>(), 0);
  EXPECT_EQ(r["snapshot"], snapshot);
  EXPECT_EQ(r["stores_lost"], json::array({1}));
  EXPECT_EQ(r["stores_used"], json::array({2, 3}));
  EXPECT_EQ(r["recorded_in_vault"], true);

  SignedIn rec = SignIn("rec");
  json v = Get(rec, "/api/v1/vaults")["vaults"][0];
  EXPECT_EQ(v["drills_this_year"], 1);
  ASSERT_TRUE(v["last_drill"].is_object()) << v.dump();
  EXPECT_EQ(v["last_drill"]["ok"], true);
  EXPECT_TRUE(v["last_drill"]["at"].is_string());
  EXPECT_TRUE(v["last_drill"]["rto_seconds"].is_number());
  EXPECT_TRUE(v["last_drill"]["rpo_seconds"].is_number());

  // A second drill counts too.
  json second = WaitForJob(admin, StartJob(admin, "/api/v1/vaults/main/drills", nullptr));
  EXPECT_EQ(second["state"], "done") << second.dump();
  json drills = Get(rec, "/api/v1/vaults/main/drills");
  ASSERT_EQ(drills["drills"].size(), 2u) << drills.dump();
  EXPECT_EQ(drills["drills_this_year"], 2);
  EXPECT_EQ(drills["drills"][1]["id"], r["drill"]);  // newest first
  EXPECT_TRUE(drills["drills"][0]["rto_seconds"].is_number());

  EXPECT_EQ(CountAudit("console:admin", "vault.drill", "started job " + id), 1u);
  EXPECT_EQ(CountAudit("console:admin", "vault.drill", "job " + id + " done"), 1u);
}

TEST_F(ConsoleVaultTest, ClerksSeeNothingAndAuditorsChangeNothing) {
  SignedIn wang = SignIn("wang");
  json e = Get(wang, "/api/v1/vaults", 403);
  EXPECT_EQ(e["error"]["code"], "permission_denied");
  Get(wang, "/api/v1/vaults/main/snapshots", 403);
  Get(wang, "/api/v1/jobs/abc", 403);
  ApiResponse r =
      Call("POST", "/api/v1/vaults/main/backups", json{{"paths", {data_.string()}}}.dump(), wang);
  EXPECT_EQ(r.status, 403) << r.body;

  SignedIn li = SignIn("li");
  r = Call("POST", "/api/v1/vaults/main/backups", json{{"paths", {data_.string()}}}.dump(), li);
  EXPECT_EQ(r.status, 403) << r.body;
  r = Call("POST", "/api/v1/vaults/main/drills", "", li);
  EXPECT_EQ(r.status, 403) << r.body;
  SignedIn rec = SignIn("rec");
  r = Call("POST", "/api/v1/vaults/main/drills", "", rec);
  EXPECT_EQ(r.status, 403) << r.body;

  // Nothing ran, and every refusal is on record.
  EXPECT_EQ(Get(li, "/api/v1/jobs")["jobs"].size(), 0u);
  EXPECT_EQ(Get(li, "/api/v1/vaults/main/snapshots")["snapshots"].size(), 0u);
  EXPECT_EQ(CountAudit("console:wang", "vault.read", "denied"), 3u);
  EXPECT_EQ(CountAudit("console:wang", "vault.backup", "denied"), 1u);
  EXPECT_EQ(CountAudit("console:li", "vault.backup", "denied"), 1u);
  EXPECT_EQ(CountAudit("console:li", "vault.drill", "denied"), 1u);
  EXPECT_EQ(CountAudit("console:rec", "vault.drill", "denied"), 1u);

  // The CSRF token is still required of operators.
  SignedIn op = SignIn("op");
  SignedIn no_csrf{op.cookie, ""};
  r = Call("POST", "/api/v1/vaults/main/backups", json{{"paths", {data_.string()}}}.dump(),
           no_csrf);
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(ConsoleVaultTest, OneJobPerVaultAtATime) {
  // Enough data that the backup is still running when the next request comes.
  std::mt19937_64 rng(42);
  std::string big(32 << 20, '\0');
  for (size_t i = 0; i + 8 <= big.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(big.data() + i, &v, 8);
  }
  WriteText(data_ / "big.bin", big);
  SignedIn op = SignIn("op");
  const std::string id = StartJob(op, "/api/v1/vaults/main/backups", {{"paths", {data_.string()}}});
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Get(op, "/api/v1/vaults")["vaults"][0]["job"], id);
  ApiResponse again =
      Call("POST", "/api/v1/vaults/main/backups", json{{"paths", {data_.string()}}}.dump(), op);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_THAT(again.body, HasSubstr(id));
  ApiResponse drill = Call("POST", "/api/v1/vaults/main/drills", "", op);
  EXPECT_EQ(drill.status, 409) << drill.body;
  EXPECT_EQ(CountAudit("console:op", "vault.backup", "refused: vault main is busy"), 1u);
  EXPECT_EQ(CountAudit("console:op", "vault.drill", "refused: vault main is busy"), 1u);
  EXPECT_EQ(WaitForJob(op, id)["state"], "done");
  // Once it has ended, the vault takes the next job.
  json next = WaitForJob(op, StartJob(op, "/api/v1/vaults/main/drills", nullptr));
  EXPECT_EQ(next["state"], "done") << next.dump();
}

TEST_F(ConsoleVaultTest, StoppingWaitsForARunningJob) {
  SignedIn op = SignIn("op");
  const std::string id = StartJob(op, "/api/v1/vaults/main/backups", {{"paths", {data_.string()}}});
  ASSERT_FALSE(id.empty());
  api_.reset();  // as the server does on SIGTERM
  // The job's thread ended before the object went: its end is on record.
  EXPECT_EQ(CountAudit("console:op", "vault.backup", "job " + id + " done"), 1u);
}

TEST_F(ConsoleVaultTest, UnknownVaultsJobsAndBadRequests) {
  SignedIn op = SignIn("op");
  Get(op, "/api/v1/vaults/nope", 404);
  Get(op, "/api/v1/vaults/nope/snapshots", 404);
  Get(op, "/api/v1/vaults/nope/drills", 404);
  Get(op, "/api/v1/vaults/..%2F..%2Fetc/snapshots", 404);
  Get(op, "/api/v1/jobs/0123456789abcdef", 404);
  ApiResponse r =
      Call("POST", "/api/v1/vaults/nope/backups", json{{"paths", {data_.string()}}}.dump(), op);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(CountAudit("console:op", "vault.backup", "refused"), 1u);
  r = Call("POST", "/api/v1/vaults/main/backups", "{}", op);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/api/v1/vaults/main/backups", json{{"paths", {"relative/path"}}}.dump(), op);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/api/v1/vaults/main/drills", json{{"lose", {7}}}.dump(), op);
  EXPECT_EQ(r.status, 400) << r.body;
  // A path that does not exist fails the job, not the request.
  json failed = WaitForJob(
      op, StartJob(op, "/api/v1/vaults/main/backups", {{"paths", {"/nonexistent/tessera"}}}));
  EXPECT_EQ(failed["state"], "failed");
  EXPECT_TRUE(failed["error"].is_string()) << failed.dump();
  EXPECT_EQ(Get(op, "/api/v1/vaults/main")["name"], "main");
}

TEST_F(ConsoleVaultTest, APassphraseProtectedKeyNeedsTheServersPassphrase) {
  vault::VaultContext ctx;
  ctx.home = home_.string();
  ctx.name = "locked";
  ctx.passphrase = "密碼 long enough";
  vault::InitOptions o;
  for (int i = 0; i < 2; ++i)
    o.stores.push_back("file://" + (dir_.path() / ("locked" + std::to_string(i))).string());
  o.threshold = 1;
  o.protect_with_passphrase = true;
  ASSERT_OK(vault::InitVault(ctx, o));

  SignedIn op = SignIn("op");
  json list = Get(op, "/api/v1/vaults");
  ASSERT_EQ(list["vaults"].size(), 2u);
  json locked = list["vaults"][0];
  EXPECT_EQ(locked["name"], "locked");
  EXPECT_THAT(locked.value("problem", ""), HasSubstr("TESSERA_PASSPHRASE")) << locked.dump();
  EXPECT_EQ(locked["stores"].size(), 2u);
  ApiResponse r =
      Call("POST", "/api/v1/vaults/locked/backups", json{{"paths", {data_.string()}}}.dump(), op);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("TESSERA_PASSPHRASE"));
  Get(op, "/api/v1/vaults/locked/snapshots", 409);

  // With the passphrase in the server's environment, it opens.
  ::setenv("TESSERA_PASSPHRASE", "密碼 long enough", 1);
  api_ = std::make_unique<ConsoleApi>(home_, *accounts_, ConsoleApiOptions{});
  ::unsetenv("TESSERA_PASSPHRASE");
  json job =
      WaitForJob(op, StartJob(op, "/api/v1/vaults/locked/backups", {{"paths", {data_.string()}}}));
  EXPECT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(Get(op, "/api/v1/vaults/locked/snapshots")["snapshots"].size(), 1u);
}

// Percent-encoding for a query value (the paths hold Chinese names and '/').
std::string Q(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string Slurp(const fs::path& p) {
  auto text = ReadTextFile(p);
  EXPECT_OK(text);
  return text.ok() ? *text : std::string();
}

TEST_F(ConsoleVaultTest, ASnapshotsFilesAreListedADirectoryAtATime) {
  WriteText(data_ / "sub" / "說明.txt", "第二份");
  SignedIn op = SignIn("op");
  const std::string snapshot = BackUp(op);
  ASSERT_FALSE(snapshot.empty());
  SignedIn li = SignIn("li");  // an auditor may look
  const std::string base = "/api/v1/vaults/main/snapshots/";
  json top = Get(li, base + "latest/files?prefix=" + Q(data_.string()));
  EXPECT_EQ(top["snapshot"], snapshot);
  EXPECT_EQ(top["prefix"], data_.string());
  EXPECT_EQ(top["parent"], data_.parent_path().string());
  EXPECT_EQ(top["total"], 2);
  EXPECT_EQ(top["truncated"], false);
  ASSERT_EQ(top["entries"].size(), 2u) << top.dump();
  // Name order: "sub" before "公文.txt" (bytes).
  EXPECT_EQ(top["entries"][0]["name"], "sub");
  EXPECT_EQ(top["entries"][0]["type"], "dir");
  EXPECT_TRUE(top["entries"][0]["size"].is_null());
  EXPECT_EQ(top["entries"][0]["path"], (data_ / "sub").string());
  EXPECT_EQ(top["entries"][1]["name"], "公文.txt");
  EXPECT_EQ(top["entries"][1]["type"], "file");
  EXPECT_EQ(top["entries"][1]["size"], std::string("本局公文 2026\n").size());
  EXPECT_TRUE(top["entries"][1]["mtime"].is_string());

  // Into the subdirectory, by a prefix of the id, with a trailing '/'.
  json sub =
      Get(li, base + snapshot.substr(0, 8) + "/files?prefix=" + Q((data_ / "sub").string() + "/"));
  ASSERT_EQ(sub["entries"].size(), 2u) << sub.dump();
  EXPECT_EQ(sub["entries"][0]["name"], "b.bin");
  EXPECT_EQ(sub["entries"][0]["size"], 100003);
  EXPECT_EQ(sub["entries"][1]["name"], "說明.txt");
  // The root by default; the answer bounded by limit.
  json root = Get(li, base + "latest/files");
  EXPECT_EQ(root["prefix"], "/");
  EXPECT_TRUE(root["parent"].is_null());
  ASSERT_EQ(root["entries"].size(), 1u);
  EXPECT_EQ(root["entries"][0]["type"], "dir");
  json one = Get(li, base + "latest/files?limit=1&prefix=" + Q((data_ / "sub").string()));
  EXPECT_EQ(one["entries"].size(), 1u);
  EXPECT_EQ(one["total"], 2);
  EXPECT_EQ(one["truncated"], true);

  // What is not there, or not a directory, or not a path, is said so.
  json e = Get(li, base + "latest/files?prefix=" + Q((data_ / "沒有").string()), 404);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("沒有"));
  e = Get(li, base + "latest/files?prefix=" + Q((data_ / "公文.txt").string()), 400);
  EXPECT_THAT(e["error"]["message"].get<std::string>(), HasSubstr("not a directory"));
  Get(li, base + "latest/files?prefix=relative", 400);
  Get(li, base + "latest/files?limit=0", 400);
  Get(li, base + "ffffffffffff/files", 404);
  Get(li, "/api/v1/vaults/nope/snapshots/latest/files", 404);
  Get(SignIn("wang"), base + "latest/files", 403);
}

TEST_F(ConsoleVaultTest, ARestoreOfChosenFilesWritesThemVerifiedAndNothingElse) {
  WriteText(data_ / "sub" / "其他.txt", "不要還原");
  WriteText(data_ / "另一目錄" / "x.txt", "也不要");
  SignedIn op = SignIn("op");
  const std::string snapshot = BackUp(op);
  ASSERT_FALSE(snapshot.empty());
  const fs::path target = dir_.path() / "還原" / "一";
  const std::string id =
      StartJob(op, "/api/v1/vaults/main/restores",
               {{"snapshot", snapshot},
                {"target", target.string()},
                {"paths", {(data_ / "公文.txt").string(), (data_ / "sub" / "b.bin").string()}}});
  ASSERT_FALSE(id.empty());
  json job = WaitForJob(op, id);
  EXPECT_EQ(job["kind"], "restore");
  ASSERT_EQ(job["state"], "done") << job.dump();
  const json& r = job["result"];
  const uint64_t bytes = 100003 + std::string("本局公文 2026\n").size();
  EXPECT_EQ(r["snapshot"], snapshot);
  EXPECT_EQ(r["target"], target.string());
  EXPECT_EQ(r["files"], 2);
  EXPECT_EQ(r["bytes"], bytes);
  EXPECT_EQ(r["files_verified"], 2);
  EXPECT_EQ(r["bytes_verified"], bytes);
  EXPECT_EQ(r["problems"], json::array());
  // The progress has its totals, and reached them.
  const json& p = job["progress"];
  EXPECT_EQ(p["total_items"], 2) << p.dump();
  EXPECT_EQ(p["total_bytes"], bytes) << p.dump();
  EXPECT_EQ(p["items"], 2) << p.dump();
  EXPECT_EQ(p["bytes"], bytes) << p.dump();
  EXPECT_EQ(p["percent"], 100) << p.dump();

  // The chosen files, byte for byte, where the command line puts them; nothing else.
  const fs::path back = target / data_.relative_path();
  EXPECT_EQ(Slurp(back / "公文.txt"), "本局公文 2026\n");
  EXPECT_EQ(Slurp(back / "sub" / "b.bin"), std::string(100000, 'x') + "end");
  EXPECT_FALSE(fs::exists(back / "sub" / "其他.txt"));
  EXPECT_FALSE(fs::exists(back / "另一目錄"));

  EXPECT_EQ(CountAudit("console:op", "vault.restore", "started job " + id), 1u);
  EXPECT_EQ(CountAudit("console:op", "vault.restore", "into " + target.string()), 1u);
  EXPECT_EQ(CountAudit("console:op", "vault.restore", "job " + id + " done"), 1u);

  // A directory chosen brings everything under it.
  const fs::path target2 = dir_.path() / "還原" / "二";
  json dir_job = WaitForJob(op, StartJob(op, "/api/v1/vaults/main/restores",
                                         {{"snapshot", "latest"},
                                          {"target", target2.string()},
                                          {"paths", {(data_ / "sub").string() + "/"}}}));
  ASSERT_EQ(dir_job["state"], "done") << dir_job.dump();
  EXPECT_EQ(dir_job["result"]["files"], 2);
  const fs::path back2 = target2 / data_.relative_path();
  EXPECT_EQ(Slurp(back2 / "sub" / "其他.txt"), "不要還原");
  EXPECT_EQ(Slurp(back2 / "sub" / "b.bin"), std::string(100000, 'x') + "end");
  EXPECT_FALSE(fs::exists(back2 / "公文.txt"));
}

TEST_F(ConsoleVaultTest, AWholeRestoreAndEveryJobsProgressTotals) {
  WriteText(data_ / "深" / "層" / "檔案.txt", "最深的一份");
  SignedIn admin = SignIn("admin");
  const std::string bid =
      StartJob(admin, "/api/v1/vaults/main/backups", {{"paths", {data_.string()}}});
  json backup = WaitForJob(admin, bid);
  ASSERT_EQ(backup["state"], "done") << backup.dump();
  // A backup does not know its totals beforehand: they are null, not made up.
  EXPECT_TRUE(backup["progress"]["total_items"].is_null()) << backup.dump();
  EXPECT_TRUE(backup["progress"]["percent"].is_null());
  EXPECT_GE(backup["progress"]["items"].get<uint64_t>(), 3u);

  const fs::path target = dir_.path() / "全部";
  json job = WaitForJob(admin, StartJob(admin, "/api/v1/vaults/main/restores",
                                        {{"snapshot", "latest"}, {"target", target.string()}}));
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["result"]["files"], 3);
  EXPECT_EQ(job["result"]["files_verified"], 3);
  EXPECT_EQ(job["result"]["paths"], json::array());
  EXPECT_EQ(job["progress"]["total_items"], 3);
  EXPECT_EQ(job["progress"]["items"], 3);
  // Every file of the source, byte for byte.
  size_t compared = 0;
  for (const auto& e : fs::recursive_directory_iterator(data_)) {
    if (!e.is_regular_file()) continue;
    const fs::path back = target / e.path().relative_path();
    EXPECT_EQ(Slurp(back), Slurp(e.path())) << back;
    ++compared;
  }
  EXPECT_EQ(compared, 3u);

  // A drill restores too: its progress has the totals.
  json drill = WaitForJob(admin, StartJob(admin, "/api/v1/vaults/main/drills", nullptr));
  ASSERT_EQ(drill["state"], "done") << drill.dump();
  EXPECT_EQ(drill["progress"]["total_items"], 3) << drill.dump();
  EXPECT_EQ(drill["progress"]["items"], 3);
  EXPECT_EQ(drill["progress"]["total_bytes"], drill["progress"]["bytes"]);
  EXPECT_EQ(drill["progress"]["percent"], 100);
}

TEST_F(ConsoleVaultTest, RestoresAreRefusedWithReasonsAndOnRecord) {
  SignedIn op = SignIn("op");
  const std::string snapshot = BackUp(op);
  ASSERT_FALSE(snapshot.empty());
  auto post = [&](const json& body, const SignedIn& who) {
    return Call("POST", "/api/v1/vaults/main/restores", body.dump(), who);
  };
  const std::string fresh = (dir_.path() / "new").string();
  // Not the roles that only read.
  for (const char* name : {"li", "rec", "wang"}) {
    ApiResponse r = post({{"snapshot", "latest"}, {"target", fresh}}, SignIn(name));
    EXPECT_EQ(r.status, 403) << name << ": " << r.body;
    EXPECT_EQ(CountAudit(std::string("console:") + name, "vault.restore", "denied"), 1u) << name;
  }
  ApiResponse r = post({{"snapshot", "latest"}, {"target", "restore/here"}}, op);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("absolute"));
  r = post({{"snapshot", "latest"}}, op);
  EXPECT_EQ(r.status, 400) << r.body;
  r = post({{"target", fresh}}, op);
  EXPECT_EQ(r.status, 400) << r.body;
  WriteText(dir_.path() / "a-file", "x");
  r = post({{"snapshot", "latest"}, {"target", (dir_.path() / "a-file").string()}}, op);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_THAT(r.body, HasSubstr("is a file, not a directory"));
  const fs::path full = dir_.path() / "已有資料";
  WriteText(full / "舊.txt", "舊資料");
  r = post({{"snapshot", "latest"}, {"target", full.string()}}, op);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_THAT(r.body, HasSubstr("is not empty"));
  EXPECT_EQ(Slurp(full / "舊.txt"), "舊資料");
  EXPECT_EQ(std::distance(fs::directory_iterator(full), fs::directory_iterator()), 1);
  r = post({{"snapshot", "0000000000"}, {"target", fresh}}, op);
  EXPECT_EQ(r.status, 404) << r.body;
  r = post({{"snapshot", "latest"}, {"target", fresh}, {"paths", {(data_ / "沒有").string()}}}, op);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("沒有"));
  r = post({{"snapshot", "latest"}, {"target", fresh}, {"paths", {"relative"}}}, op);
  EXPECT_EQ(r.status, 400) << r.body;
  r = post({{"snapshot", "latest"}, {"target", fresh}, {"paths", "/x"}}, op);
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/api/v1/vaults/nope/restores",
           json{{"snapshot", "latest"}, {"target", fresh}}.dump(), op);
  EXPECT_EQ(r.status, 404) << r.body;

  // Nothing ran, nothing was made, and every refusal is on record.
  EXPECT_EQ(Get(op, "/api/v1/jobs")["jobs"].size(), 1u);  // the backup
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_EQ(CountAudit("console:op", "vault.restore", "refused"), 10u);
  EXPECT_EQ(CountAudit("console:op", "vault.restore", "is not empty"), 1u);
}

// The store options of `tessera serve` (tessera.toml's [s3] profiles) reach the console's
// vaults: a store named by an S3 profile is opened with it.
TEST_F(ConsoleVaultTest, TheServersStoreOptionsReachTheVaultsStores) {
  const fs::path config = home_ / "vaults" / "main" / "vault.json";
  json c = json::parse(Slurp(config));
  c["stores"][2] = "s3://tessera-test/main?profile=nas";
  std::ofstream(config, std::ios::binary | std::ios::trunc) << c.dump();
  SignedIn li = SignIn("li");
  json store = Get(li, "/api/v1/vaults/main")["stores"][2];
  EXPECT_EQ(store["kind"], "s3");
  EXPECT_EQ(store["ok"], false);
  EXPECT_THAT(store.value("problem", ""), HasSubstr("unknown S3 profile")) << store.dump();

  ConsoleApiOptions options;
  options.vault.store_options.s3_profiles["nas"] = {{"endpoint", "http://127.0.0.1:9"},
                                                    {"access_key", "AKIDEXAMPLE"},
                                                    {"secret_key", "not-a-real-secret"}};
  api_ = std::make_unique<ConsoleApi>(home_, *accounts_, options);
  li = SignIn("li");
  store = Get(li, "/api/v1/vaults/main")["stores"][2];
  EXPECT_EQ(store["ok"], false);  // nothing listens there: the profile's endpoint was tried
  EXPECT_THAT(store.value("problem", ""), Not(HasSubstr("unknown S3 profile"))) << store.dump();
  EXPECT_THAT(store.value("problem", ""), HasSubstr("127.0.0.1:9")) << store.dump();
  EXPECT_THAT(store.dump(), Not(HasSubstr("not-a-real-secret")));
}

}  // namespace
}  // namespace tessera::server
