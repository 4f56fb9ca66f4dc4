#include "base/sqlite.hpp"

#include <sqlite3.h>

#include <utility>

namespace tessera {

namespace {
// A database another process holds locked is waited for this long before Unavailable.
constexpr int kBusyTimeoutMs = 30000;
// Statements kept per database: distinct texts, and idle copies of one text (a statement
// in use by two callers at once is prepared twice).
constexpr size_t kMaxCachedTexts = 128;
constexpr size_t kMaxIdleCopies = 4;
}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status::IOError("cannot open database " + path.string() + ": " + message);
  }
  std::unique_ptr<Database> out(new Database(db, path));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  // WAL: readers do not block the writer; FULL: a commit is on the device when it returns.
  TESSERA_RETURN_IF_ERROR(
      out->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  return out;
}

Database::~Database() {
  {
    std::lock_guard lock(cache_->mutex);
    cache_->closed = true;
    for (auto& [sql, statements] : cache_->idle)
      for (sqlite3_stmt* stmt : statements) sqlite3_finalize(stmt);
    cache_->idle.clear();
  }
  sqlite3_close_v2(db_);
}

Status Database::Error(std::string_view what) const {
  const int code = sqlite3_errcode(db_) & 0xff;
  std::string message = std::string(what) + " (" + path_.string() + "): " + sqlite3_errmsg(db_);
  switch (code) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(message + "; another process holds the database");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(message);
    case SQLITE_CONSTRAINT:
      return Status::AlreadyExists(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::PermissionDenied(message);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return Status::IOError(message);
    default:
      return Status::Internal(message);
  }
}

Status Database::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    return Error("database statement failed");
  }
  return Status::Ok();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  {
    std::string text(sql);
    std::lock_guard lock(cache_->mutex);
    auto it = cache_->idle.find(text);
    if (it != cache_->idle.end() && !it->second.empty()) {
      sqlite3_stmt* stmt = it->second.back();
      it->second.pop_back();
      return Statement(this, stmt, std::move(text), cache_);
    }
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK)
    return Error("cannot prepare a database statement");
  return Statement(this, stmt, std::string(sql), cache_);
}

int64_t Database::LastInsertId() const {
  return sqlite3_last_insert_rowid(db_);
}

bool Database::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

int64_t Database::Changes() const {
  return sqlite3_changes64(db_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      sql_(std::move(other.sql_)),
      cache_(std::move(other.cache_)),
      bind_error_(std::move(other.bind_error_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Release();
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    sql_ = std::move(other.sql_);
    cache_ = std::move(other.cache_);
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Statement::~Statement() {
  Release();
}

void Statement::Release() {
  sqlite3_stmt* stmt = std::exchange(stmt_, nullptr);
  if (stmt == nullptr) return;
  // A statement left mid-way would hold its read transaction open while cached.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (cache_) {
    std::lock_guard lock(cache_->mutex);
    if (!cache_->closed) {
      auto [it, added] = cache_->idle.try_emplace(std::move(sql_));
      if ((!added || cache_->idle.size() <= kMaxCachedTexts) &&
          it->second.size() < kMaxIdleCopies) {
        it->second.push_back(stmt);
        return;
      }
      if (added) cache_->idle.erase(it);
    }
  }
  sqlite3_finalize(stmt);
}

Statement& Statement::Bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK && bind_error_.ok())
    bind_error_ = db_->Error("cannot bind a parameter");
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  if (sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8) !=
          SQLITE_OK &&
      bind_error_.ok())
    bind_error_ = db_->Error("cannot bind a parameter");
  return *this;
}

Statement& Statement::BindBlob(int index, ByteView blob) {
  static const uint8_t kEmpty = 0;  // a null pointer would bind NULL, not an empty blob
  if (sqlite3_bind_blob64(stmt_, index, blob.empty() ? &kEmpty : blob.data(), blob.size(),
                          SQLITE_TRANSIENT) != SQLITE_OK &&
      bind_error_.ok())
    bind_error_ = db_->Error("cannot bind a parameter");
  return *this;
}

Statement& Statement::BindNull(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK && bind_error_.ok())
    bind_error_ = db_->Error("cannot bind a parameter");
  return *this;
}

Result<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = db_->Error("database statement failed");
  sqlite3_reset(stmt_);
  return st;
}

Status Statement::Run() {
  Result<bool> r = Step();
  Reset();
  return r.status();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::Ok();
}

int64_t Statement::Int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::Text(int column) const {
  const unsigned char* p = sqlite3_column_text(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string();
}

Bytes Statement::Blob(int column) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  return p ? Bytes(p, p + sqlite3_column_bytes(stmt_, column)) : Bytes();
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Status Database::RunOne(std::string_view sql) {
  TESSERA_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
  return statement.Run();
}

Result<Transaction> Transaction::Begin(Database& db) {
  const bool nested = db.InTransaction();
  TESSERA_RETURN_IF_ERROR(db.RunOne(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE"));
  return Transaction(&db, nested);
}

Transaction::~Transaction() {
  if (db_) (void)db_->Exec(nested_ ? "ROLLBACK TO nested; RELEASE nested" : "ROLLBACK");
}

Status Transaction::Commit() {
  Database* db = std::exchange(db_, nullptr);
  Status st = db->RunOne(nested_ ? "RELEASE nested" : "COMMIT");
  if (!st.ok()) (void)db->Exec(nested_ ? "ROLLBACK TO nested; RELEASE nested" : "ROLLBACK");
  return st;
}

}  // namespace tessera
