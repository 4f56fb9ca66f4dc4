// Who may use the web console, and the checks at its door: local accounts with scrypt
// password hashes, an optional TOTP second factor (server/totp.hpp), lockout after repeated
// failed sign-ins, and sessions for cookies with a CSRF token each. The HTTP layer sets the
// cookie (Secure, HttpOnly, SameSite=Strict), checks the CSRF token of every request that
// changes something, and decides what each role may do; this file stores and checks.
//
// Roles: clerk (own mail, own agency's documents), auditor (search all, read-only),
// records (the records officer, 檔案管理人員: reads all mail and keeps retention), operator
// (vault, exchange registry, suspension), admin (accounts, roles).
//
// Nothing here logs, and no error message holds a password, a TOTP secret or code, or a
// session or CSRF token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace tessera {
class Database;
}

namespace tessera::server {

enum class Role { kClerk, kAuditor, kRecords, kOperator, kAdmin };
// "clerk", "auditor", "records", "operator", "admin".
std::string_view RoleName(Role role);
// The role of one of those five names (exactly, lower case); InvalidArgument listing them.
Result<Role> ParseRole(std::string_view name);

struct Account {
  std::string name;          // sign-in name: [a-z0-9._-], 1..64 characters
  std::string display_name;  // UTF-8 (may be Chinese), at most 256 bytes, no control characters
  Role role = Role::kClerk;
  std::string agency;      // a clerk's agency code (required for clerks), else may be empty:
                           // [A-Za-z0-9._-], at most 32 characters
  bool totp = false;       // a TOTP code is required at sign-in (set by EnableTotp, not by Add)
  bool directory = false;  // the password is the directory's (LDAP, SetDirectory); none here
  int64_t created_at = 0, password_changed_at = 0;  // Unix seconds
  int failures = 0;                                 // consecutive failed sign-ins
  int64_t locked_until = 0;                         // Unix seconds; 0: not locked
};

// Valid sign-in names: 1..64 of a-z 0-9 . _ -
bool IsValidAccountName(std::string_view name);

struct SignInPolicy {
  int max_failures = 5;                  // consecutive failed sign-ins that lock the account…
  int64_t lockout_seconds = 900;         // …for this long (or until an admin unlocks it)
  int64_t idle_seconds = 1800;           // a session unused this long ends
  int64_t absolute_seconds = 12 * 3600;  // and any session ends this long after sign-in
  size_t min_password_length = 12;       // in characters (UTF-8 code points)
  // The cost of new password hashes: scrypt N = 2^scrypt_log2_n (10..20). Leave it at 15
  // (32 MiB, ~50-100 ms) in production; tests lower it to 10 only to run quickly. Existing
  // hashes keep the cost they were made with.
  int scrypt_log2_n = 15;
};

struct Session {
  std::string token;         // for the cookie: 64 hex digits (32 random bytes)
  std::string csrf;          // for forms and headers: 64 hex digits (32 random bytes), per session
  std::string account;       // the account's name
  Role role = Role::kClerk;  // the account's role and agency as they are now (a change of
  std::string agency;        // role applies to existing sessions at their next Resume)
  int64_t created_at = 0, last_seen = 0, expires_at = 0;  // Unix seconds
};

// Checks a password against a directory (server/ldap_auth.hpp): true when it is the
// account's, false when it is not; an error when the directory cannot answer.
using PasswordVerifier =
    std::function<Result<bool>(const std::string& name, const std::string& password)>;

// Passwords longer than this many bytes are refused (InvalidArgument) when set.
constexpr size_t kMaxPasswordBytes = 1024;
constexpr int kScryptLog2N = 15;

// "$scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>": scrypt (N = 2^log2_n, r = 8, p = 1)
// of the password with a new 16-byte random salt, 32-byte key. Hashing the same password
// twice gives different strings. `log2_n` other than 15 is for tests (see SignInPolicy);
// outside 1..20 it is a caller's bug and aborts, as does an OpenSSL failure (memory
// exhausted), which the signature gives no way to report.
std::string HashPassword(const std::string& password, int log2_n = kScryptLog2N);
// Whether `password` is the one `encoded` was made from, using the parameters written in
// `encoded` (so that they can be raised later), compared in constant time. False also for
// a malformed string, a key other than 32 bytes, or parameters beyond sanity (more than
// 1 GiB of memory).
bool VerifyPassword(const std::string& password, const std::string& encoded);

// The accounts and sessions of an installation, in <home>/console/accounts.db (SQLite, WAL).
// The directory is 0700 and the database 0600, its journal files likewise: the file holds
// the TOTP secrets as they are (a verifier needs them; they are not hashes), so whoever can
// read it can make codes for every account with a second factor. Passwords are only there
// as scrypt hashes and session tokens only as SHA-256, so a copy of the file gives neither
// passwords nor live sessions. Encrypting the TOTP secrets at rest is a possible later step.
// Safe to use from several threads.
class AccountStore {
 public:
  // Creates the directory and database as needed. InvalidArgument for a policy out of range
  // (max_failures < 1, a duration < 1, scrypt_log2_n outside 10..20).
  static Result<std::unique_ptr<AccountStore>> Open(const std::filesystem::path& home,
                                                    SignInPolicy policy = {});
  ~AccountStore();
  AccountStore(const AccountStore&) = delete;
  AccountStore& operator=(const AccountStore&) = delete;

  // Adds an account (its failures and locked_until are ignored; created_at 0 means now).
  // AlreadyExists for a name in use; InvalidArgument for a bad name, display name or agency,
  // a clerk without an agency, a password shorter than the policy or longer than
  // kMaxPasswordBytes, or a.totp set (enable TOTP with EnableTotp after adding). With
  // a.directory, `password` must be empty: the directory checks it at sign-in.
  Status Add(const Account& a, const std::string& password);
  // A new password (same rules as Add); ends every session of the account. Leaves a
  // lockout as it is (Unlock ends it). An account of the directory becomes a local one.
  // NotFound for an unknown name.
  Status SetPassword(const std::string& name, const std::string& password);
  // A new role and agency (a clerk needs one), which the account's sessions take at their
  // next Resume. FailedPrecondition when it would leave no admin. NotFound, InvalidArgument.
  Status SetRole(const std::string& name, Role role, const std::string& agency);
  // Removes the account and ends its sessions. FailedPrecondition for the last admin.
  Status Remove(const std::string& name);
  Result<Account> Get(const std::string& name);
  // Every account, by name.
  Result<std::vector<Account>> List();
  // A new random 20-byte TOTP secret for the account (replacing any earlier one), returned
  // once as unpadded base32 for the user's authenticator app (TotpUri); from now on a code
  // is required at sign-in. NotFound for an unknown name.
  Result<std::string> EnableTotp(const std::string& name);
  // Sign-in without a code again; forgets the secret. NotFound for an unknown name.
  Status DisableTotp(const std::string& name);
  // Ends a lockout and clears the failure count. NotFound for an unknown name.
  Status Unlock(const std::string& name);

  // A new session when the name, password and (for an account with TOTP) code are right.
  // PermissionDenied "wrong name, password or code" when any of them is wrong, the same
  // text and the same scrypt work whether the name exists or not, so neither the answer nor
  // its time tells which names exist. A TOTP code is accepted within ±1 step (30 s) and
  // only once: a code already used to sign in is refused.
  // A failure counts toward the lockout; the one reaching policy.max_failures locks the
  // account for policy.lockout_seconds and returns FailedPrecondition, as does every sign-in
  // while locked (saying until when, and that an admin can unlock it; the password is not
  // checked meanwhile). This does reveal that a locked name exists, to whoever made it lock.
  // Success resets the count. Unknown names are not counted: limiting attempts per client
  // address is the HTTP layer's part. Also forgets expired sessions.
  Result<Session> SignIn(const std::string& name, const std::string& password,
                         const std::string& totp_code, int64_t now);
  // The session of a cookie token, with last_seen moved to `now` and expires_at to
  // min(now + idle_seconds, created_at + absolute_seconds). NotFound when the token is
  // unknown, signed out, or expired (idle or absolute).
  Result<Session> Resume(const std::string& token, int64_t now);
  // Ends the session of `token`; OK also when there is none.
  Status SignOut(const std::string& token);
  // Where the passwords of directory accounts are checked. Without it they cannot sign
  // in (the answer is the same "wrong name, password or code"). Call before SignIn is used.
  void SetDirectory(PasswordVerifier verify) { directory_ = std::move(verify); }
  // Whether `presented` is the session's CSRF token, compared in constant time.
  static bool CsrfMatches(const Session& s, std::string_view presented);

 private:
  AccountStore(std::unique_ptr<Database> db, SignInPolicy policy);
  // Whether removing `name` as an admin (or changing its role) would leave no admin.
  Result<bool> IsLastAdmin(const std::string& name);
  Status CountFailure(const std::string& name, int64_t now, bool* locked, int64_t* until);

  std::unique_ptr<Database> db_;
  SignInPolicy policy_;
  std::string dummy_hash_;  // verified against for unknown names: costs what a real one does
  PasswordVerifier directory_;
  std::mutex mutex_;  // one user of the connection at a time (transactions); not held
                      // during scrypt
};

}  // namespace tessera::server
