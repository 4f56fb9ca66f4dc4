// A small SQLite wrapper that speaks the project's error model: every failure is a
// Status with the database's own message, and a busy database is waited for, not
// reported. Databases are opened in WAL mode with full synchronisation, so that a
// committed transaction survives a crash or a power cut.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tessera {

class Statement;

class Database {
 public:
  // Opens (creating it if needed) the database file at `path`.
  static Result<std::unique_ptr<Database>> Open(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  // One statement. Statements are kept when done with and handed out again for the same
  // text, so a statement run often is compiled once, not each time (compiling costs more
  // than running most of them).
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertId() const;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;
  bool InTransaction() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  // Statements done with, by their text, for Prepare to hand out again. Shared with the
  // statements themselves, so one that outlives its database finalizes itself instead.
  struct StatementCache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<sqlite3_stmt*>> idle;
    bool closed = false;
  };

  Database(sqlite3* db, std::filesystem::path path)
      : db_(db), path_(std::move(path)), cache_(std::make_shared<StatementCache>()) {}
  Status Error(std::string_view what) const;
  // One statement through the cache (for the transaction statements run most often).
  Status RunOne(std::string_view sql);
  friend class Statement;
  friend class Transaction;
  sqlite3* db_;
  std::filesystem::path path_;
  std::shared_ptr<StatementCache> cache_;
};

// A prepared statement. Parameters are numbered from 1, columns from 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, ByteView blob);
  Statement& BindNull(int index);
  // Runs the statement to its next row: true when there is one, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows (or ignores them) and resets it.
  Status Run();
  // Clears the bindings and rewinds, for reuse.
  void Reset();

  int64_t Int(int column) const;
  std::string Text(int column) const;
  Bytes Blob(int column) const;
  bool IsNull(int column) const;

 private:
  friend class Database;
  Statement(Database* db, sqlite3_stmt* stmt, std::string sql,
            std::shared_ptr<Database::StatementCache> cache)
      : db_(db), stmt_(stmt), sql_(std::move(sql)), cache_(std::move(cache)) {}
  // Returns the statement to its database's cache, or finalizes it.
  void Release();
  Database* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;  // as given to Prepare: the cache's key
  std::shared_ptr<Database::StatementCache> cache_;
  Status bind_error_;  // the first failed Bind, reported by Step/Run
};

// BEGIN IMMEDIATE … COMMIT; rolled back unless Commit() was called. Begun while another
// transaction is open on the database, it is a savepoint inside it: its Commit keeps its
// changes for the outer commit, and dropping it undoes only its own.
class Transaction {
 public:
  static Result<Transaction> Begin(Database& db);
  Transaction(Transaction&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), nested_(other.nested_) {}
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  Transaction(Database* db, bool nested) : db_(db), nested_(nested) {}
  Database* db_;
  bool nested_;
};

}  // namespace tessera
