// The console's exchange API (server/console_exchange.hpp) against a real exchange network
// in-process: a test CA, an exchange center (exchange::CenterServer on 127.0.0.1), agency A
// whose gateway the console is (source address 127.0.0.11), agency B with a gateway of its
// own (127.0.0.12) and agency C registered only. Through ConsoleApi::Handle with signed-in
// sessions: a clerk of A composes a 函 from fields and sends it to B; it shows with its
// fields, a safe rendering, its attachment and B's status; once B's gateway receives, B's
// console shows it in B's inbox, and once A's gateway takes the receipt, B's state is
// "received". A 函 to two agencies goes with an SW.
// Clerks of other agencies and read-only roles are refused (403) and recorded; bad fields
// are 400 naming the field, with nothing sent; the send is in the audit log as
// console:<name>, recorded before the center accepted it.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "audit_records.hpp"
#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "console_session.hpp"
#include "crypto/signature.hpp"
#include "crypto/x509.hpp"
#include "exchange/center_server.hpp"
#include "exchange/gateway.hpp"
#include "exchange/registry.hpp"
#include "exchange/registry_store.hpp"
#include "guard/audit_log.hpp"
#include "server/console_api.hpp"
#include "server/console_exchange.hpp"
#include "server/exchange_roles.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassword[] = "correct horse battery 馬";
constexpr char kA[] = "A15060000H";  // 臺南市政府: the console's gateway
constexpr char kB[] = "376570000A";  // 臺南市政府教育局: a gateway of its own
constexpr char kC[] = "379000000A";  // 臺南市政府衛生局: registered only

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

class ConsoleExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = NowUnixSeconds();
    const fs::path certs = dir_.path() / "certs";
    ASSERT_OK(MakeDirs(certs, 0700));
    for (const fs::path& home : {home_a(), home_b(), home_center()})
      ASSERT_OK(MakeDirs(home, 0700));
    auto ca_key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
    ASSERT_OK(ca_key);
    crypto::CertificateRequest ca_req;
    ca_req.common_name = "Tessera Test GCA";
    ca_req.ca = true;
    auto ca = crypto::IssueCertificate(ca_req, *ca_key, nullptr, *ca_key);
    ASSERT_OK(ca);
    auto issue = [&](const std::string& name, const std::string& ip) -> std::string {
      auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
      EXPECT_OK(key);
      crypto::CertificateRequest req;
      req.common_name = name;
      req.ip_addresses = {ip};
      auto cert = crypto::IssueCertificate(req, *key, &*ca, *ca_key);
      EXPECT_OK(cert);
      EXPECT_OK(key->Save(certs / (name + ".key")));
      EXPECT_OK(WriteFileAtomic(certs / (name + ".pem"), cert->Pem(), 0644));
      return cert->Pem();
    };
    const std::string center_pem = issue("center-a", "127.0.0.1");
    const std::string a_pem = issue(kA, "127.0.0.11");
    const std::string b_pem = issue(kB, "127.0.0.12");
    const std::string c_pem = issue(kC, "127.0.0.13");

    port_ = FreePort();
    ASSERT_NE(port_, 0);
    exchange::Registry reg;
    reg.network = "tainan-test";
    reg.serial = 1;
    reg.issued_at = now_ - 60;
    reg.expires_at = now_ + 86400;
    reg.trust_anchors = {ca->Pem()};
    reg.centers.push_back(
        {"center-a", "https://127.0.0.1:" + std::to_string(port_), {"127.0.0.1"}, {center_pem}});
    auto agency = [&](const std::string& code, const std::string& name, const std::string& pem,
                      const std::string& ip) {
      exchange::Agency a;
      a.code = code;
      a.name = name;
      a.home_center = "center-a";
      a.certificates = {pem};
      a.addresses = {ip};
      reg.agencies.push_back(a);
    };
    agency(kA, "臺南市政府", a_pem, "127.0.0.11");
    agency(kB, "臺南市政府教育局", b_pem, "127.0.0.12");
    agency(kC, "臺南市政府衛生局", c_pem, "127.0.0.13");
    ASSERT_OK(exchange::Validate(reg));
    const crypto::SigningKey management = crypto::SigningKey::Generate();
    const std::string wire = exchange::SignRegistry(reg, management);
    for (const fs::path& home : {home_a(), home_b(), home_center()})
      ASSERT_OK(exchange::InstallRegistry(home, wire, management.public_key(), now_));

    // The center.
    exchange::CenterServerConfig cc;
    cc.center_id = "center-a";
    cc.port = port_;
    cc.dir = ExchangeDir(home_center()) / "center";
    cc.audit_dir = home_center();
    cc.certificate = certs / "center-a.pem";
    cc.key = certs / "center-a.key";
    const fs::path center_home = home_center();
    const crypto::PublicKey pub = management.public_key();
    cc.load_registry = [center_home, pub] {
      return exchange::LoadHostRegistry(center_home, pub, NowUnixSeconds());
    };
    auto center = exchange::CenterServer::Start(std::move(cc));
    ASSERT_OK(center);
    center_ = std::move(*center);
    center_thread_ = std::thread([this] { (void)center_->Run(false); });

    // The gateways' settings; the console's opens A's with a scanner that finds nothing.
    settings_a_ = Settings(kA, "127.0.0.11");
    settings_b_ = Settings(kB, "127.0.0.12");
    const fs::path home = home_a();
    const ExchangeSettings s = settings_a_;
    exchange_ = std::make_shared<ExchangeApi>(home, s,
                                              [home, s](bool) { return OpenTestGateway(home, s); });

    SignInPolicy policy;
    policy.scrypt_log2_n = 10;
    auto accounts = AccountStore::Open(home_a(), policy);
    ASSERT_OK(accounts);
    accounts_ = std::move(*accounts);
    struct Who {
      const char* name;
      Role role;
      const char* agency;
    };
    for (const Who& w : {Who{"wang", Role::kClerk, kA}, Who{"chen", Role::kClerk, kB},
                         Who{"li", Role::kAuditor, ""}, Who{"op", Role::kOperator, ""}}) {
      Account a;
      a.name = w.name;
      a.display_name = std::string(w.name) + " 先生";
      a.role = w.role;
      a.agency = w.agency;
      ASSERT_OK(accounts_->Add(a, kPassword));
    }
    ConsoleApiOptions options;
    options.exchange = exchange_;
    api_ = std::make_unique<ConsoleApi>(home_a(), *accounts_, options);
  }

  void TearDown() override {
    if (center_) center_->Stop();
    if (center_thread_.joinable()) center_thread_.join();
  }

  fs::path home_a() const { return dir_.path() / "a"; }
  fs::path home_b() const { return dir_.path() / "b"; }
  fs::path home_center() const { return dir_.path() / "center"; }

  ExchangeSettings Settings(const std::string& code, const std::string& ip) const {
    ExchangeSettings s;
    s.agency = code;
    s.certificate = (dir_.path() / "certs" / (code + ".pem")).string();
    s.key = (dir_.path() / "certs" / (code + ".key")).string();
    s.source_address = ip;
    return s;
  }

  static Result<std::unique_ptr<exchange::Gateway>> OpenTestGateway(const fs::path& home,
                                                                    const ExchangeSettings& s) {
    TESSERA_ASSIGN_OR_RETURN(exchange::GatewayConfig config, BaseGatewayConfig(home, s));
    config.scan = [](const fs::path&) -> Result<std::string> { return std::string(); };
    return exchange::Gateway::Open(std::move(config));
  }

  ApiResponse Call(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& cookie = "",
                   const std::string& csrf = "") {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.cookie = cookie;
    r.csrf = csrf;
    r.client_address = "10.0.0.1";
    r.now = NowUnixSeconds();
    return api_->Handle(r);
  }

  SignedIn SignIn(const std::string& name) {
    ApiResponse r =
        Call("POST", "/api/v1/session", json{{"name", name}, {"password", kPassword}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return SessionOf(r);
  }
  ApiResponse Get(const SignedIn& s, const std::string& target) {
    return Call("GET", target, "", s.cookie);
  }
  ApiResponse Post(const SignedIn& s, const std::string& target, const json& body) {
    return Call("POST", target, body.dump(), s.cookie, s.csrf);
  }

  std::vector<guard::AuditRecord> AuditRecords() { return ReadAuditLog(home_a()); }

  static json Letter() {
    return {{"subject", "函轉居家辦公期間公文電子交換作業 <script>alert(1)</script> & 事宜"},
            {"paragraphs",
             json::array({"依檔管局110年5月27日檔資字第1100022201號函辦理。", "請配合辦理。"})},
            {"to", json::array({kB})},
            {"speed", "速件"},
            {"number", "府研智字第1150681935號"},
            {"signature", "市長 黃偉哲"},
            {"attachments",
             json::array({json{{"name", "附件一.txt"},
                               {"content_base64", Base64Encode(AsBytes("說明資料\n"))}}})}};
  }

  int64_t now_ = 0;
  TempDir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<exchange::CenterServer> center_;
  std::thread center_thread_;
  ExchangeSettings settings_a_, settings_b_;
  std::shared_ptr<ExchangeApi> exchange_;
  std::unique_ptr<AccountStore> accounts_;
  std::unique_ptr<ConsoleApi> api_;
};

TEST_F(ConsoleExchangeTest, AgenciesFromTheRegistry) {
  SignedIn wang = SignIn("wang");
  // The session names the agency whose gateway this is (the console offers its pages).
  ApiResponse session = Get(wang, "/api/v1/session");
  ASSERT_EQ(session.status, 200) << session.body;
  EXPECT_EQ(json::parse(session.body)["exchange_agency"], kA);
  ApiResponse r = Get(wang, "/api/v1/exchange/agencies");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["agency"], kA);
  ASSERT_EQ(j["agencies"].size(), 3u);
  EXPECT_EQ(j["agencies"][1], json({{"code", kB},
                                    {"name", "臺南市政府教育局"},
                                    {"center", "center-a"},
                                    {"suspended", false}}));
}

TEST_F(ConsoleExchangeTest, ClerkSendsALetterAndFollowsItToReceived) {
  SignedIn wang = SignIn("wang");
  ApiResponse r = Post(wang, "/api/v1/exchange/documents", Letter());
  ASSERT_EQ(r.status, 201) << r.body;
  json sent = json::parse(r.body);
  const std::string id = sent["id"];
  EXPECT_EQ(sent["recipients"], json::array({kB}));

  // Shown with its fields, a safe rendering, its attachment and B's state.
  r = Get(wang, "/api/v1/exchange/documents/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  json doc = json::parse(r.body);
  EXPECT_EQ(doc["box"], "sent");
  EXPECT_EQ(doc["fields"]["subject"], Letter()["subject"]);
  EXPECT_EQ(doc["fields"]["number"], "府研智字第1150681935號");
  EXPECT_EQ(doc["fields"]["speed"], "速件");
  EXPECT_EQ(doc["fields"]["sender"]["agency_code"], kA);
  EXPECT_EQ(doc["fields"]["recipients"][0]["agency_code"], kB);
  ASSERT_EQ(doc["fields"]["paragraphs"].size(), 1u);
  EXPECT_EQ(doc["fields"]["paragraphs"][0]["items"][1]["number"], "二、");
  const std::string html = doc["html"];
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  ASSERT_EQ(doc["attachments"].size(), 1u);
  EXPECT_EQ(doc["attachments"][0]["name"], "附件一.txt");
  ASSERT_EQ(doc["recipients"].size(), 1u);
  EXPECT_EQ(doc["recipients"][0]["recipient"], kB);
  EXPECT_EQ(doc["recipients"][0]["state"], "accepted");
  EXPECT_FALSE(doc["recipients"][0]["updated_at"].get<std::string>().empty());

  r = Get(wang, "/api/v1/exchange/documents/" + id + "/attachments/0");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "說明資料\n");
  EXPECT_EQ(Get(wang, "/api/v1/exchange/documents/" + id + "/attachments/1").status, 404);

  r = Get(wang, "/api/v1/exchange/documents?box=sent");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["documents"][0]["id"], id);

  // B's gateway receives it (and answers with its receipt); A's takes the receipt.
  auto b = OpenTestGateway(home_b(), settings_b_);
  ASSERT_OK(b);
  auto got = (*b)->Receive(2, 10);
  ASSERT_OK(got);
  EXPECT_EQ(got->documents, 1) << ::testing::PrintToString(got->problems);
  ASSERT_OK((*b)->Flush());
  auto inbox = (*b)->Inbox();
  ASSERT_OK(inbox);
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ(inbox->front().subject, Letter()["subject"]);
  // B's console shows it in B's inbox, with its fields and its attachment.
  {
    SignInPolicy policy;
    policy.scrypt_log2_n = 10;
    auto b_accounts = AccountStore::Open(home_b(), policy);
    ASSERT_OK(b_accounts);
    Account lin;
    lin.name = "lin";
    lin.display_name = "林小姐";
    lin.agency = kB;
    ASSERT_OK((*b_accounts)->Add(lin, kPassword));
    const fs::path home = home_b();
    const ExchangeSettings s = settings_b_;
    ConsoleApiOptions options;
    options.exchange = std::make_shared<ExchangeApi>(
        home, s, [home, s](bool) { return OpenTestGateway(home, s); });
    ConsoleApi b_api(home_b(), **b_accounts, options);
    ApiRequest req;
    req.method = "POST";
    req.target = "/api/v1/session";
    req.body = json{{"name", "lin"}, {"password", kPassword}}.dump();
    req.now = NowUnixSeconds();
    ApiResponse signed_in = b_api.Handle(req);
    ASSERT_EQ(signed_in.status, 200) << signed_in.body;
    for (const auto& [h, v] : signed_in.headers)
      if (h == "Set-Cookie") req.cookie = v.substr(0, v.find(';'));
    req.method = "GET";
    req.body.clear();
    req.target = "/api/v1/exchange/documents?box=inbox";
    ApiResponse listed = b_api.Handle(req);
    ASSERT_EQ(listed.status, 200) << listed.body;
    json inbox_list = json::parse(listed.body)["documents"];
    ASSERT_EQ(inbox_list.size(), 1u);
    EXPECT_EQ(inbox_list[0]["id"], id);
    EXPECT_EQ(inbox_list[0]["sender"], kA);
    req.target = "/api/v1/exchange/documents/" + id;
    ApiResponse shown = b_api.Handle(req);
    ASSERT_EQ(shown.status, 200) << shown.body;
    json received = json::parse(shown.body);
    EXPECT_EQ(received["box"], "inbox");
    EXPECT_EQ(received["state"], "received");
    EXPECT_EQ(received["fields"]["subject"], Letter()["subject"]);
    EXPECT_THAT(received["html"].get<std::string>(), Not(HasSubstr("<script")));
    req.target = "/api/v1/exchange/documents/" + id + "/attachments/0";
    ApiResponse file = b_api.Handle(req);
    ASSERT_EQ(file.status, 200) << file.body;
    EXPECT_EQ(file.body, "說明資料\n");
  }

  auto a = OpenTestGateway(home_a(), settings_a_);
  ASSERT_OK(a);
  auto receipts = (*a)->Receive(2, 10);
  ASSERT_OK(receipts);
  EXPECT_GE(receipts->receipts, 1);

  r = Get(wang, "/api/v1/exchange/documents/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  doc = json::parse(r.body);
  EXPECT_EQ(doc["recipients"][0]["state"], "received") << r.body;

  // Recorded as console:wang, the intent before the center's acceptance.
  std::vector<guard::AuditRecord> records = AuditRecords();
  int sending = -1, accepted = -1;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].actor != "console:wang" || records[i].action != "exchange.send") continue;
    if (records[i].outcome == "sending") sending = static_cast<int>(i);
    if (records[i].target == id) accepted = static_cast<int>(i);
  }
  ASSERT_GE(sending, 0);
  EXPECT_THAT(records[sending].target, HasSubstr(kB));
  ASSERT_GE(accepted, 0);
  EXPECT_LT(sending, accepted);
}

TEST_F(ConsoleExchangeTest, ALetterToTwoAgenciesGoesWithItsRoster) {
  SignedIn wang = SignIn("wang");
  json letter = Letter();
  letter["cc"] = json::array({kC});
  letter.erase("attachments");
  ApiResponse r = Post(wang, "/api/v1/exchange/documents", letter);
  ASSERT_EQ(r.status, 201) << r.body;
  json sent = json::parse(r.body);
  EXPECT_EQ(sent["recipients"], json::array({kB, kC}));
  r = Get(wang, "/api/v1/exchange/documents/" + sent["id"].get<std::string>());
  ASSERT_EQ(r.status, 200) << r.body;
  json doc = json::parse(r.body);
  EXPECT_EQ(doc["fields"]["roster_file"], "letter.sw");
  EXPECT_EQ(doc["fields"]["copy_to"], json::array({"臺南市政府衛生局"}));
  EXPECT_EQ(doc["recipients"].size(), 2u);
}

TEST_F(ConsoleExchangeTest, BadFieldsAre400NamingTheFieldAndNothingIsSent) {
  SignedIn wang = SignIn("wang");
  auto field_of = [&](const json& body) -> std::string {
    ApiResponse r = Post(wang, "/api/v1/exchange/documents", body);
    EXPECT_EQ(r.status, 400) << r.body;
    json j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].value("field", "") : "";
  };
  json letter = Letter();
  letter.erase("subject");
  EXPECT_EQ(field_of(letter), "subject");
  letter = Letter();
  letter["to"] = json::array({"Z99999999Z"});
  EXPECT_EQ(field_of(letter), "to");
  letter = Letter();
  letter["to"] = json::array();
  EXPECT_EQ(field_of(letter), "to");
  letter = Letter();
  letter["cc"] = json::array({kB});
  EXPECT_EQ(field_of(letter), "cc");
  letter = Letter();
  letter["speed"] = "很急";
  EXPECT_EQ(field_of(letter), "speed");
  letter = Letter();
  letter["secrecy"] = "公開";
  EXPECT_EQ(field_of(letter), "secrecy");
  letter = Letter();
  letter["subject"] = "主旨\x01";
  EXPECT_EQ(field_of(letter), "subject");
  letter = Letter();
  letter["attachments"][0]["content_base64"] = "@@@";
  EXPECT_EQ(field_of(letter), "attachments[0].content_base64");
  letter = Letter();
  letter["attachments"][0]["name"] = "../etc/passwd";
  EXPECT_EQ(field_of(letter), "attachments[0].name");
  letter = Letter();
  letter["subjcet"] = "typo";
  EXPECT_EQ(field_of(letter), "subjcet");

  ApiResponse r = Get(wang, "/api/v1/exchange/documents?box=sent");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["documents"].empty());
  bool refused = false;
  for (const auto& rec : AuditRecords())
    refused |= rec.actor == "console:wang" && rec.action == "exchange.send" &&
               rec.outcome.rfind("refused: speed", 0) == 0;
  EXPECT_TRUE(refused);
}

TEST_F(ConsoleExchangeTest, RolesAndAgencies) {
  // A clerk of B at A's console: refused, and recorded before anything is done.
  SignedIn chen = SignIn("chen");
  EXPECT_EQ(Get(chen, "/api/v1/exchange/agencies").status, 403);
  EXPECT_EQ(Get(chen, "/api/v1/exchange/documents?box=inbox").status, 403);
  ApiResponse r = Post(chen, "/api/v1/exchange/documents", Letter());
  EXPECT_EQ(r.status, 403) << r.body;
  bool recorded = false;
  for (const auto& rec : AuditRecords())
    recorded |= rec.actor == "console:chen" && rec.action == "exchange.send" &&
                rec.outcome.rfind("denied:", 0) == 0;
  EXPECT_TRUE(recorded);

  // An auditor reads but does not send; a clerk does not see the operator's views.
  SignedIn li = SignIn("li");
  EXPECT_EQ(Get(li, "/api/v1/exchange/documents?box=sent").status, 200);
  EXPECT_EQ(Post(li, "/api/v1/exchange/documents", Letter()).status, 403);
  SignedIn wang = SignIn("wang");
  EXPECT_EQ(Get(wang, "/api/v1/exchange/registry").status, 403);
  EXPECT_EQ(Get(wang, "/api/v1/exchange/health").status, 403);
  EXPECT_EQ(Get(wang, "/api/v1/exchange/documents/nosuch-id").status, 404);
  // A change without the CSRF token is refused before the exchange sees it.
  EXPECT_EQ(Call("POST", "/api/v1/exchange/documents", Letter().dump(), wang.cookie).status, 403);

  // The operator sees the registry, and the recorded health once there is one.
  SignedIn op = SignIn("op");
  r = Get(op, "/api/v1/exchange/registry");
  ASSERT_EQ(r.status, 200) << r.body;
  json reg = json::parse(r.body);
  EXPECT_EQ(reg["network"], "tainan-test");
  ASSERT_EQ(reg["agencies"].size(), 3u);
  EXPECT_EQ(reg["agencies"][0]["addresses"], json::array({"127.0.0.11"}));
  EXPECT_EQ(reg["agencies"][0]["certificates"][0]["expired"], false);
  EXPECT_EQ(Get(op, "/api/v1/exchange/documents?box=sent").status, 200);
  // Operators run the exchange; they do not send 函: 403, recorded, nothing sent.
  r = Post(op, "/api/v1/exchange/documents", Letter());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_THAT(r.body, HasSubstr("does not send"));
  bool op_refused = false;
  for (const auto& rec : AuditRecords())
    op_refused |= rec.actor == "console:op" && rec.action == "exchange.send" &&
                  rec.outcome.rfind("denied:", 0) == 0;
  EXPECT_TRUE(op_refused);
  EXPECT_TRUE(
      json::parse(Get(op, "/api/v1/exchange/documents?box=sent").body)["documents"].empty());
  EXPECT_EQ(Get(op, "/api/v1/exchange/health").status, 404);
  ASSERT_OK(WriteFileAtomic(
      ExchangeDir(home_a()) / "gateway" / "health.json",
      json({{"checked_at", now_},
            {"checks",
             json::array({json{{"name", "registry"}, {"state", "ok"}, {"detail", "serial 1"}}})}})
          .dump(),
      0644));
  r = Get(op, "/api/v1/exchange/health");
  ASSERT_EQ(r.status, 200) << r.body;
  json health = json::parse(r.body);
  EXPECT_EQ(health["ok"], true);
  EXPECT_EQ(health["checks"][0]["name"], "registry");
}

TEST(ConsoleExchangeNoGateway, Answers503) {
  TempDir dir;
  SignInPolicy policy;
  policy.scrypt_log2_n = 10;
  auto accounts = AccountStore::Open(dir.path(), policy);
  ASSERT_OK(accounts);
  Account a;
  a.name = "op";
  a.display_name = "op";
  a.role = Role::kOperator;
  ASSERT_OK((*accounts)->Add(a, kPassword));
  ConsoleApi api(dir.path(), **accounts, ConsoleApiOptions{});
  ApiRequest r;
  r.method = "POST";
  r.target = "/api/v1/session";
  r.body = json{{"name", "op"}, {"password", kPassword}}.dump();
  r.now = NowUnixSeconds();
  ApiResponse s = api.Handle(r);
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(json::parse(s.body)["exchange_agency"], "");
  std::string cookie;
  for (const auto& [h, v] : s.headers)
    if (h == "Set-Cookie") cookie = v.substr(0, v.find(';'));
  r.method = "GET";
  r.target = "/api/v1/exchange/agencies";
  r.body.clear();
  r.cookie = cookie;
  EXPECT_EQ(api.Handle(r).status, 503);
}

}  // namespace
}  // namespace tessera::server
