// server/accounts.hpp: password hashes, the account store, sign-in with lockout and TOTP,
// and sessions. The store runs with scrypt at N = 2^10 (SignInPolicy::scrypt_log2_n) so that
// the many sign-ins here stay quick; PasswordHash tests the production cost.
#include "server/accounts.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "base/bytes.hpp"
#include "base/files.hpp"
#include "server/totp.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::server {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kPassword = "correct horse battery staple";

SignInPolicy FastPolicy() {
  SignInPolicy p;
  p.scrypt_log2_n = 10;
  return p;
}

std::unique_ptr<AccountStore> OpenStore(const TempDir& dir, SignInPolicy policy = FastPolicy()) {
  auto store = AccountStore::Open(dir.path(), policy);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

Account Clerk(const std::string& name) {
  Account a;
  a.name = name;
  a.display_name = "陳小明";
  a.role = Role::kClerk;
  a.agency = "A15060000H";
  return a;
}

Account Admin(const std::string& name) {
  Account a;
  a.name = name;
  a.display_name = "Admin";
  a.role = Role::kAdmin;
  return a;
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

unsigned ModeOf(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

TEST(PasswordHash, RoundTripsAtProductionCost) {
  const std::string h = HashPassword(kPassword);
  EXPECT_EQ(h.rfind("$scrypt$ln=15,r=8,p=1$", 0), 0u) << h;
  EXPECT_TRUE(VerifyPassword(kPassword, h));
  EXPECT_FALSE(VerifyPassword(kPassword + " ", h));
  EXPECT_FALSE(VerifyPassword("", h));
  const std::string again = HashPassword(kPassword);
  EXPECT_NE(again, h);  // a new salt each time
  EXPECT_TRUE(VerifyPassword(kPassword, again));
}

TEST(PasswordHash, RefusesTamperedStrings) {
  const std::string h = HashPassword(kPassword, 10);
  ASSERT_TRUE(VerifyPassword(kPassword, h));
  // One character of the hash changed: in the middle, and the last before the padding, which
  // also carries bits the padding leaves over (they must not be ignored).
  const std::string_view kBase64Alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (const size_t pos : {h.size() - 20, h.find_last_not_of('=')}) {
    // The lowest bit of the last character is left over by the padding: flipping it gives the
    // same key bytes to a decoder that ignores those bits.
    const size_t value = kBase64Alphabet.find(h[pos]);
    ASSERT_NE(value, std::string::npos);
    for (const char replacement : {kBase64Alphabet[value ^ 1], kBase64Alphabet[value ^ 16]}) {
      std::string hash_changed = h;
      hash_changed[pos] = replacement;
      EXPECT_FALSE(VerifyPassword(kPassword, hash_changed)) << hash_changed;
    }
  }
  // One character of the salt changed.
  std::string salt_changed = h;
  const size_t salt = salt_changed.find("p=1$") + 4;
  salt_changed[salt] = salt_changed[salt] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPassword(kPassword, salt_changed));
  // The parameters changed: the key no longer matches.
  std::string cost_changed = h;
  cost_changed.replace(cost_changed.find("ln=10"), 5, "ln=11");
  EXPECT_FALSE(VerifyPassword(kPassword, cost_changed));
  // Malformed or insane.
  for (const std::string& bad : {
           std::string(),
           std::string("$scrypt$"),
           h.substr(0, h.size() - 4),
           h.substr(1),
           "$bcrypt" + h.substr(7),
           std::string(h).replace(h.find("ln=10"), 5, "ln=40"),
           std::string(h).replace(h.find("r=8"), 3, "r=x"),
           std::string(h).replace(h.find("p=1"), 3, "p=1,q=2"),
           h + "$extra",
       })
    EXPECT_FALSE(VerifyPassword(kPassword, bad)) << bad;
}

TEST(Roles, NamesRoundTrip) {
  for (Role r : {Role::kClerk, Role::kAuditor, Role::kRecords, Role::kOperator, Role::kAdmin}) {
    auto parsed = ParseRole(RoleName(r));
    ASSERT_OK(parsed);
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_EQ(RoleName(Role::kOperator), "operator");
  EXPECT_EQ(RoleName(Role::kRecords), "records");
  auto bad = ParseRole("Admin");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  for (const char* name : {"clerk", "auditor", "records", "operator", "admin"})
    EXPECT_NE(bad.status().message().find(name), std::string::npos) << name;
}

TEST(AccountStore, AddsGetsListsAndRemoves) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(ModeOf(dir.path() / "console"), 0700u);
  EXPECT_EQ(ModeOf(dir.path() / "console" / "accounts.db"), 0600u);

  ASSERT_OK(store->Add(Clerk("mei.chen"), kPassword));
  Account admin = Admin("root-admin");
  admin.created_at = 1'700'000'000;
  ASSERT_OK(store->Add(admin, kPassword));

  auto got = store->Get("mei.chen");
  ASSERT_OK(got);
  EXPECT_EQ(got->name, "mei.chen");
  EXPECT_EQ(got->display_name, "陳小明");
  EXPECT_EQ(got->role, Role::kClerk);
  EXPECT_EQ(got->agency, "A15060000H");
  EXPECT_FALSE(got->totp);
  EXPECT_GT(got->created_at, 0);
  EXPECT_EQ(got->password_changed_at, got->created_at);
  EXPECT_EQ(got->failures, 0);
  EXPECT_EQ(got->locked_until, 0);
  auto got_admin = store->Get("root-admin");
  ASSERT_OK(got_admin);
  EXPECT_EQ(got_admin->created_at, 1'700'000'000);

  Status again = store->Add(Clerk("mei.chen"), kPassword);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();

  auto list = store->List();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "mei.chen");
  EXPECT_EQ((*list)[1].name, "root-admin");

  ASSERT_OK(store->Remove("mei.chen"));
  EXPECT_EQ(store->Get("mei.chen").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Remove("mei.chen").code(), StatusCode::kNotFound);
  // The last admin stays: without one no one could manage accounts.
  EXPECT_EQ(store->Remove("root-admin").code(), StatusCode::kFailedPrecondition);

  // Kept across reopening.
  store.reset();
  store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  auto reopened = store->List();
  ASSERT_OK(reopened);
  ASSERT_EQ(reopened->size(), 1u);
  EXPECT_EQ((*reopened)[0].name, "root-admin");
}

TEST(AccountStore, RefusesBadAccounts) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  for (const std::string& name : {std::string(), std::string("Alice"), std::string("a b"),
                                  std::string("陳"), std::string("x@y"), std::string(65, 'a')}) {
    Status st = store->Add(Clerk(name), kPassword);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << name << ": " << st.ToString();
  }
  EXPECT_OK(store->Add(Clerk(std::string(64, 'a')), kPassword));
  EXPECT_OK(store->Add(Clerk("a.b_c-9"), kPassword));

  Account no_agency = Clerk("no-agency");
  no_agency.agency.clear();
  EXPECT_EQ(store->Add(no_agency, kPassword).code(), StatusCode::kInvalidArgument);
  Account auditor = no_agency;
  auditor.role = Role::kAuditor;  // only clerks need an agency
  EXPECT_OK(store->Add(auditor, kPassword));

  EXPECT_EQ(store->Add(Clerk("short"), "eleven-char").code(), StatusCode::kInvalidArgument);
  EXPECT_OK(store->Add(Clerk("twelve"), "twelve-chars"));
  // Characters, not bytes: twelve Chinese characters are enough, six are not (18 bytes).
  EXPECT_OK(store->Add(Clerk("zh12"), "我的密碼是很長的一句話啊"));
  EXPECT_EQ(store->Add(Clerk("zh6"), "我的密碼很短").code(), StatusCode::kInvalidArgument);

  Account with_totp = Clerk("with-totp");
  with_totp.totp = true;
  EXPECT_EQ(store->Add(with_totp, kPassword).code(), StatusCode::kInvalidArgument);

  Account control = Clerk("control");
  control.display_name = "a\nb";
  EXPECT_EQ(store->Add(control, kPassword).code(), StatusCode::kInvalidArgument);

  // None of the refused ones was stored.
  auto list = store->List();
  ASSERT_OK(list);
  EXPECT_EQ(list->size(), 5u);
}

TEST(SignIn, GivesASessionForTheRightPassword) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto s = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(s);
  EXPECT_TRUE(IsHex64(s->token)) << s->token;
  EXPECT_TRUE(IsHex64(s->csrf)) << s->csrf;
  EXPECT_NE(s->token, s->csrf);
  EXPECT_EQ(s->account, "mei");
  EXPECT_EQ(s->role, Role::kClerk);
  EXPECT_EQ(s->agency, "A15060000H");
  EXPECT_EQ(s->created_at, kNow);
  EXPECT_EQ(s->last_seen, kNow);
  EXPECT_EQ(s->expires_at, kNow + 1800);
  auto other = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(other);
  EXPECT_NE(other->token, s->token);
  EXPECT_NE(other->csrf, s->csrf);
}

TEST(SignIn, WrongPasswordAndUnknownNameLookAlike) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto wrong = store->SignIn("mei", kPassword + "x", "", kNow);
  auto unknown = store->SignIn("nobody", kPassword, "", kNow);
  auto invalid = store->SignIn("Not A Name", kPassword, "", kNow);
  ASSERT_FALSE(wrong.ok());
  ASSERT_FALSE(unknown.ok());
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(wrong.status().message(), "wrong name, password or code");
  EXPECT_EQ(unknown.status().ToString(), wrong.status().ToString());
  EXPECT_EQ(invalid.status().ToString(), wrong.status().ToString());
}

TEST(SignIn, LocksAfterRepeatedFailures) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  for (int i = 1; i <= 4; ++i) {
    auto r = store->SignIn("mei", "not the password", "", kNow + i);
    EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << i;
  }
  // The fifth failure locks, and says so.
  auto fifth = store->SignIn("mei", "not the password", "", kNow + 5);
  EXPECT_EQ(fifth.status().code(), StatusCode::kFailedPrecondition) << fifth.status().ToString();
  auto account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_EQ(account->failures, 5);
  EXPECT_EQ(account->locked_until, kNow + 5 + 900);

  // Even the right password fails while locked, saying until when and who can help.
  auto locked = store->SignIn("mei", kPassword, "", kNow + 6);
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(locked.status().message().find("2027-01-15T08:15:05Z"), std::string::npos)
      << locked.status().message();
  EXPECT_NE(locked.status().message().find("admin can unlock"), std::string::npos)
      << locked.status().message();
  EXPECT_EQ(store->SignIn("mei", kPassword, "", kNow + 5 + 899).status().code(),
            StatusCode::kFailedPrecondition);
  // Once lockout_seconds have passed, the right password works again.
  EXPECT_OK(store->SignIn("mei", kPassword, "", kNow + 5 + 900));
  account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_EQ(account->failures, 0);
  EXPECT_EQ(account->locked_until, 0);
}

TEST(SignIn, UnlockEndsALockout) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  for (int i = 0; i < 5; ++i) (void)store->SignIn("mei", "not the password", "", kNow);
  ASSERT_EQ(store->SignIn("mei", kPassword, "", kNow).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_OK(store->Unlock("mei"));
  auto account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_EQ(account->failures, 0);
  EXPECT_EQ(account->locked_until, 0);
  EXPECT_OK(store->SignIn("mei", kPassword, "", kNow));
  EXPECT_EQ(store->Unlock("nobody").code(), StatusCode::kNotFound);
}

TEST(SignIn, SuccessResetsTheFailureCount) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  for (int i = 0; i < 4; ++i) (void)store->SignIn("mei", "not the password", "", kNow);
  auto account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_EQ(account->failures, 4);
  ASSERT_OK(store->SignIn("mei", kPassword, "", kNow));
  account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_EQ(account->failures, 0);
  // Four more do not lock, as they would have without the reset.
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(store->SignIn("mei", "not the password", "", kNow).status().code(),
              StatusCode::kPermissionDenied);
  EXPECT_OK(store->SignIn("mei", kPassword, "", kNow));
}

TEST(SignIn, RequiresTheTotpCodeWhenEnabled) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  EXPECT_EQ(store->EnableTotp("nobody").status().code(), StatusCode::kNotFound);
  auto secret_text = store->EnableTotp("mei");
  ASSERT_OK(secret_text);
  EXPECT_EQ(secret_text->size(), 32u);  // 20 bytes, unpadded
  auto secret = Base32Decode(*secret_text);
  ASSERT_OK(secret);
  ASSERT_EQ(secret->size(), 20u);
  auto account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_TRUE(account->totp);

  const std::string code = TotpCode(*secret, kNow);
  std::string wrong = code;
  wrong[0] = wrong[0] == '9' ? '0' : static_cast<char>(wrong[0] + 1);
  auto no_code = store->SignIn("mei", kPassword, "", kNow);
  auto wrong_code = store->SignIn("mei", kPassword, wrong, kNow);
  auto wrong_password = store->SignIn("mei", "not the password", code, kNow);
  EXPECT_EQ(no_code.status().ToString(), "PermissionDenied: wrong name, password or code");
  EXPECT_EQ(wrong_code.status().ToString(), no_code.status().ToString());
  EXPECT_EQ(wrong_password.status().ToString(), no_code.status().ToString());

  auto s = store->SignIn("mei", kPassword, code, kNow);
  ASSERT_OK(s);
  EXPECT_EQ(s->account, "mei");
  // A code signs in once: the same code again is refused, the next step's is accepted.
  EXPECT_EQ(store->SignIn("mei", kPassword, code, kNow + 1).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_OK(store->SignIn("mei", kPassword, TotpCode(*secret, kNow + 30), kNow + 30));

  ASSERT_OK(store->DisableTotp("mei"));
  account = store->Get("mei");
  ASSERT_OK(account);
  EXPECT_FALSE(account->totp);
  EXPECT_OK(store->SignIn("mei", kPassword, "", kNow + 60));
}

TEST(Sessions, ResumeSlidesAndExpires) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto s = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(s);

  auto r = store->Resume(s->token, kNow + 100);
  ASSERT_OK(r);
  EXPECT_EQ(r->account, "mei");
  EXPECT_EQ(r->csrf, s->csrf);
  EXPECT_EQ(r->role, Role::kClerk);
  EXPECT_EQ(r->agency, "A15060000H");
  EXPECT_EQ(r->created_at, kNow);
  EXPECT_EQ(r->last_seen, kNow + 100);
  EXPECT_EQ(r->expires_at, kNow + 100 + 1800);
  // Slid: 1799 s after the last use is still within the idle time, though 1899 s after
  // sign-in.
  ASSERT_OK(store->Resume(s->token, kNow + 100 + 1799));
  // Idle for 1800 s: over.
  auto idle = store->Resume(s->token, kNow + 100 + 1799 + 1800);
  EXPECT_EQ(idle.status().code(), StatusCode::kNotFound) << idle.status().ToString();
  EXPECT_EQ(store->Resume(s->token, kNow + 100 + 1799 + 1).status().code(),
            StatusCode::kNotFound);  // and gone for good

  EXPECT_EQ(store->Resume("no such token", kNow).status().code(), StatusCode::kNotFound);
}

TEST(Sessions, EndAtTheAbsoluteLimitHoweverBusy) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto s = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(s);
  int64_t t = kNow;
  for (; t + 1000 < kNow + 12 * 3600; t += 1000) {
    auto r = store->Resume(s->token, t + 1000);
    ASSERT_OK(r);
    EXPECT_LE(r->expires_at, kNow + 12 * 3600);
  }
  auto last = store->Resume(s->token, t);
  ASSERT_OK(last);
  EXPECT_EQ(last->expires_at, kNow + 12 * 3600);  // not t + 1800
  EXPECT_EQ(store->Resume(s->token, kNow + 12 * 3600).status().code(), StatusCode::kNotFound);
}

TEST(Sessions, EndWithSignOutPasswordChangeAndRemoval) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  ASSERT_OK(store->Add(Clerk("lin"), kPassword));

  auto a = store->SignIn("mei", kPassword, "", kNow);
  auto b = store->SignIn("mei", kPassword, "", kNow);
  auto c = store->SignIn("lin", kPassword, "", kNow);
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(c);
  ASSERT_OK(store->SignOut(a->token));
  EXPECT_EQ(store->Resume(a->token, kNow).status().code(), StatusCode::kNotFound);
  EXPECT_OK(store->Resume(b->token, kNow));
  EXPECT_OK(store->SignOut(a->token));  // again: nothing to do

  const std::string new_password = "a new and longer passphrase";
  ASSERT_OK(store->SetPassword("mei", new_password));
  EXPECT_EQ(store->Resume(b->token, kNow).status().code(), StatusCode::kNotFound);
  EXPECT_OK(store->Resume(c->token, kNow));  // another account's session stays
  EXPECT_EQ(store->SignIn("mei", kPassword, "", kNow).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_OK(store->SignIn("mei", new_password, "", kNow));
  EXPECT_EQ(store->SetPassword("mei", "short").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->SetPassword("nobody", new_password).code(), StatusCode::kNotFound);

  ASSERT_OK(store->Remove("lin"));
  EXPECT_EQ(store->Resume(c->token, kNow).status().code(), StatusCode::kNotFound);
}

TEST(Sessions, RoleChangesReachExistingSessions) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Admin("boss"), kPassword));
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto s = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(s);
  EXPECT_EQ(store->SetRole("mei", Role::kClerk, "").code(), StatusCode::kInvalidArgument);
  ASSERT_OK(store->SetRole("mei", Role::kAuditor, ""));
  auto r = store->Resume(s->token, kNow + 1);
  ASSERT_OK(r);
  EXPECT_EQ(r->role, Role::kAuditor);
  EXPECT_EQ(r->agency, "");
  EXPECT_EQ(store->SetRole("nobody", Role::kAuditor, "").code(), StatusCode::kNotFound);
  // The only admin cannot stop being one; with a second admin it can.
  EXPECT_EQ(store->SetRole("boss", Role::kOperator, "").code(), StatusCode::kFailedPrecondition);
  ASSERT_OK(store->SetRole("mei", Role::kAdmin, ""));
  EXPECT_OK(store->SetRole("boss", Role::kOperator, ""));
}

TEST(Sessions, DatabaseHoldsNoRawToken) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto s = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(s);
  const auto files_contain = [&](const std::string& needle) {
    bool found = false;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path() / "console")) {
      auto bytes = ReadFile(entry.path());
      EXPECT_TRUE(bytes.ok()) << entry.path();
      if (bytes.ok() && AsString(*bytes).find(needle) != std::string_view::npos) found = true;
    }
    return found;
  };
  // The search does find what is stored (the agency code, the CSRF token)…
  EXPECT_TRUE(files_contain("A15060000H"));
  EXPECT_TRUE(files_contain(s->csrf));
  // …but not the token, in text or as bytes, with the store open (WAL) or closed.
  auto raw = HexDecode(s->token);
  ASSERT_OK(raw);
  EXPECT_FALSE(files_contain(s->token));
  EXPECT_FALSE(files_contain(std::string(AsString(*raw))));
  store.reset();
  EXPECT_FALSE(files_contain(s->token));
  store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  EXPECT_OK(store->Resume(s->token, kNow + 1));
}

TEST(Sessions, CsrfMatchesOnlyItsOwnToken) {
  TempDir dir;
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Add(Clerk("mei"), kPassword));
  auto a = store->SignIn("mei", kPassword, "", kNow);
  auto b = store->SignIn("mei", kPassword, "", kNow);
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_TRUE(AccountStore::CsrfMatches(*a, a->csrf));
  EXPECT_FALSE(AccountStore::CsrfMatches(*a, b->csrf));
  EXPECT_FALSE(AccountStore::CsrfMatches(*a, ""));
  EXPECT_FALSE(AccountStore::CsrfMatches(*a, a->csrf.substr(0, 63)));
  EXPECT_FALSE(AccountStore::CsrfMatches(*a, a->token));
  Session empty;
  EXPECT_FALSE(AccountStore::CsrfMatches(empty, ""));
}

TEST(AccountStore, RefusesAPolicyOutOfRange) {
  TempDir dir;
  SignInPolicy p = FastPolicy();
  p.scrypt_log2_n = 4;
  EXPECT_EQ(AccountStore::Open(dir.path(), p).status().code(), StatusCode::kInvalidArgument);
  p = FastPolicy();
  p.max_failures = 0;
  EXPECT_EQ(AccountStore::Open(dir.path(), p).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::server
