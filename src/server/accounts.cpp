#include "server/accounts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/sqlite.hpp"
#include "base/utf8.hpp"
#include "crypto/hash.hpp"
#include "crypto/passphrase.hpp"
#include "crypto/random.hpp"
#include "server/totp.hpp"

namespace tessera::server {
namespace fs = std::filesystem;
namespace {

// totp_last_step: the time step of the last code accepted, so that a code seen over a
// shoulder or replayed from a proxy log does not sign in a second time (RFC 6238 5.2).
// sessions.token_hash: SHA-256 of the cookie token; the token itself is never stored, so a
// copy of the database (a backup, a stolen disk) cannot be turned into a live session.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS accounts(
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  agency TEXT NOT NULL,
  password TEXT NOT NULL,
  totp_secret BLOB,
  totp_last_step INTEGER NOT NULL DEFAULT -1,
  created_at INTEGER NOT NULL,
  password_changed_at INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS sessions(
  token_hash BLOB PRIMARY KEY,
  csrf TEXT NOT NULL,
  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_account ON sessions(account);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires_at);
)sql";

constexpr std::string_view kDenied = "wrong name, password or code";
// The password column of an account whose password the directory checks: never a hash.
constexpr std::string_view kDirectoryPassword = "directory";
constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;
constexpr size_t kTotpSecretBytes = 20;
constexpr int kMinLog2N = 10, kMaxLog2N = 20;
// The most memory a stored hash may make VerifyPassword use: a tampered or corrupt database
// must not be able to exhaust the server.
constexpr uint64_t kMaxScryptMemory = uint64_t{1} << 30;

std::string ScryptPrefix(int log2_n) {
  return "$scrypt$ln=" + std::to_string(log2_n) + ",r=8,p=1$";
}

Result<std::string> MakeHash(const std::string& password, int log2_n) {
  const Bytes salt = crypto::RandomBytes(kSaltBytes);
  crypto::ScryptParams params;
  params.n = uint64_t{1} << log2_n;
  params.r = 8;
  params.p = 1;
  TESSERA_ASSIGN_OR_RETURN(SecretBytes key,
                           crypto::DeriveKeyFromPassphrase(password, salt, params, kKeyBytes));
  return ScryptPrefix(log2_n) + Base64Encode(salt) + "$" + Base64Encode(key.view());
}

// "ln=15,r=8,p=1" exactly in that order, each a plain decimal number.
bool ParseScryptParams(std::string_view text, int* log2_n, uint32_t* r, uint32_t* p) {
  uint64_t values[3] = {0, 0, 0};
  constexpr std::string_view kNames[3] = {"ln=", "r=", "p="};
  for (int i = 0; i < 3; ++i) {
    if (text.substr(0, kNames[i].size()) != kNames[i]) return false;
    text.remove_prefix(kNames[i].size());
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), values[i]);
    if (ec != std::errc() || end == text.data()) return false;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    if (i < 2) {
      if (text.empty() || text[0] != ',') return false;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return false;
  if (values[0] < 1 || values[0] > 30 || values[1] < 1 || values[1] > 64 || values[2] < 1 ||
      values[2] > 16)
    return false;
  *log2_n = static_cast<int>(values[0]);
  *r = static_cast<uint32_t>(values[1]);
  *p = static_cast<uint32_t>(values[2]);
  return true;
}

bool IsValidAgency(std::string_view agency) {
  return agency.size() <= 32 && std::all_of(agency.begin(), agency.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
         });
}

Status CheckRoleAndAgency(Role role, const std::string& agency) {
  if (!IsValidAgency(agency))
    return Status::InvalidArgument("an agency code has at most 32 of A-Z a-z 0-9 . _ -");
  if (role == Role::kClerk && agency.empty())
    return Status::InvalidArgument(
        "a clerk needs an agency code: a clerk sees their own agency's documents");
  return Status::Ok();
}

Status CheckAccountFields(const Account& a) {
  if (!IsValidAccountName(a.name))
    return Status::InvalidArgument(
        "a sign-in name has 1 to 64 of the characters a-z 0-9 . _ - (lower case)");
  if (a.display_name.size() > 256 || !IsValidUtf8(a.display_name) ||
      std::any_of(a.display_name.begin(), a.display_name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return Status::InvalidArgument(
        "a display name is UTF-8 text of at most 256 bytes without control characters");
  return CheckRoleAndAgency(a.role, a.agency);
}

Status CheckPassword(const std::string& password, const SignInPolicy& policy) {
  if (password.size() > kMaxPasswordBytes)
    return Status::InvalidArgument("a password may have at most " +
                                   std::to_string(kMaxPasswordBytes) + " bytes");
  if (!IsValidUtf8(password)) return Status::InvalidArgument("a password must be UTF-8 text");
  // Characters, not bytes: a Chinese passphrase is as long as it looks.
  const size_t characters = static_cast<size_t>(
      std::count_if(password.begin(), password.end(), [](char c) { return (c & 0xc0) != 0x80; }));
  if (characters < policy.min_password_length)
    return Status::InvalidArgument("a password needs at least " +
                                   std::to_string(policy.min_password_length) +
                                   " characters; a passphrase of several words is easiest");
  return Status::Ok();
}

Status NoAccount(const std::string& name) {
  return Status::NotFound("there is no console account named '" + name +
                          "'; the list of accounts shows which there are");
}

Status Locked(int64_t until, int max_failures) {
  return Status::FailedPrecondition("this account is locked after " + std::to_string(max_failures) +
                                    " failed sign-ins in a row, until " +
                                    FormatRfc3339(until * 1000000000) +
                                    "; try again then, or an admin can unlock it sooner");
}

constexpr const char* kAccountColumns =
    "name, display_name, role, agency, totp_secret IS NOT NULL, created_at, "
    "password_changed_at, failures, locked_until, password = 'directory'";

Result<Role> RoleFromDatabase(const std::string& account, const std::string& text) {
  auto role = ParseRole(text);
  if (!role.ok())
    return Status::Corruption("console account '" + account +
                              "' has an unknown role in the database: " + role.status().message());
  return role;
}

Result<Account> ReadAccount(const Statement& s) {
  Account a;
  a.name = s.Text(0);
  a.display_name = s.Text(1);
  TESSERA_ASSIGN_OR_RETURN(a.role, RoleFromDatabase(a.name, s.Text(2)));
  a.agency = s.Text(3);
  a.totp = s.Int(4) != 0;
  a.created_at = s.Int(5);
  a.password_changed_at = s.Int(6);
  a.failures = static_cast<int>(s.Int(7));
  a.locked_until = s.Int(8);
  a.directory = s.Int(9) != 0;
  return a;
}

Bytes TokenHash(std::string_view token) {
  return crypto::Sha256(AsBytes(token));
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kClerk:
      return "clerk";
    case Role::kAuditor:
      return "auditor";
    case Role::kRecords:
      return "records";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kClerk, Role::kAuditor, Role::kRecords, Role::kOperator, Role::kAdmin})
    if (RoleName(r) == name) return r;
  return Status::InvalidArgument("unknown role '" + std::string(name) +
                                 "'; the roles are clerk, auditor, records, operator and admin");
}

bool IsValidAccountName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

std::string HashPassword(const std::string& password, int log2_n) {
  if (log2_n < 1 || log2_n > kMaxLog2N) {
    std::fprintf(stderr, "tessera: HashPassword with scrypt ln=%d (a bug); aborting\n", log2_n);
    std::abort();
  }
  auto hash = MakeHash(password, log2_n);
  if (!hash.ok()) {
    // The contract has no way to report it; a wrong or empty hash would be worse.
    std::fprintf(stderr, "tessera: %s\n", hash.status().ToString().c_str());
    std::abort();
  }
  return *hash;
}

bool VerifyPassword(const std::string& password, const std::string& encoded) {
  std::string_view rest = encoded;
  constexpr std::string_view kScheme = "$scrypt$";
  if (rest.substr(0, kScheme.size()) != kScheme) return false;
  rest.remove_prefix(kScheme.size());
  const size_t dollar1 = rest.find('$');
  if (dollar1 == std::string_view::npos) return false;
  const size_t dollar2 = rest.find('$', dollar1 + 1);
  if (dollar2 == std::string_view::npos) return false;
  int log2_n = 0;
  uint32_t r = 0, p = 0;
  if (!ParseScryptParams(rest.substr(0, dollar1), &log2_n, &r, &p)) return false;
  if (uint64_t{128} * r * ((uint64_t{1} << log2_n) + p) > kMaxScryptMemory) return false;
  auto salt = Base64Decode(rest.substr(dollar1 + 1, dollar2 - dollar1 - 1));
  auto hash = Base64Decode(rest.substr(dollar2 + 1));
  // The key length is fixed: a shorter one would still verify (scrypt's output is a prefix
  // of its longer outputs), so a truncated hash string must not be taken for another length.
  if (!salt.ok() || !hash.ok() || salt->size() < 8 || salt->size() > 64 ||
      hash->size() != kKeyBytes)
    return false;
  crypto::ScryptParams params;
  params.n = uint64_t{1} << log2_n;
  params.r = r;
  params.p = p;
  auto key = crypto::DeriveKeyFromPassphrase(password, *salt, params, hash->size());
  if (!key.ok()) return false;
  return crypto::ConstantTimeEqual(key->view(), *hash);
}

AccountStore::AccountStore(std::unique_ptr<Database> db, SignInPolicy policy)
    : db_(std::move(db)), policy_(policy) {
  // Never matched (no password derives to 32 zero bytes), but verifying against it costs
  // one scrypt at the policy's cost, like verifying a real account's hash.
  dummy_hash_ = ScryptPrefix(policy_.scrypt_log2_n) + Base64Encode(Bytes(kSaltBytes, 0x5a)) + "$" +
                Base64Encode(Bytes(kKeyBytes, 0));
}

AccountStore::~AccountStore() = default;

Result<std::unique_ptr<AccountStore>> AccountStore::Open(const fs::path& home,
                                                         SignInPolicy policy) {
  if (policy.max_failures < 1 || policy.lockout_seconds < 1 || policy.idle_seconds < 1 ||
      policy.absolute_seconds < 1 || policy.scrypt_log2_n < kMinLog2N ||
      policy.scrypt_log2_n > kMaxLog2N)
    return Status::InvalidArgument(
        "the sign-in policy needs max_failures, lockout_seconds, idle_seconds and "
        "absolute_seconds of at least 1 and scrypt_log2_n from 10 to 20");
  const fs::path dir = home / "console";
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  // Also for a directory made by hand or by an older version with a looser mode.
  if (::chmod(dir.c_str(), 0700) != 0)
    return Status::FromErrno("cannot make " + dir.string() + " private (chmod 0700)", errno);
  // Created here with 0600 rather than by SQLite (0644 less the umask): SQLite gives its
  // -wal and -shm files the mode of the database file.
  const fs::path file = dir / "accounts.db";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const fs::path path = file.string() + suffix;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (*suffix ? 0 : O_CREAT), 0600);
    if (fd < 0) {
      if (errno == ENOENT && *suffix) continue;
      return Status::FromErrno("cannot open " + path.string(), errno);
    }
    const int rc = ::fchmod(fd, 0600);
    const int chmod_errno = errno;
    ::close(fd);
    if (rc != 0)
      return Status::FromErrno("cannot make " + path.string() + " private (chmod 0600)",
                               chmod_errno);
  }
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(file));
  TESSERA_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<AccountStore>(new AccountStore(std::move(db), policy));
}

Status AccountStore::Add(const Account& a, const std::string& password) {
  TESSERA_RETURN_IF_ERROR(CheckAccountFields(a));
  if (a.totp)
    return Status::InvalidArgument(
        "an account is added without TOTP; enable it afterwards (EnableTotp), which makes the "
        "secret to show to the user");
  if (a.directory) {
    if (!password.empty())
      return Status::InvalidArgument(
          "an account of the directory has no password here: the directory checks it");
  } else {
    TESSERA_RETURN_IF_ERROR(CheckPassword(password, policy_));
  }
  {
    std::lock_guard lock(mutex_);
    TESSERA_ASSIGN_OR_RETURN(Statement exists,
                             db_->Prepare("SELECT 1 FROM accounts WHERE name = ?"));
    TESSERA_ASSIGN_OR_RETURN(bool found, exists.Bind(1, a.name).Step());
    if (found)
      return Status::AlreadyExists("a console account named '" + a.name +
                                   "' exists already; choose another name");
  }
  std::string hash(kDirectoryPassword);
  if (!a.directory) {
    TESSERA_ASSIGN_OR_RETURN(hash, MakeHash(password, policy_.scrypt_log2_n));
  }
  const int64_t created = a.created_at != 0 ? a.created_at : NowUnixSeconds();
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(
      Statement insert,
      db_->Prepare("INSERT INTO accounts(name, display_name, role, agency, password, "
                   "created_at, password_changed_at) VALUES(?,?,?,?,?,?,?)"));
  Status st = insert.Bind(1, a.name)
                  .Bind(2, a.display_name)
                  .Bind(3, RoleName(a.role))
                  .Bind(4, a.agency)
                  .Bind(5, hash)
                  .Bind(6, created)
                  .Bind(7, created)
                  .Run();
  if (st.code() == StatusCode::kAlreadyExists)  // added meanwhile by another caller
    return Status::AlreadyExists("a console account named '" + a.name +
                                 "' exists already; choose another name");
  return st;
}

Status AccountStore::SetPassword(const std::string& name, const std::string& password) {
  TESSERA_RETURN_IF_ERROR(CheckPassword(password, policy_));
  TESSERA_ASSIGN_OR_RETURN(std::string hash, MakeHash(password, policy_.scrypt_log2_n));
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE accounts SET password = ?, password_changed_at = ? WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(update.Bind(1, hash).Bind(2, NowUnixSeconds()).Bind(3, name).Run());
  if (db_->Changes() == 0) return NoAccount(name);
  // Whoever knew the old password may hold a session: it ends with the password.
  TESSERA_ASSIGN_OR_RETURN(Statement end, db_->Prepare("DELETE FROM sessions WHERE account = ?"));
  TESSERA_RETURN_IF_ERROR(end.Bind(1, name).Run());
  return tx.Commit();
}

Result<bool> AccountStore::IsLastAdmin(const std::string& name) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement s, db_->Prepare("SELECT (SELECT role FROM accounts WHERE name = ?) = 'admin', "
                                "(SELECT COUNT(*) FROM accounts WHERE role = 'admin')"));
  TESSERA_ASSIGN_OR_RETURN(bool row, s.Bind(1, name).Step());
  return row && s.Int(0) == 1 && s.Int(1) <= 1;
}

Status AccountStore::SetRole(const std::string& name, Role role, const std::string& agency) {
  TESSERA_RETURN_IF_ERROR(CheckRoleAndAgency(role, agency));
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  if (role != Role::kAdmin) {
    TESSERA_ASSIGN_OR_RETURN(bool last, IsLastAdmin(name));
    if (last)
      return Status::FailedPrecondition("'" + name +
                                        "' is the last admin, and without one no one can manage "
                                        "accounts; make another account admin first");
  }
  TESSERA_ASSIGN_OR_RETURN(Statement update,
                           db_->Prepare("UPDATE accounts SET role = ?, agency = ? WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(update.Bind(1, RoleName(role)).Bind(2, agency).Bind(3, name).Run());
  if (db_->Changes() == 0) return NoAccount(name);
  return tx.Commit();
}

Status AccountStore::Remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(bool last, IsLastAdmin(name));
  if (last)
    return Status::FailedPrecondition("'" + name +
                                      "' is the last admin, and without one no one can manage "
                                      "accounts; make another account admin first");
  // Explicitly, not only through the foreign key, which depends on a connection setting.
  TESSERA_ASSIGN_OR_RETURN(Statement end, db_->Prepare("DELETE FROM sessions WHERE account = ?"));
  TESSERA_RETURN_IF_ERROR(end.Bind(1, name).Run());
  TESSERA_ASSIGN_OR_RETURN(Statement remove, db_->Prepare("DELETE FROM accounts WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(remove.Bind(1, name).Run());
  if (db_->Changes() == 0) return NoAccount(name);
  return tx.Commit();
}

Result<Account> AccountStore::Get(const std::string& name) {
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kAccountColumns +
                                                     " FROM accounts WHERE name = ?"));
  TESSERA_ASSIGN_OR_RETURN(bool found, s.Bind(1, name).Step());
  if (!found) return NoAccount(name);
  return ReadAccount(s);
}

Result<std::vector<Account>> AccountStore::List() {
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Statement s, db_->Prepare(std::string("SELECT ") + kAccountColumns +
                                                     " FROM accounts ORDER BY name"));
  std::vector<Account> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    TESSERA_ASSIGN_OR_RETURN(Account a, ReadAccount(s));
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::string> AccountStore::EnableTotp(const std::string& name) {
  SecretBytes secret(crypto::RandomBytes(kTotpSecretBytes));
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE accounts SET totp_secret = ?, totp_last_step = -1 WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(update.BindBlob(1, secret.view()).Bind(2, name).Run());
  if (db_->Changes() == 0) return NoAccount(name);
  return Base32Encode(secret.view(), /*pad=*/false);
}

Status AccountStore::DisableTotp(const std::string& name) {
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE accounts SET totp_secret = NULL, totp_last_step = -1 WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(update.Bind(1, name).Run());
  if (db_->Changes() == 0) return NoAccount(name);
  return Status::Ok();
}

Status AccountStore::Unlock(const std::string& name) {
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE accounts SET failures = 0, locked_until = 0 WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(update.Bind(1, name).Run());
  if (db_->Changes() == 0) return NoAccount(name);
  return Status::Ok();
}

// Counted in a transaction of its own after the (slow) checks, so that parallel guesses
// each count. Sets *until to the end of a lockout in force afterwards, else 0.
Status AccountStore::CountFailure(const std::string& name, int64_t now, bool* locked,
                                  int64_t* until) {
  *locked = false;
  *until = 0;
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
  TESSERA_ASSIGN_OR_RETURN(
      Statement read, db_->Prepare("SELECT failures, locked_until FROM accounts WHERE name = ?"));
  TESSERA_ASSIGN_OR_RETURN(bool found, read.Bind(1, name).Step());
  if (!found) return Status::Ok();  // removed meanwhile
  int64_t failures = read.Int(0);
  int64_t locked_until = read.Int(1);
  read.Reset();
  if (locked_until > now) {  // locked meanwhile by a parallel attempt
    *locked = true;
    *until = locked_until;
    return Status::Ok();
  }
  if (locked_until != 0) failures = 0;  // a lockout that has ended starts a new count
  ++failures;
  locked_until = failures >= policy_.max_failures ? now + policy_.lockout_seconds : 0;
  TESSERA_ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE accounts SET failures = ?, locked_until = ? WHERE name = ?"));
  TESSERA_RETURN_IF_ERROR(update.Bind(1, failures).Bind(2, locked_until).Bind(3, name).Run());
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  *locked = locked_until != 0;
  *until = locked_until;
  return Status::Ok();
}

Result<Session> AccountStore::SignIn(const std::string& name, const std::string& password,
                                     const std::string& totp_code, int64_t now) {
  if (password.size() > kMaxPasswordBytes) return Status::PermissionDenied(std::string(kDenied));
  // What the checks need, read under the lock; scrypt runs without it.
  bool found = false;
  std::string hash;
  std::optional<SecretBytes> totp_secret;
  Role role = Role::kClerk;
  std::string agency;
  {
    std::lock_guard lock(mutex_);
    TESSERA_ASSIGN_OR_RETURN(
        Statement read, db_->Prepare("SELECT password, totp_secret, role, agency, locked_until "
                                     "FROM accounts WHERE name = ?"));
    TESSERA_ASSIGN_OR_RETURN(found, read.Bind(1, name).Step());
    if (found) {
      const int64_t locked_until = read.Int(4);
      if (locked_until > now) return Locked(locked_until, policy_.max_failures);
      hash = read.Text(0);
      if (!read.IsNull(1)) totp_secret.emplace(read.Blob(1));
      TESSERA_ASSIGN_OR_RETURN(role, RoleFromDatabase(name, read.Text(2)));
      agency = read.Text(3);
    }
  }
  // Both checks run whatever the other's outcome, and an unknown name costs one scrypt
  // too: the time taken tells nothing about which part was wrong.
  bool password_ok = false;
  if (found && hash == kDirectoryPassword) {
    // An empty password would be an anonymous bind, which a directory accepts.
    if (directory_ && !password.empty()) {
      Result<bool> verified = directory_(name, password);
      if (!verified.ok())
        return Status::Unavailable("the directory cannot check the password now: " +
                                   verified.status().message());
      password_ok = *verified;
    }
  } else {
    password_ok = VerifyPassword(password, found ? hash : dummy_hash_);
  }
  std::optional<int64_t> step;
  if (totp_secret) step = TotpMatchedStep(totp_secret->view(), totp_code, now);
  if (!found) return Status::PermissionDenied(std::string(kDenied));
  if (password_ok && (!totp_secret || step)) {
    std::lock_guard lock(mutex_);
    TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db_));
    // Only if nothing changed since the checks: the password, the TOTP secret, a lockout by
    // parallel attempts; and only for a TOTP step later than the last one used.
    TESSERA_ASSIGN_OR_RETURN(
        Statement accept,
        db_->Prepare("UPDATE accounts SET failures = 0, locked_until = 0, "
                     "totp_last_step = CASE WHEN ?1 < 0 THEN totp_last_step ELSE ?1 END "
                     "WHERE name = ?2 AND password = ?3 AND totp_secret IS ?4 "
                     "AND locked_until <= ?5 AND (?1 < 0 OR totp_last_step < ?1)"));
    accept.Bind(1, step.value_or(-1)).Bind(2, name).Bind(3, hash).Bind(5, now);
    if (totp_secret)
      accept.BindBlob(4, totp_secret->view());
    else
      accept.BindNull(4);
    TESSERA_RETURN_IF_ERROR(accept.Run());
    if (db_->Changes() == 1) {
      TESSERA_ASSIGN_OR_RETURN(Statement expire,
                               db_->Prepare("DELETE FROM sessions WHERE expires_at <= ?"));
      TESSERA_RETURN_IF_ERROR(expire.Bind(1, now).Run());
      Session s;
      s.token = crypto::RandomId();
      s.csrf = crypto::RandomId();
      s.account = name;
      s.role = role;
      s.agency = agency;
      s.created_at = s.last_seen = now;
      s.expires_at = now + std::min(policy_.idle_seconds, policy_.absolute_seconds);
      TESSERA_ASSIGN_OR_RETURN(
          Statement insert,
          db_->Prepare("INSERT INTO sessions(token_hash, csrf, account, created_at, last_seen, "
                       "expires_at) VALUES(?,?,?,?,?,?)"));
      TESSERA_RETURN_IF_ERROR(insert.BindBlob(1, TokenHash(s.token))
                                  .Bind(2, s.csrf)
                                  .Bind(3, s.account)
                                  .Bind(4, s.created_at)
                                  .Bind(5, s.last_seen)
                                  .Bind(6, s.expires_at)
                                  .Run());
      TESSERA_RETURN_IF_ERROR(tx.Commit());
      return s;
    }
    // Something changed meanwhile, or the code was used before: a failure like any other.
  }
  bool locked = false;
  int64_t until = 0;
  TESSERA_RETURN_IF_ERROR(CountFailure(name, now, &locked, &until));
  if (locked) return Locked(until, policy_.max_failures);
  return Status::PermissionDenied(std::string(kDenied));
}

Result<Session> AccountStore::Resume(const std::string& token, int64_t now) {
  const Bytes token_hash = TokenHash(token);
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(
      Statement read,
      db_->Prepare("SELECT s.csrf, s.account, s.created_at, s.expires_at, a.role, a.agency "
                   "FROM sessions s JOIN accounts a ON a.name = s.account "
                   "WHERE s.token_hash = ?"));
  TESSERA_ASSIGN_OR_RETURN(bool found, read.BindBlob(1, token_hash).Step());
  const Status gone =
      Status::NotFound("no such session: it was signed out or has expired; sign in again");
  if (!found) return gone;
  Session s;
  s.token = token;
  s.csrf = read.Text(0);
  s.account = read.Text(1);
  s.created_at = read.Int(2);
  const int64_t expires_at = read.Int(3);
  TESSERA_ASSIGN_OR_RETURN(s.role, RoleFromDatabase(s.account, read.Text(4)));
  s.agency = read.Text(5);
  read.Reset();
  if (now >= expires_at) {
    TESSERA_ASSIGN_OR_RETURN(Statement remove,
                             db_->Prepare("DELETE FROM sessions WHERE token_hash = ?"));
    TESSERA_RETURN_IF_ERROR(remove.BindBlob(1, token_hash).Run());
    return gone;
  }
  s.last_seen = now;
  s.expires_at = std::min(now + policy_.idle_seconds, s.created_at + policy_.absolute_seconds);
  TESSERA_ASSIGN_OR_RETURN(
      Statement update,
      db_->Prepare("UPDATE sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ?"));
  TESSERA_RETURN_IF_ERROR(
      update.Bind(1, s.last_seen).Bind(2, s.expires_at).BindBlob(3, token_hash).Run());
  return s;
}

Status AccountStore::SignOut(const std::string& token) {
  std::lock_guard lock(mutex_);
  TESSERA_ASSIGN_OR_RETURN(Statement remove,
                           db_->Prepare("DELETE FROM sessions WHERE token_hash = ?"));
  return remove.BindBlob(1, TokenHash(token)).Run();
}

bool AccountStore::CsrfMatches(const Session& s, std::string_view presented) {
  return !s.csrf.empty() && crypto::ConstantTimeEqual(AsBytes(s.csrf), AsBytes(presented));
}

}  // namespace tessera::server
