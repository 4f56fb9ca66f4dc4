#include "archive/archive_snapshot.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/files.hpp"
#include "base/sqlite.hpp"

namespace tessera::archive {

namespace fs = std::filesystem;

namespace {

constexpr char kDatabase[] = "archive.db";

std::string SqlString(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A copy of a live SQLite database as of one moment (VACUUM INTO reads in one
// transaction; writers go on meanwhile).
Status CopyDatabase(const fs::path& from, const fs::path& to) {
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(from));
  Status st = db->Exec("VACUUM INTO " + SqlString(to.string()));
  if (!st.ok()) return Status(st.code(), "copying " + from.string() + ": " + st.message());
  return Status::Ok();
}

Status CopyPlainFile(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("copying " + from.string() + ": " + ec.message());
  fs::permissions(to, fs::status(from).permissions(), ec);
  if (ec) return Status::IOError("setting the mode of " + to.string() + ": " + ec.message());
  return Status::Ok();
}

Status LinkOrCopy(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
  if (errno == ENOENT) return Status::NotFound("message object " + from.string() + " is missing");
  if (errno != EXDEV && errno != EPERM && errno != EMLINK)
    return Status::IOError("linking " + from.string() + ": " + std::strerror(errno));
  return CopyPlainFile(from, to);
}

// Moves `from` to `to`, copying across file systems.
Status MoveInto(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (!ec) return Status::Ok();
  if (ec != std::errc::cross_device_link)
    return Status::IOError("moving " + from.string() + " to " + to.string() + ": " + ec.message());
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec)
    return Status::IOError("copying " + from.string() + " to " + to.string() + ": " + ec.message());
  fs::remove_all(from, ec);
  return Status::Ok();
}

}  // namespace

Result<StagedArchive> StageArchive(const fs::path& home, const fs::path& staging) {
  const fs::path archive = home / "archive";
  std::error_code ec;
  if (!fs::exists(archive / kDatabase, ec))
    return Status::NotFound("there is no archive in " + archive.string() +
                            " (nothing has been archived yet)");
  fs::remove_all(staging, ec);
  if (ec) return Status::IOError("clearing " + staging.string() + ": " + ec.message());
  TESSERA_RETURN_IF_ERROR(MakeDirs(staging / "archive" / "messages", 0700));

  StagedArchive out;
  TESSERA_RETURN_IF_ERROR(CopyDatabase(archive / kDatabase, staging / "archive" / kDatabase));
  out.bytes += fs::file_size(staging / "archive" / kDatabase, ec);
  // The key files (the archive key, and any other the archive keeps beside its database).
  for (const auto& entry : fs::directory_iterator(archive, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.rfind(kDatabase, 0) == 0) continue;
    TESSERA_RETURN_IF_ERROR(CopyPlainFile(entry.path(), staging / "archive" / name));
  }
  if (ec) return Status::IOError("listing " + archive.string() + ": " + ec.message());

  // Exactly the objects the copied database names.
  TESSERA_ASSIGN_OR_RETURN(auto copy, Database::Open(staging / "archive" / kDatabase));
  TESSERA_ASSIGN_OR_RETURN(Statement q, copy->Prepare("SELECT sha256, stored_size FROM messages"));
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    const std::string name = MessageObjectName(q.Blob(0));
    const fs::path target = staging / "archive" / name;
    TESSERA_RETURN_IF_ERROR(MakeDirs(target.parent_path(), 0700));
    TESSERA_RETURN_IF_ERROR(LinkOrCopy(archive / name, target));
    out.messages++;
    out.bytes += static_cast<uint64_t>(q.Int(1));
  }

  if (fs::exists(home / "audit.db", ec)) {
    TESSERA_RETURN_IF_ERROR(CopyDatabase(home / "audit.db", staging / "audit.db"));
    out.bytes += fs::file_size(staging / "audit.db", ec);
  }
  if (fs::exists(home / "audit.key", ec))
    TESSERA_RETURN_IF_ERROR(CopyPlainFile(home / "audit.key", staging / "audit.key"));
  return out;
}

Result<VerifyReport> InstallStagedArchive(const fs::path& staged, const fs::path& home) {
  std::error_code ec;
  if (!fs::exists(staged / "archive" / kDatabase, ec))
    return Status::NotFound(staged.string() +
                            " is not a copy of an archive (no archive/archive.db in it)");
  for (const fs::path& existing : {home / "archive" / kDatabase, home / "audit.db"})
    if (fs::exists(existing, ec))
      return Status::AlreadyExists(existing.string() +
                                   " exists: recover into a home without an archive (move it "
                                   "away, or choose another TESSERA_HOME)");
  TESSERA_RETURN_IF_ERROR(MakeDirs(home, 0700));
  // An archive directory without a database (say, an index left behind) makes way.
  fs::remove_all(home / "archive", ec);
  TESSERA_RETURN_IF_ERROR(MoveInto(staged / "archive", home / "archive"));
  for (const char* name : {"audit.db", "audit.key"})
    if (fs::exists(staged / name, ec))
      TESSERA_RETURN_IF_ERROR(MoveInto(staged / name, home / name));
  TESSERA_RETURN_IF_ERROR(SyncFileSystem(home));
  TESSERA_ASSIGN_OR_RETURN(auto store, MessageStore::Open(home / "archive"));
  return store->Verify(/*read_messages=*/true);
}

}  // namespace tessera::archive
