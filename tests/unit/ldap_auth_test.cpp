// Console sign-in against a real directory: Debian's slapd, started here on 127.0.0.1 with a
// directory of its own (an inetOrgPerson with a password), then the password checked by a
// simple bind (right, wrong, empty, unknown, a name that needs escaping, the server gone),
// and a console account of the directory signing in through the API.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/accounts.hpp"
#include "server/console_api.hpp"
#include "server/ldap_auth.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::server {
namespace {

namespace fs = std::filesystem;
constexpr char kSlapd[] = "/usr/sbin/slapd";
constexpr char kSlapadd[] = "/usr/sbin/slapadd";
constexpr char kSuffix[] = "dc=agency,dc=gov,dc=tw";
constexpr char kWangPassword[] = "王 directory password";

uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

int RunProgram(const std::vector<std::string>& argv) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// "true", "false", or the error: what a check answered, readably in a failure.
std::string Answer(const Result<bool>& r) {
  if (!r.ok()) return r.status().ToString();
  return *r ? "true" : "false";
}

// A slapd of the test's own, on a free port of 127.0.0.1, stopped at the end.
class Slapd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kSlapd)) << "slapd is missing: scripts/install-deps.sh installs it";
    const fs::path dir = dir_.path();
    fs::create_directories(dir / "db");
    std::ofstream(dir / "slapd.conf")
        << "include /etc/ldap/schema/core.schema\n"
           "include /etc/ldap/schema/cosine.schema\n"
           "include /etc/ldap/schema/inetorgperson.schema\n"
           "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
           "pidfile "
        << (dir / "slapd.pid").string() << "\ndatabase mdb\nsuffix \"" << kSuffix
        << "\"\ndirectory " << (dir / "db").string() << "\n";
    std::ofstream(dir / "data.ldif") << "dn: " << kSuffix
                                     << "\nobjectClass: dcObject\nobjectClass: organization\n"
                                        "o: agency\ndc: agency\n\n"
                                        "dn: ou=people,"
                                     << kSuffix
                                     << "\nobjectClass: organizationalUnit\nou: people\n\n"
                                        "dn: uid=wang,ou=people,"
                                     << kSuffix
                                     << "\nobjectClass: inetOrgPerson\nuid: wang\ncn: wang\nsn: "
                                        "wang\nuserPassword: "
                                     << kWangPassword << "\n";
    ASSERT_EQ(RunProgram({kSlapadd, "-q", "-f", (dir / "slapd.conf").string(), "-l",
                          (dir / "data.ldif").string()}),
              0);
    port_ = FreePort();
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string url = "ldap://127.0.0.1:" + std::to_string(port_) + "/";
      const std::string conf = (dir / "slapd.conf").string();
      ::execl(kSlapd, kSlapd, "-d", "0", "-f", conf.c_str(), "-h", url.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 100 && !Accepts(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(Accepts(port_)) << "slapd did not start";
    options_.url = "ldap://127.0.0.1:" + std::to_string(port_);
    options_.user_dn = std::string("uid={name},ou=people,") + kSuffix;
    options_.timeout = std::chrono::seconds(5);
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  void StopServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  TempDir dir_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
  LdapOptions options_;
};

TEST(LdapOptionsCheck, NamesWhatIsWrong) {
  LdapOptions o;
  o.url = "http://dc";
  o.user_dn = "uid={name},dc=x";
  EXPECT_EQ(CheckLdapOptions(o).code(), StatusCode::kInvalidArgument);
  o.url = "ldaps://dc:636";
  EXPECT_OK(CheckLdapOptions(o));
  o.user_dn = "uid=wang,dc=x";
  Status st = CheckLdapOptions(o);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("{name}"), std::string::npos);
}

TEST_F(Slapd, ChecksPasswordsByBindingAsTheUser) {
  EXPECT_EQ(Answer(LdapCheckPassword(options_, "wang", kWangPassword)), "true");
  EXPECT_EQ(Answer(LdapCheckPassword(options_, "wang", "not the password")), "false");
  // An empty password would be an anonymous bind, which succeeds: never a sign-in.
  EXPECT_EQ(Answer(LdapCheckPassword(options_, "wang", "")), "false");
  EXPECT_EQ(Answer(LdapCheckPassword(options_, "nobody", kWangPassword)), "false");
  // A name with DN syntax in it is escaped, not interpreted.
  EXPECT_EQ(Answer(LdapCheckPassword(options_, "wang,ou=people", kWangPassword)), "false");
  StopServer();
  Result<bool> down = LdapCheckPassword(options_, "wang", kWangPassword);
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(down.status().message().find("127.0.0.1"), std::string::npos);
}

TEST_F(Slapd, ADirectoryAccountSignsInThroughTheApi) {
  SignInPolicy policy;
  policy.scrypt_log2_n = 10;
  auto store = AccountStore::Open(dir_.path() / "home", policy);
  ASSERT_OK(store);
  Account a;
  a.name = "wang";
  a.display_name = "王小明";
  a.role = Role::kAuditor;
  a.directory = true;
  EXPECT_EQ((*store)->Add(a, "a local password too").code(), StatusCode::kInvalidArgument);
  ASSERT_OK((*store)->Add(a, ""));
  EXPECT_TRUE((*store)->Get("wang")->directory);
  const int64_t now = 1'780'000'000;
  // No directory configured: it cannot sign in, with the usual answer.
  EXPECT_EQ((*store)->SignIn("wang", kWangPassword, "", now).status().code(),
            StatusCode::kPermissionDenied);
  ASSERT_OK((*store)->Unlock("wang"));
  (*store)->SetDirectory([this](const std::string& name, const std::string& password) {
    return LdapCheckPassword(options_, name, password);
  });
  EXPECT_EQ((*store)->SignIn("wang", "", "", now).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ((*store)->SignIn("wang", "wrong", "", now).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ((*store)->Get("wang")->failures, 2) << "wrong passwords count toward the lockout";

  ConsoleApi api(dir_.path() / "home", **store, {});
  ApiRequest r;
  r.method = "POST";
  r.target = "/api/v1/session";
  r.body = nlohmann::json{{"name", "wang"}, {"password", kWangPassword}}.dump();
  r.client_address = "127.0.0.1";
  r.now = now;
  ApiResponse signed_in = api.Handle(r);
  ASSERT_EQ(signed_in.status, 200) << signed_in.body;
  EXPECT_EQ(nlohmann::json::parse(signed_in.body)["role"], "auditor");
  EXPECT_EQ((*store)->Get("wang")->failures, 0);

  StopServer();
  ApiResponse down = api.Handle(r);
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_EQ((*store)->Get("wang")->failures, 0) << "a directory that is down is not a failure";
}

}  // namespace
}  // namespace tessera::server
