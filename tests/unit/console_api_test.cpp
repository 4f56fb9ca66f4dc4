// The console's REST API without the network (server/console_api.hpp): sign-in, the session
// cookie's attributes, the per-address sign-in limit, CSRF on changes, each role's reach into
// the archive (a clerk sees only their own mail, once the archive grants them addresses),
// safe HTML, downloads as stored, the audit log with the console's actor, and the admin's
// account list.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive/access.hpp"
#include "archive/mail_listener.hpp"
#include "archive/message_store.hpp"
#include "archive/mime.hpp"
#include "archive/search_index.hpp"
#include "audit_records.hpp"
#include "console_session.hpp"
#include "guard/audit_log.hpp"
#include "server/console_api.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "correct horse battery 馬";
constexpr int64_t kNow = 1'780'000'000;

class ConsoleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SignInPolicy policy;
    policy.scrypt_log2_n = 10;  // quick hashes for tests
    auto accounts = AccountStore::Open(dir_.path(), policy);
    ASSERT_OK(accounts);
    accounts_ = std::move(*accounts);
    for (auto [name, role] : {std::pair{"admin", Role::kAdmin}, std::pair{"li", Role::kAuditor},
                              std::pair{"op", Role::kOperator}, std::pair{"wang", Role::kClerk},
                              std::pair{"rec", Role::kRecords}}) {
      Account a;
      a.name = name;
      a.display_name = std::string(name) + " 先生";
      a.role = role;
      if (role == Role::kClerk) a.agency = "A15060000H";
      ASSERT_OK(accounts_->Add(a, kPassword));
    }
    ConsoleApiOptions options;
    options.sign_in_limit = 4;
    options.sign_in_window = 60;
    api_ = std::make_unique<ConsoleApi>(dir_.path(), *accounts_, options);
    auto store = archive::MessageStore::Open(dir_.path() / "archive");
    ASSERT_OK(store);
    store_ = std::move(*store);
  }

  int64_t AddMail(const std::string& raw) {
    auto parsed = archive::ParseMessage(AsBytes(raw));
    EXPECT_OK(parsed);
    archive::Delivery d;
    d.source = "lmtp";
    d.envelope_from = "bounce@ntbt.gov.tw";
    d.recipients = {"hidden-bcc@ntbt.gov.tw"};
    d.received_at = kNow;
    auto added = store_->Add(AsBytes(raw), *parsed, d);
    EXPECT_OK(added);
    auto index = archive::SearchIndex::OpenForWriting(dir_.path() / "archive" / "index");
    EXPECT_OK(index);
    EXPECT_OK((*index)->CatchUp(*store_, nullptr));
    return added.ok() ? added->message : 0;
  }

  ApiResponse Call(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& cookie = "",
                   const std::string& csrf = "", const std::string& address = "10.0.0.1") {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.cookie = cookie;
    r.csrf = csrf;
    r.client_address = address;
    r.now = kNow;
    return api_->Handle(r);
  }

  SignedIn SignIn(const std::string& name, const std::string& address = "10.0.0.1") {
    ApiResponse r = Call("POST", "/api/v1/session",
                         json{{"name", name}, {"password", kPassword}}.dump(), "", "", address);
    EXPECT_EQ(r.status, 200) << r.body;
    return SessionOf(r);
  }

  ApiResponse Get(const SignedIn& s, const std::string& target) {
    return Call("GET", target, "", s.cookie);
  }

  std::vector<guard::AuditRecord> AuditRecords() { return ReadAuditLog(dir_.path()); }

  TempDir dir_;
  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<ConsoleApi> api_;
  std::unique_ptr<archive::MessageStore> store_;
};

TEST(ConsoleApiParsing, TargetsCookiesAndEscapes) {
  auto split = SplitTarget("/api/v1/archive/search?q=%E5%9C%8B%E7%A8%85+from%3A%E9%84%AD&limit=5");
  ASSERT_OK(split);
  EXPECT_EQ(split->first, "/api/v1/archive/search");
  EXPECT_EQ(split->second.at("q"), "國稅 from:鄭");
  EXPECT_EQ(split->second.at("limit"), "5");
  EXPECT_FALSE(SplitTarget("/api?q=%E5%9").ok());
  EXPECT_FALSE(SplitTarget("/api?q=%zz").ok());
  EXPECT_EQ(CookieValue("a=1; tessera_session=abc; b=2", "tessera_session"), "abc");
  EXPECT_EQ(CookieValue("xtessera_session=abc", "tessera_session"), "");
  EXPECT_EQ(CookieValue("", "tessera_session"), "");
}

TEST_F(ConsoleApiTest, SignInSetsAStrictCookieAndTheSessionAnswers) {
  ApiResponse r =
      Call("POST", "/api/v1/session", json{{"name", "wang"}, {"password", kPassword}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  std::string cookie;
  for (const auto& [h, v] : r.headers)
    if (h == "Set-Cookie") cookie = v;
  EXPECT_THAT(cookie, HasSubstr("tessera_session="));
  for (const char* attribute : {"; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"})
    EXPECT_THAT(cookie, HasSubstr(attribute));
  json body = json::parse(r.body);
  EXPECT_EQ(body["role"], "clerk");
  EXPECT_EQ(body["agency"], "A15060000H");
  EXPECT_EQ(body["display_name"], "wang 先生");
  EXPECT_EQ(body["csrf"].get<std::string>().size(), 64u);
  // The token itself is never in the body.
  EXPECT_THAT(r.body, Not(HasSubstr(cookie.substr(16, 64))));

  const std::string pair = cookie.substr(0, cookie.find(';'));
  ApiResponse me = Call("GET", "/api/v1/session", "", pair);
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["csrf"], body["csrf"]);
  EXPECT_EQ(Call("GET", "/api/v1/session").status, 401);
  EXPECT_EQ(Call("GET", "/api/v1/session", "", "tessera_session=" + std::string(64, 'a')).status,
            401);
}

TEST_F(ConsoleApiTest, WrongPasswordsAreRefusedLockedAndRecorded) {
  ApiResponse r = Call("POST", "/api/v1/session",
                       json{{"name", "wang"}, {"password", "not the password"}}.dump());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unauthenticated");
  EXPECT_EQ(Call("POST", "/api/v1/session", "not json").status, 400);
  EXPECT_EQ(Call("POST", "/api/v1/session", json{{"name", 5}}.dump()).status, 400);
  bool recorded = false;
  for (const auto& rec : AuditRecords())
    recorded |= rec.action == "console.sign-in" && rec.actor == "console:wang" &&
                rec.outcome.find("refused") != std::string::npos;
  EXPECT_TRUE(recorded);
  // Five failures lock the account (from several addresses, so the address limit is not hit).
  for (int i = 0; i < 4; ++i)
    Call("POST", "/api/v1/session", json{{"name", "li"}, {"password", "wrong wrong wrong"}}.dump(),
         "", "", "10.0.1." + std::to_string(i));
  ApiResponse locked =
      Call("POST", "/api/v1/session",
           json{{"name", "li"}, {"password", "wrong wrong wrong"}}.dump(), "", "", "10.0.2.1");
  EXPECT_EQ(locked.status, 423) << locked.body;
  EXPECT_EQ(Call("POST", "/api/v1/session", json{{"name", "li"}, {"password", kPassword}}.dump(),
                 "", "", "10.0.2.2")
                .status,
            423);
}

TEST_F(ConsoleApiTest, SignInAttemptsAreLimitedPerAddress) {
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(Call("POST", "/api/v1/session",
                   json{{"name", "nobody"}, {"password", "guess guess guess"}}.dump(), "", "",
                   "192.0.2.7")
                  .status,
              401);
  ApiResponse limited =
      Call("POST", "/api/v1/session", json{{"name", "wang"}, {"password", kPassword}}.dump(), "",
           "", "192.0.2.7");
  EXPECT_EQ(limited.status, 429);
  bool retry_after = false;
  for (const auto& [h, v] : limited.headers) retry_after |= h == "Retry-After" && std::stoi(v) > 0;
  EXPECT_TRUE(retry_after);
  // Another address is not affected.
  SignIn("wang", "192.0.2.8");
}

TEST_F(ConsoleApiTest, ChangesNeedTheSessionsCsrfToken) {
  SignedIn s = SignIn("wang");
  EXPECT_EQ(Call("DELETE", "/api/v1/session", "", s.cookie).status, 403);
  EXPECT_EQ(Call("DELETE", "/api/v1/session", "", s.cookie, std::string(64, '0')).status, 403);
  EXPECT_EQ(Get(s, "/api/v1/session").status, 200);  // still signed in
  ApiResponse out = Call("DELETE", "/api/v1/session", "", s.cookie, s.csrf);
  EXPECT_EQ(out.status, 204);
  bool cleared = false;
  for (const auto& [h, v] : out.headers)
    cleared |= h == "Set-Cookie" && v.find("Max-Age=0") != std::string::npos;
  EXPECT_TRUE(cleared);
  EXPECT_EQ(Get(s, "/api/v1/session").status, 401);
}

TEST_F(ConsoleApiTest, RolesReachTheArchiveAsTheArchiveSays) {
  const int64_t mine = AddMail(
      "From: 鄭 <cheng@ntbt.gov.tw>\r\nTo: wang@ntbt.gov.tw\r\nSubject: 國稅局 公文\r\n"
      "Date: Tue, 1 Dec 2026 10:00:00 +0800\r\n\r\n國稅局 郵件\r\n");
  const int64_t other = AddMail(
      "From: 鄭 <cheng@ntbt.gov.tw>\r\nTo: chief@ntbt.gov.tw\r\nSubject: 國稅局 機密\r\n\r\n"
      "國稅局 其他\r\n");
  SignedIn auditor = SignIn("li"), clerk = SignIn("wang"), op = SignIn("op");

  ApiResponse all = Get(auditor, "/api/v1/archive/search?q=%E5%9C%8B%E7%A8%85%E5%B1%80");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(json::parse(all.body)["matches"], 2);
  // No archive roles yet: a clerk has no addresses, so no mail; an operator none either.
  EXPECT_EQ(Get(clerk, "/api/v1/archive/search?q=x").status, 403);
  EXPECT_EQ(Get(op, "/api/v1/archive/search?q=x").status, 403);

  auto registry = archive::AccessRegistry::Open(*store_);
  ASSERT_OK(registry);
  ASSERT_OK((*registry)->Grant("wang", archive::Role::kClerk, {"wang@ntbt.gov.tw"}, "test"));
  ASSERT_OK((*registry)->Grant("li", archive::Role::kAuditor, {}, "test"));
  ApiResponse own = Get(clerk, "/api/v1/archive/search?q=%E5%9C%8B%E7%A8%85%E5%B1%80");
  ASSERT_EQ(own.status, 200) << own.body;
  json hits = json::parse(own.body)["hits"];
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["id"], mine);
  EXPECT_EQ(hits[0]["subject"], "國稅局 公文");
  EXPECT_EQ(hits[0]["date"], "2026-12-01T02:00:00Z");
  EXPECT_EQ(Get(clerk, "/api/v1/archive/messages/" + std::to_string(mine)).status, 200);
  // Another's message and one that does not exist get the same answer.
  ApiResponse theirs = Get(clerk, "/api/v1/archive/messages/" + std::to_string(other));
  ApiResponse none = Get(clerk, "/api/v1/archive/messages/999");
  EXPECT_EQ(theirs.status, 404);
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(Get(clerk, "/api/v1/archive/messages/" + std::to_string(other) + "/eml").status, 404);
  // Bcc recipients of the deliveries are not shown to a clerk.
  EXPECT_THAT(Get(clerk, "/api/v1/archive/messages/" + std::to_string(mine)).body,
              Not(HasSubstr("hidden-bcc")));
  EXPECT_THAT(Get(auditor, "/api/v1/archive/messages/" + std::to_string(mine)).body,
              HasSubstr("hidden-bcc"));
  // The operator, with no archive role now that roles exist, is refused, and that is recorded.
  EXPECT_EQ(Get(op, "/api/v1/archive/search?q=x").status, 403);
  int denied = 0;
  for (const auto& rec : AuditRecords())
    denied += rec.actor == "console:wang" && rec.action == "archive.show" &&
              rec.outcome.find("denied") != std::string::npos;
  EXPECT_EQ(denied, 2);  // the other's message and the one that does not exist
  EXPECT_EQ(Get(auditor, "/api/v1/archive/search?q=from:").status, 200);
  EXPECT_EQ(Get(auditor, "/api/v1/archive/search?q=x&limit=0").status, 400);
  EXPECT_EQ(Get(auditor, "/api/v1/archive/search?q=after:2026-13-45").status, 400);
}

TEST_F(ConsoleApiTest, MessagesAreShownSafelyAndDownloadedAsStored) {
  const std::string raw =
      "From: a@ntbt.gov.tw\r\nTo: b@ntbt.gov.tw\r\nSubject: =?UTF-8?B?5YWs5paH?=\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
      "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n純文字版本\r\n"
      "--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
      "<p onclick=\"steal()\">請查收</p><script>alert(1)</script>"
      "<img src=\"http://tracker.example/p.gif\"><a href=\"javascript:alert(2)\">x</a>\r\n"
      "--XX\r\nContent-Type: application/pdf\r\n"
      "Content-Disposition: attachment; filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n";
  const int64_t id = AddMail(raw);
  SignedIn admin = SignIn("admin");
  ApiResponse r = Get(admin, "/api/v1/archive/messages/" + std::to_string(id));
  ASSERT_EQ(r.status, 200) << r.body;
  json m = json::parse(r.body);
  EXPECT_EQ(m["subject"], "公文");
  const std::string html = m["html"];
  EXPECT_THAT(html, HasSubstr("請查收"));
  for (const char* bad : {"<script", "onclick", "tracker.example", "javascript:"})
    EXPECT_THAT(html, Not(HasSubstr(bad))) << bad;
  EXPECT_EQ(m["remote_content_blocked"], 1);
  // The HTML part's source is not repeated as text.
  EXPECT_THAT(m["text"].get<std::string>(), HasSubstr("純文字版本"));
  EXPECT_THAT(m["text"].get<std::string>(), Not(HasSubstr("<p")));
  ASSERT_EQ(m["attachments"].size(), 1u);
  EXPECT_EQ(m["attachments"][0]["name"], "報告.pdf");

  ApiResponse eml = Get(admin, "/api/v1/archive/messages/" + std::to_string(id) + "/eml");
  ASSERT_EQ(eml.status, 200);
  EXPECT_EQ(eml.body, raw);
  EXPECT_EQ(eml.content_type, "message/rfc822");
  ApiResponse pdf = Get(admin, "/api/v1/archive/messages/" + std::to_string(id) + "/attachments/0");
  ASSERT_EQ(pdf.status, 200);
  EXPECT_EQ(pdf.body, "%PDF-1.4\n");
  EXPECT_EQ(pdf.content_type, "application/pdf");
  std::string disposition;
  for (const auto& [h, v] : pdf.headers)
    if (h == "Content-Disposition") disposition = v;
  EXPECT_THAT(disposition, HasSubstr("attachment; "));
  EXPECT_THAT(disposition, HasSubstr("filename*=UTF-8''%E5%A0%B1%E5%91%8A.pdf"));
  EXPECT_EQ(Get(admin, "/api/v1/archive/messages/" + std::to_string(id) + "/attachments/1").status,
            404);
  EXPECT_EQ(Get(admin, "/api/v1/archive/messages/abc").status, 400);
  int downloads = 0;
  for (const auto& rec : AuditRecords())
    downloads += rec.actor == "console:admin" && rec.action == "archive.export";
  EXPECT_EQ(downloads, 2);
}

TEST_F(ConsoleApiTest, TheAuditLogAndAccountsAreForTheirRolesOnly) {
  SignedIn auditor = SignIn("li"), clerk = SignIn("wang"), admin = SignIn("admin");
  ApiResponse searched = Get(auditor, "/api/v1/archive/search?q=%E5%85%AC%E6%96%87");
  ASSERT_EQ(searched.status, 200) << searched.body;
  ApiResponse log = Get(auditor, "/api/v1/audit?limit=50");
  ASSERT_EQ(log.status, 200) << log.body;
  json j = json::parse(log.body);
  EXPECT_TRUE(j["ok"]);
  bool search_seen = false;
  for (const auto& rec : j["records"])
    search_seen |= rec["actor"] == "console:li" && rec["action"] == "archive.search" &&
                   rec["target"] == "公文";
  EXPECT_TRUE(search_seen);
  EXPECT_GT(j["records"][0]["seq"].get<int64_t>(), j["records"].back()["seq"].get<int64_t>());
  EXPECT_EQ(Get(clerk, "/api/v1/audit").status, 403);
  EXPECT_EQ(Get(auditor, "/api/v1/audit?since=yesterday").status, 400);

  EXPECT_EQ(Get(auditor, "/api/v1/accounts").status, 403);
  ApiResponse accounts = Get(admin, "/api/v1/accounts");
  ASSERT_EQ(accounts.status, 200);
  json list = json::parse(accounts.body)["accounts"];
  EXPECT_EQ(list.size(), 5u);
  EXPECT_THAT(accounts.body, Not(HasSubstr("scrypt")));
  EXPECT_EQ(Get(admin, "/api/v1/nothing").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/nothing").status, 401);  // nothing is told before sign-in
}

TEST_F(ConsoleApiTest, RestoreResendsToAMailboxAndAClerkOnlyToThemselves) {
  std::mutex mu;
  std::vector<std::pair<std::vector<std::string>, std::string>> received;
  archive::MailListenerConfig smtp;
  smtp.protocol = archive::MailProtocol::kSmtp;
  auto server = archive::MailServer::Bind(
      {smtp},
      [&](const archive::MailEnvelope& e, archive::MailProtocol, const std::string&, Bytes m) {
        std::lock_guard lock(mu);
        received.emplace_back(e.recipients, std::string(m.begin(), m.end()));
        return Status::Ok();
      });
  ASSERT_OK(server.status());
  std::thread serving([&] { (void)(*server)->Run(false); });
  ConsoleApiOptions options;
  options.archive.restore_relay = "smtp://127.0.0.1:" + std::to_string((*server)->ports()[0]);
  api_ = std::make_unique<ConsoleApi>(dir_.path(), *accounts_, options);

  const int64_t id = AddMail(
      "From: 鄭 <cheng@ntbt.gov.tw>\r\nTo: wang@ntbt.gov.tw\r\nSubject: 調閱 "
      "回復\r\n\r\n請回復\r\n");
  auto registry = archive::AccessRegistry::Open(*store_);
  ASSERT_OK(registry);
  ASSERT_OK((*registry)->Grant("wang", archive::Role::kClerk, {"wang@ntbt.gov.tw"}, "test"));
  ASSERT_OK((*registry)->Grant("admin", archive::Role::kAdmin, {}, "test"));
  ASSERT_OK((*registry)->Grant("li", archive::Role::kAuditor, {}, "test"));
  SignedIn admin = SignIn("admin"), clerk = SignIn("wang"), auditor = SignIn("li");
  const std::string restore = "/api/v1/archive/messages/" + std::to_string(id) + "/restore";

  ApiResponse check = Get(clerk, restore);  // may restore, and to which own addresses
  ASSERT_EQ(check.status, 200) << check.body;
  EXPECT_EQ(json::parse(check.body)["addresses"], json::array({"wang@ntbt.gov.tw"}));
  EXPECT_TRUE(json::parse(check.body)["own_addresses_only"]);
  ApiResponse admin_check = Get(admin, restore);
  ASSERT_EQ(admin_check.status, 200) << admin_check.body;
  EXPECT_FALSE(json::parse(admin_check.body)["own_addresses_only"]);
  EXPECT_EQ(Get(auditor, restore).status, 403);
  EXPECT_EQ(Call("POST", restore, "{}", admin.cookie).status, 403);  // no CSRF token
  ApiResponse r =
      Call("POST", restore, R"({"to": ["chief@ntbt.gov.tw"]})", admin.cookie, admin.csrf);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["restored"][0]["delivered"]);
  EXPECT_EQ(Call("POST", restore, "{}", auditor.cookie, auditor.csrf).status, 403);
  EXPECT_EQ(
      Call("POST", restore, R"({"to": ["chief@ntbt.gov.tw"]})", clerk.cookie, clerk.csrf).status,
      403);
  ApiResponse own = Call("POST", restore, "", clerk.cookie, clerk.csrf);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(Call("POST", restore, R"({"to": "x"})", admin.cookie, admin.csrf).status, 400);
  (*server)->Stop();
  serving.join();
  std::lock_guard lock(mu);
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(received[0].first, (std::vector<std::string>{"chief@ntbt.gov.tw"}));
  EXPECT_THAT(received[0].second, HasSubstr("Resent-To: chief@ntbt.gov.tw"));
  EXPECT_THAT(received[0].second, HasSubstr("請回復"));
  EXPECT_EQ(received[1].first, (std::vector<std::string>{"wang@ntbt.gov.tw"}));
  int recorded = 0;
  for (const auto& rec : AuditRecords())
    recorded += rec.action == "archive.restore" && rec.actor.rfind("console:", 0) == 0;
  EXPECT_EQ(recorded, 4);  // two restores and two refusals (no CSRF token, bad body: before)
}

TEST_F(ConsoleApiTest, RetentionHoldsAndASecondPersonsApproval) {
  const int64_t old_one = AddMail(
      "From: a@ntbt.gov.tw\r\nTo: b@ntbt.gov.tw\r\nSubject: 舊 一\r\n"
      "Date: Mon, 6 Jan 2020 10:00:00 +0800\r\n\r\nx\r\n");
  const int64_t old_held = AddMail(
      "From: a@ntbt.gov.tw\r\nTo: b@ntbt.gov.tw\r\nSubject: 舊 二\r\n"
      "Date: Tue, 7 Jan 2020 10:00:00 +0800\r\n\r\ny\r\n");
  SignedIn admin = SignIn("admin"), records = SignIn("rec"), auditor = SignIn("li");
  const std::string base = "/api/v1/archive/retention";
  auto post = [&](const SignedIn& who, const std::string& target, const json& body) {
    return Call("POST", target, body.dump(), who.cookie, who.csrf);
  };
  ApiResponse rule =
      post(admin, base + "/rules",
           {{"criterion", {{"kind", "sender"}, {"pattern", "*@ntbt.gov.tw"}}}, {"class", "1"}});
  ASSERT_EQ(rule.status, 201) << rule.body;
  EXPECT_EQ(post(admin, base + "/rules", {{"criterion", {{"kind", "color"}}}}).status, 400);
  ApiResponse hold = post(records, base + "/holds",
                          {{"name", "訴訟 1"},
                           {"reason", "a lawsuit"},
                           {"criterion", {{"kind", "messages"}, {"messages", {old_held}}}}});
  ASSERT_EQ(hold.status, 201) << hold.body;
  EXPECT_EQ(post(auditor, base + "/holds", {{"name", "x"}}).status, 403);

  ApiResponse proposed = post(admin, base + "/batches", {{"note", "年度銷毀"}});
  ASSERT_EQ(proposed.status, 201) << proposed.body;
  json batch = json::parse(proposed.body);
  ASSERT_EQ(batch["items"].size(), 1u) << "the held message is not listed";
  EXPECT_EQ(batch["items"][0]["message"], old_one);
  const std::string batch_path = base + "/batches/" + std::to_string(batch["id"].get<int64_t>());
  EXPECT_EQ(post(admin, batch_path + "/purge", json::object()).status, 409) << "not approved";
  ApiResponse self = post(admin, batch_path + "/approve", json::object());
  EXPECT_EQ(self.status, 403) << "the proposer cannot approve: " << self.body;
  ApiResponse approved = post(records, batch_path + "/approve", json::object());
  ASSERT_EQ(approved.status, 200) << approved.body;
  EXPECT_EQ(json::parse(approved.body)["approved_by"], "console:rec");
  ApiResponse purged = post(admin, batch_path + "/purge", json::object());
  ASSERT_EQ(purged.status, 200) << purged.body;
  EXPECT_EQ(json::parse(purged.body)["purge"]["destroyed"], 1);
  EXPECT_EQ(Get(admin, "/api/v1/archive/messages/" + std::to_string(old_one)).status, 404);
  EXPECT_EQ(Get(admin, "/api/v1/archive/messages/" + std::to_string(old_held)).status, 200);

  ApiResponse status = Get(auditor, base);
  ASSERT_EQ(status.status, 200) << status.body;
  json st = json::parse(status.body);
  EXPECT_EQ(st["rules"].size(), 1u);
  EXPECT_EQ(st["holds"][0]["name"], "訴訟 1");
  EXPECT_EQ(st["batches"][0]["state"], "purged");
  EXPECT_EQ(st["batches"][0]["message_count"], 1) << "the list counts each batch's messages";
  EXPECT_FALSE(st["batches"][0].contains("items")) << "the list leaves the items to the batch";
  EXPECT_EQ(batch["message_count"], 1);
  const int64_t hold_id = json::parse(hold.body)["id"];
  EXPECT_EQ(
      Call("DELETE", base + "/holds/" + std::to_string(hold_id), "", records.cookie, records.csrf)
          .status,
      204);
  EXPECT_EQ(Get(admin, base).status, 200);
  EXPECT_FALSE(json::parse(Get(admin, base).body)["holds"][0]["active"]);
  int approvals = 0;
  for (const auto& rec : AuditRecords())
    approvals += rec.action == "archive.retention.approve" && rec.actor == "console:rec";
  EXPECT_EQ(approvals, 1);
}

}  // namespace
}  // namespace tessera::server
