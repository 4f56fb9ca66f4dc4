// Setting up vaults and schedules through ConsoleApi::Handle (server/console_vault_setup.hpp)
// with signed-in sessions: the store check, a new vault made as `tessera vault init` makes
// it (then usable by the vault API), its refusals naming the field, 409s, passphrase-
// protected keys, S3 secrets never echoed or logged, schedules read, set and validated, the
// scheduled backup run now as a job, the roles and the audit log.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "audit_records.hpp"
#include "base/clock.hpp"
#include "console_session.hpp"
#include "guard/audit_log.hpp"
#include "server/console_api.hpp"
#include "server/console_vault.hpp"
#include "server/vault_schedule.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"
#include "vault/keyring.hpp"
#include "vault/vault.hpp"

namespace tessera::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kPassword[] = "correct horse battery 馬";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

class ConsoleVaultSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("TESSERA_PASSPHRASE");
    now_ = NowUnixSeconds();
    home_ = dir_.path() / "home";
    fs::create_directories(home_);
    SignInPolicy policy;
    policy.scrypt_log2_n = 10;
    auto accounts = AccountStore::Open(home_, policy);
    ASSERT_OK(accounts);
    accounts_ = std::move(*accounts);
    for (auto [name, role] : {std::pair{"admin", Role::kAdmin}, std::pair{"li", Role::kAuditor},
                              std::pair{"op", Role::kOperator}, std::pair{"wang", Role::kClerk}}) {
      Account a;
      a.name = name;
      a.display_name = std::string(name) + " 先生";
      a.role = role;
      if (role == Role::kClerk) a.agency = "A15060000H";
      ASSERT_OK(accounts_->Add(a, kPassword));
    }
    data_ = dir_.path() / "資料";
    fs::create_directories(data_);
    std::ofstream(data_ / "公文.txt") << "本局公文\n";
    vaults_ = std::make_shared<VaultApi>(home_);
    scheduler_ = std::make_shared<VaultScheduler>(home_, vaults_);
    ConsoleApiOptions o;
    o.vaults = vaults_;
    o.schedules = scheduler_;
    api_ = std::make_unique<ConsoleApi>(home_, *accounts_, o);
  }

  ApiResponse Call(const std::string& method, const std::string& target, const std::string& body,
                   const SignedIn& s) {
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
        Call("POST", "/api/v1/session", json{{"name", name}, {"password", kPassword}}.dump(), {});
    EXPECT_EQ(r.status, 200) << r.body;
    return SessionOf(r);
  }

  json Send(const SignedIn& s, const std::string& method, const std::string& target,
            const json& body, int want) {
    ApiResponse r = Call(method, target, body.is_null() ? "" : body.dump(), s);
    EXPECT_EQ(r.status, want) << method << " " << target << ": " << r.body;
    last_body_ = r.body;
    last_headers_ = r.headers;
    return json::parse(r.body, nullptr, false);
  }

  fs::path Store(int i) const { return dir_.path() / ("雲端" + std::to_string(i)); }
  json FileStore(int i) const { return {{"kind", "file"}, {"path", Store(i).string()}}; }
  json NewVault(const std::string& name, int k, int n, int first = 1) const {
    json stores = json::array();
    for (int i = first; i < first + n; ++i) stores.push_back(FileStore(i));
    return {{"name", name}, {"k", k}, {"stores", stores}};
  }

  std::vector<guard::AuditRecord> AuditRecords() { return ReadAuditLog(home_); }
  size_t CountAudit(const std::string& actor, const std::string& action,
                    const std::string& outcome_part) {
    return tessera::CountAudit(home_, actor, action, outcome_part);
  }

  TempDir dir_{"tessera-console-vault-setup"};
  fs::path home_, data_;
  int64_t now_ = 0;
  std::unique_ptr<AccountStore> accounts_;
  std::shared_ptr<VaultApi> vaults_;
  std::shared_ptr<VaultScheduler> scheduler_;
  std::unique_ptr<ConsoleApi> api_;
  std::string last_body_;
  std::vector<std::pair<std::string, std::string>> last_headers_;
};

TEST_F(ConsoleVaultSetupTest, AnOperatorMakesAVaultTheVaultApiThenUses) {
  const SignedIn op = SignIn("op");
  json made = Send(op, "POST", "/api/v1/vaults", NewVault("gongwen", 2, 3), 201);
  EXPECT_EQ(made["name"], "gongwen");
  EXPECT_EQ(made["k"], 2);
  EXPECT_EQ(made["n"], 3);
  EXPECT_EQ(made["key_protected"], false);
  EXPECT_EQ(made["server_can_open"], true);
  EXPECT_EQ(made["stores"][1], "file://" + Store(2).string());
  bool location = false;
  for (const auto& [h, v] : last_headers_)
    location |= h == "Location" && v == "/api/v1/vaults/gongwen";
  EXPECT_TRUE(location);
  // As `tessera vault init` makes it: the local configuration and key, a descriptor in
  // each store.
  vault::VaultContext ctx;
  ctx.home = home_.string();
  ctx.name = "gongwen";
  auto config = vault::LoadLocalConfig(ctx);
  ASSERT_OK(config);
  EXPECT_EQ(config->k, 2);
  EXPECT_EQ(config->stores.size(), 3u);
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(fs::exists(Store(i) / vault::kDescriptorName));
  // The vault API lists it with its three stores healthy and backs it up.
  json v = Send(op, "GET", "/api/v1/vaults/gongwen", nullptr, 200);
  EXPECT_EQ(v["k"], 2);
  for (const json& s : v["stores"]) EXPECT_EQ(s["ok"], true) << s.dump();
  json job = Send(op, "POST", "/api/v1/vaults/gongwen/backups", {{"paths", {data_.string()}}}, 202);
  vaults_->WaitForJobs();
  json snaps = Send(op, "GET", "/api/v1/vaults/gongwen/snapshots", nullptr, 200);
  EXPECT_EQ(snaps["snapshots"].size(), 1u);
  EXPECT_EQ(CountAudit("console:op", "vault.init", "creating a 2-of-3 vault over"), 1u);

  // The same name again: 409, nothing touched. Stores that hold a vault: 409.
  Send(op, "POST", "/api/v1/vaults", NewVault("gongwen", 2, 3, 4), 409);
  EXPECT_FALSE(fs::exists(Store(4)));
  json taken = Send(op, "POST", "/api/v1/vaults", NewVault("other", 2, 3), 409);
  EXPECT_NE(taken["error"]["message"].get<std::string>().find("already holds a vault"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(home_ / "vaults" / "other" / "vault.json"));
  EXPECT_EQ(CountAudit("console:op", "vault.init", "refused: a vault named 'gongwen'"), 1u);
}

TEST_F(ConsoleVaultSetupTest, RefusalsNameTheField) {
  const SignedIn op = SignIn("op");
  auto field = [&](const json& body) {
    json e = Send(op, "POST", "/api/v1/vaults", body, 400);
    return e["error"].value("field", "") + " | " + e["error"].value("message", "");
  };
  EXPECT_EQ(field(NewVault("ok", 4, 3)).rfind("k | k: ", 0), 0u) << field(NewVault("ok", 4, 3));
  EXPECT_EQ(field(NewVault("ok", 0, 3)).rfind("k | ", 0), 0u);
  EXPECT_EQ(field(NewVault("ok", 1, 1)).rfind("stores | ", 0), 0u);
  EXPECT_EQ(field(NewVault("../etc", 2, 3)).rfind("name | ", 0), 0u);
  json body = NewVault("ok", 2, 3);
  body["stores"][1]["path"] = "relative/dir";
  EXPECT_EQ(field(body).rfind("stores[1].path | ", 0), 0u);
  body = NewVault("ok", 2, 3);
  body["stores"][2] = {{"kind", "ftp"}};
  EXPECT_EQ(field(body).rfind("stores[2].kind | ", 0), 0u);
  body = NewVault("ok", 2, 3);
  body["passphrase"] = "short";
  EXPECT_EQ(field(body).rfind("passphrase | ", 0), 0u);
  // Nothing was made, every refusal recorded.
  EXPECT_FALSE(fs::exists(home_ / "vaults" / "ok"));
  for (int i = 1; i <= 3; ++i) EXPECT_FALSE(fs::exists(Store(i)));
  EXPECT_EQ(CountAudit("console:op", "vault.init", "refused: "), 7u);
}

TEST_F(ConsoleVaultSetupTest, AKeyProtectedByAPassphraseNeedsItOnTheServer) {
  const SignedIn op = SignIn("op");
  json body = NewVault("sealed", 2, 2);
  body["passphrase"] = "長城 長城 long enough";
  json made = Send(op, "POST", "/api/v1/vaults", body, 201);
  EXPECT_EQ(made["key_protected"], true);
  EXPECT_EQ(made["server_can_open"], false);
  vault::VaultContext ctx;
  ctx.home = home_.string();
  ctx.name = "sealed";
  auto config = vault::LoadLocalConfig(ctx);
  ASSERT_OK(config);
  EXPECT_FALSE(vault::ReadKeyFile(ctx.KeyPath(), config->vault_id, std::nullopt).ok());
  EXPECT_OK(vault::ReadKeyFile(ctx.KeyPath(), config->vault_id, "長城 長城 long enough"));
  // The passphrase is in no record.
  for (const auto& r : AuditRecords())
    EXPECT_EQ(r.outcome.find("長城"), std::string::npos) << r.outcome;
}

TEST_F(ConsoleVaultSetupTest, TheStoreCheckSaysWhatIsThere) {
  const SignedIn op = SignIn("op");
  // Not there yet: made with the vault.
  json c = Send(op, "POST", "/api/v1/vault-stores/check", FileStore(1), 200);
  EXPECT_EQ(c["ok"], true);
  EXPECT_EQ(c["exists"], false);
  EXPECT_EQ(c["writable"], true);
  // There and empty; there with other files.
  fs::create_directories(Store(1));
  c = Send(op, "POST", "/api/v1/vault-stores/check", FileStore(1), 200);
  EXPECT_EQ(c["ok"], true);
  EXPECT_EQ(c["exists"], true);
  EXPECT_EQ(c["writable"], true);
  EXPECT_EQ(c["empty"], true);
  std::ofstream(Store(1) / "舊檔.txt") << "x";
  c = Send(op, "POST", "/api/v1/vault-stores/check", FileStore(1), 200);
  EXPECT_EQ(c["empty"], false);
  EXPECT_EQ(c["objects"], 1);
  EXPECT_EQ(c["ok"], true);
  EXPECT_EQ(fs::directory_iterator(Store(1)) != fs::directory_iterator(), true);
  size_t files = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(Store(1))) ++files;
  EXPECT_EQ(files, 1u) << "the probe was removed";
  // Holding a vault: not usable.
  Send(op, "POST", "/api/v1/vaults", NewVault("main", 2, 2, 2), 201);
  c = Send(op, "POST", "/api/v1/vault-stores/check", FileStore(2), 200);
  EXPECT_EQ(c["holds_vault"], true);
  EXPECT_EQ(c["ok"], false);
  EXPECT_NE(c.value("problem", "").find("already holds a vault"), std::string::npos);
  // A bad path: 400 naming it.
  json e = Send(op, "POST", "/api/v1/vault-stores/check", {{"kind", "file"}, {"path", "x"}}, 400);
  EXPECT_EQ(e["error"]["field"], "store.path");
}

TEST_F(ConsoleVaultSetupTest, AnS3SecretIsNeverEchoedNorLogged) {
  const SignedIn op = SignIn("op");
  const json s3 = {{"kind", "s3"},
                   {"endpoint", "http://127.0.0.1:1"},
                   {"bucket", "gongwen-backup"},
                   {"prefix", "台北"},
                   {"region", "ap-east-1"},
                   {"access_key", "AKIAEXAMPLE"},
                   {"secret_key", kSecret}};
  json c = Send(op, "POST", "/api/v1/vault-stores/check", s3, 200);
  EXPECT_EQ(c["ok"], false);
  EXPECT_EQ(c["reachable"], false);
  EXPECT_FALSE(c.value("problem", "").empty());
  EXPECT_EQ(c["location"], "s3://gongwen-backup/台北");
  EXPECT_EQ(last_body_.find(kSecret), std::string::npos);
  // A vault over it cannot be made (unreachable): the answer and the log hold no secret.
  json body = NewVault("cloud", 2, 2);
  body["stores"][1] = s3;
  ApiResponse r = Call("POST", "/api/v1/vaults", body.dump(), op);
  EXPECT_GE(r.status, 400);
  EXPECT_EQ(r.body.find(kSecret), std::string::npos);
  // One secret without its key id: 400 naming the missing one.
  json half = s3;
  half.erase("access_key");
  json e = Send(op, "POST", "/api/v1/vault-stores/check", half, 400);
  EXPECT_EQ(e["error"]["field"], "store.access_key");
  EXPECT_EQ(last_body_.find(kSecret), std::string::npos);
  for (const auto& rec : AuditRecords()) {
    EXPECT_EQ(rec.outcome.find(kSecret), std::string::npos) << rec.outcome;
    EXPECT_EQ(rec.target.find(kSecret), std::string::npos) << rec.target;
  }
  EXPECT_GE(CountAudit("console:op", "vault.store-check", "checking"), 1u);
}

TEST_F(ConsoleVaultSetupTest, SchedulesAreReadSetValidatedAndRunNow) {
  const SignedIn op = SignIn("op");
  const SignedIn li = SignIn("li");
  const SignedIn wang = SignIn("wang");
  Send(op, "POST", "/api/v1/vaults", NewVault("main", 2, 3), 201);
  json s = Send(li, "GET", "/api/v1/vaults/main/schedule", nullptr, 200);
  EXPECT_TRUE(s["backup"].is_null());
  EXPECT_TRUE(s["next_backup"].is_null());
  EXPECT_EQ(s["time_zone"], "Asia/Taipei");
  EXPECT_EQ(s["runner"], true);
  // Set: the next runs are computed.
  const json plan = {
      {"backup", {{"days", {1, 3, 5}}, {"time", "02:30"}, {"paths", {data_.string()}}}},
      {"drill", {{"day", 1}, {"time", "03:00"}, {"lose", 1}}}};
  s = Send(op, "PUT", "/api/v1/vaults/main/schedule", plan, 200);
  EXPECT_EQ(s["backup"]["time"], "02:30");
  EXPECT_EQ(s["set_by"], "op");
  ASSERT_TRUE(s["next_backup"].is_string());
  auto next = ParseRfc3339(s["next_backup"].get<std::string>());
  ASSERT_OK(next);
  EXPECT_GT(*next / 1000000000, now_);
  EXPECT_LE(*next / 1000000000, now_ + 7 * 86400);
  EXPECT_EQ((*next / 1000000000 + kTaipeiOffset) % 86400, 2 * 3600 + 30 * 60);
  EXPECT_TRUE(s["next_drill"].is_string());
  EXPECT_EQ(CountAudit("console:op", "vault.schedule", "set: backup on days 1,3,5 at 02:30"), 1u);
  // Validation names the field; nothing changes.
  json bad = plan;
  bad["drill"]["lose"] = 2;  // 3 stores, k = 2: at most 1 may be lost
  json e = Send(op, "PUT", "/api/v1/vaults/main/schedule", bad, 400);
  EXPECT_EQ(e["error"]["field"], "drill.lose");
  bad = plan;
  bad["backup"]["time"] = "25:00";
  e = Send(op, "PUT", "/api/v1/vaults/main/schedule", bad, 400);
  EXPECT_EQ(e["error"]["field"], "backup.time");
  EXPECT_EQ(Send(li, "GET", "/api/v1/vaults/main/schedule", nullptr, 200)["drill"]["lose"], 1);
  Send(op, "PUT", "/api/v1/vaults/nope/schedule", plan, 404);
  // Roles: an auditor reads but may not set or run; a clerk may not read.
  Send(li, "PUT", "/api/v1/vaults/main/schedule", plan, 403);
  Send(li, "POST", "/api/v1/vaults/main/schedule/run", {{"kind", "backup"}}, 403);
  Send(li, "POST", "/api/v1/vaults", NewVault("x", 2, 3, 5), 403);
  Send(wang, "GET", "/api/v1/vaults/main/schedule", nullptr, 403);
  EXPECT_EQ(CountAudit("console:li", "vault.schedule", "denied: "), 2u);
  EXPECT_EQ(CountAudit("console:li", "vault.init", "denied: "), 1u);
  // Run the scheduled backup now: a job like any other, then a snapshot, and the run is
  // the last one of the schedule.
  json job = Send(op, "POST", "/api/v1/vaults/main/schedule/run", {{"kind", "backup"}}, 202);
  ASSERT_TRUE(job["job"].is_string());
  vaults_->WaitForJobs();
  json j = Send(op, "GET", "/api/v1/jobs/" + job["job"].get<std::string>(), nullptr, 200);
  EXPECT_EQ(j["state"], "done") << j.dump();
  EXPECT_EQ(j["kind"], "backup");
  EXPECT_EQ(Send(op, "GET", "/api/v1/vaults/main/snapshots", nullptr, 200)["snapshots"].size(), 1u);
  scheduler_->Tick();
  s = Send(li, "GET", "/api/v1/vaults/main/schedule", nullptr, 200);
  EXPECT_EQ(s["last_backup"]["job"], job["job"]);
  EXPECT_EQ(s["last_backup"]["outcome"], "done");
  Send(op, "POST", "/api/v1/vaults/main/schedule/run", {{"kind", "weekly"}}, 400);
}

TEST(ConsoleVaultSetupNoRunner, RunNowWithoutARunnerIs503) {
  TempDir dir;
  SignInPolicy policy;
  policy.scrypt_log2_n = 10;
  auto accounts = AccountStore::Open(dir.path(), policy);
  ASSERT_OK(accounts);
  Account a;
  a.name = "op";
  a.role = Role::kOperator;
  ASSERT_OK((*accounts)->Add(a, kPassword));
  ConsoleApi api(dir.path(), **accounts, ConsoleApiOptions{});
  ApiRequest r;
  r.method = "POST";
  r.target = "/api/v1/session";
  r.body = json{{"name", "op"}, {"password", kPassword}}.dump();
  r.now = NowUnixSeconds();
  ApiResponse signed_in = api.Handle(r);
  ASSERT_EQ(signed_in.status, 200);
  for (const auto& [h, v] : signed_in.headers)
    if (h == "Set-Cookie") r.cookie = v.substr(0, v.find(';'));
  r.csrf = json::parse(signed_in.body).value("csrf", "");
  vault::VaultContext ctx;
  ctx.home = dir.path().string();
  ctx.name = "main";
  vault::InitOptions o;
  for (int i = 0; i < 2; ++i)
    o.stores.push_back("file://" + (dir.path() / ("s" + std::to_string(i))).string());
  o.threshold = 2;
  ASSERT_OK(vault::InitVault(ctx, o));
  r.target = "/api/v1/vaults/main/schedule/run";
  r.body = json{{"kind", "backup"}}.dump();
  ApiResponse answer = api.Handle(r);
  EXPECT_EQ(answer.status, 503) << answer.body;
  r.method = "GET";
  r.target = "/api/v1/vaults/main/schedule";
  r.body.clear();
  answer = api.Handle(r);
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(json::parse(answer.body)["runner"], false);
}

}  // namespace
}  // namespace tessera::server
