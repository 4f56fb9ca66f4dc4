#include "archive/importer.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/hash.hpp"

namespace tessera::archive {

namespace fs = std::filesystem;

namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};

bool StartsWith(ByteView data, std::string_view prefix) {
  return data.size() >= prefix.size() &&
         std::memcmp(data.data(), prefix.data(), prefix.size()) == 0;
}

// A file that starts like a message: a header field name and a colon on its first line.
bool LooksLikeMessage(ByteView head) {
  size_t i = 0;
  while (i < head.size() && head[i] > 32 && head[i] < 127 && head[i] != ':') ++i;
  return i > 0 && i < head.size() && head[i] == ':';
}

// The folder a file or directory is in, as the import names it: its path relative to
// the directory the imported path lies in ("Maildir/.Sent", "mail/2024"); "" for a file
// given directly.
std::string FolderName(const fs::path& dir, const fs::path& base) {
  std::string rel = dir.lexically_relative(base).generic_string();
  return rel == "." ? "" : rel;
}

bool IsMaildir(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir / "cur", ec) && fs::is_directory(dir / "new", ec);
}

class Importer {
 public:
  Importer(MessageStore& store, Progress* progress) : store_(store), progress_(progress) {}

  Status ImportPath(const fs::path& path) {
    std::error_code ec;
    const fs::path base = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (fs::is_directory(path, ec)) return ImportDir(path, base);
    return ImportFile(path, "", /*given=*/true);
  }

  ImportReport& report() { return report_; }

 private:
  Status ImportDir(const fs::path& dir, const fs::path& base) {
    std::vector<fs::path> files, dirs;
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    if (ec) {
      Reject(dir.string(), "cannot list the directory: " + ec.message());
      return Status::Ok();
    }
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      const std::string name = it->path().filename().string();
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        dirs.push_back(it->path());
      } else if (it->is_regular_file(ec) && !name.starts_with(".")) {
        files.push_back(it->path());
      }
    }
    std::sort(files.begin(), files.end());
    std::sort(dirs.begin(), dirs.end());
    const bool maildir = IsMaildir(dir);
    const std::string folder = FolderName(dir, base);
    if (maildir) {
      for (const char* sub : {"cur", "new"})
        TESSERA_RETURN_IF_ERROR(ImportMaildirPart(dir / sub, folder));
    }
    for (const fs::path& f : files) {
      // Next to cur/new/tmp a Maildir keeps its own state files, not mail.
      if (maildir) continue;
      TESSERA_RETURN_IF_ERROR(ImportFile(f, folder, /*given=*/false));
    }
    for (const fs::path& d : dirs) {
      const std::string name = d.filename().string();
      if (maildir && (name == "cur" || name == "new" || name == "tmp")) continue;
      TESSERA_RETURN_IF_ERROR(ImportDir(d, base));
    }
    return Status::Ok();
  }

  Status ImportMaildirPart(const fs::path& dir, const std::string& folder) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && !it->path().filename().string().starts_with("."))
        files.push_back(it->path());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) TESSERA_RETURN_IF_ERROR(ImportMessageFile(f, folder));
    return Status::Ok();
  }

  // One file: an mbox if it starts with a "From " line, else one message. A file met in
  // a directory walk that does not look like mail is rejected rather than archived.
  Status ImportFile(const fs::path& path, const std::string& folder, bool given) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      Reject(path.string(), std::string("cannot read: ") + std::strerror(errno));
      return Status::Ok();
    }
    TESSERA_ASSIGN_OR_RETURN(
        bool done, store_.FileImported(fs::absolute(path).string(),
                                       static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec));
    if (done) {
      report_.files_skipped++;
      return Status::Ok();
    }
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) {
      Reject(path.string(), std::string("cannot read: ") + std::strerror(errno));
      return Status::Ok();
    }
    uint8_t head[256];
    const size_t n = std::fread(head, 1, sizeof(head), f.get());
    f.reset();
    const ByteView start(head, n);
    if (StartsWith(start, "From ")) {
      std::string mbox_folder = folder;
      std::string stem = path.filename().string();
      if (stem.ends_with(".mbox")) stem.resize(stem.size() - 5);
      mbox_folder += (mbox_folder.empty() ? "" : "/") + stem;
      return ImportMbox(path, mbox_folder, st);
    }
    const std::string ext = path.extension().string();
    if (!given && ext != ".eml" && ext != ".msg" && !LooksLikeMessage(start)) {
      Reject(path.string(), "not a mail message or mbox (no header field at its start)");
      return Status::Ok();
    }
    const size_t rejected_before = report_.rejected.size();
    TESSERA_RETURN_IF_ERROR(ImportMessageFile(path, folder));
    // A file that was rejected is tried (and reported) again next time.
    if (report_.rejected.size() != rejected_before) return Status::Ok();
    return store_.MarkFileImported(fs::absolute(path).string(), static_cast<uint64_t>(st.st_size),
                                   st.st_mtim.tv_sec, 1);
  }

  Status ImportMessageFile(const fs::path& path, const std::string& folder) {
    report_.files++;
    auto raw = ReadFile(path);
    if (!raw.ok()) {
      Reject(path.string(), "cannot read: " + raw.status().message());
      return Status::Ok();
    }
    struct stat st {};
    const int64_t mtime = ::stat(path.c_str(), &st) == 0 ? st.st_mtim.tv_sec : 0;
    return Archive(*raw, path.string(), folder, "", mtime);
  }

  Status ImportMbox(const fs::path& path, const std::string& folder, const struct stat& st) {
    report_.files++;
    uint64_t count = 0;
    const size_t rejected_before = report_.rejected.size();
    Status read = ReadMbox(path.string(), [&](MboxMessage& m) -> Status {
      ++count;
      const std::string origin = path.string() + " message " + std::to_string(m.number) +
                                 " (offset " + std::to_string(m.offset) + ")";
      return Archive(m.raw, origin, folder, m.envelope_from, m.envelope_time);
    });
    if (!read.ok()) {
      // A storage failure stops the import; a file that cannot be read is reported.
      if (read.code() != StatusCode::kIOError && read.code() != StatusCode::kInvalidArgument &&
          read.code() != StatusCode::kNotFound && read.code() != StatusCode::kPermissionDenied)
        return read;
      Reject(path.string(), read.message());
      return Status::Ok();
    }
    if (report_.rejected.size() != rejected_before) return Status::Ok();
    return store_.MarkFileImported(fs::absolute(path).string(), static_cast<uint64_t>(st.st_size),
                                   st.st_mtim.tv_sec, count);
  }

  Status Archive(const Bytes& raw, const std::string& origin, const std::string& folder,
                 const std::string& envelope_from, int64_t received_at) {
    report_.messages++;
    if (raw.empty()) {
      Reject(origin, "empty: no message");
      return Status::Ok();
    }
    if (raw.size() > kMaxImportMessage) {
      Reject(origin, "larger than " + HumanBytes(kMaxImportMessage) + " (" +
                         HumanBytes(raw.size()) + "); split it or raise the limit");
      return Status::Ok();
    }
    TESSERA_ASSIGN_OR_RETURN(std::string destroyed, WhyNotArchivedAgain(store_, raw));
    if (!destroyed.empty()) {
      Reject(origin, destroyed);
      return Status::Ok();
    }
    ParsedMessage parsed;
    if (auto p = ParseMessage(raw); p.ok()) {
      parsed = std::move(*p);
      if (!parsed.problems.empty()) {
        std::string all;
        for (const std::string& problem : parsed.problems)
          all += (all.empty() ? "" : "; ") + problem;
        Problem(origin, all + " (archived as received)");
      }
    } else {
      Problem(origin, "cannot be parsed: " + p.status().message() + " (archived as received)");
    }
    Delivery d;
    d.source = "import";
    d.origin = origin;
    d.folder = folder;
    d.envelope_from = envelope_from;
    d.received_at = received_at != 0 ? received_at : static_cast<int64_t>(std::time(nullptr));
    TESSERA_ASSIGN_OR_RETURN(AddOutcome added, store_.Add(raw, parsed, d));
    TESSERA_RETURN_IF_ERROR(CommitEvery(raw.size()));
    if (added.new_delivery)
      report_.imported++;
    else
      report_.duplicates++;
    report_.bytes += raw.size();
    if (progress_) {
      progress_->Add(1, raw.size());
      progress_->Tick(origin);
    }
    return Status::Ok();
  }

  // Messages are committed in groups (one file-system sync per group, see
  // MessageStore::BeginBatch): up to 500 messages, 32 MiB or 2 seconds of work, so that an
  // interrupted import loses little work and a reader waits little for the database.
  Status CommitEvery(size_t bytes) {
    constexpr uint64_t kMessages = 500, kBytes = uint64_t{32} << 20;
    constexpr auto kTime = std::chrono::seconds(2);
    if (!store_.in_batch()) return Status::Ok();
    batch_messages_++;
    batch_bytes_ += bytes;
    if (batch_messages_ < kMessages && batch_bytes_ < kBytes &&
        std::chrono::steady_clock::now() - batch_start_ < kTime)
      return Status::Ok();
    TESSERA_RETURN_IF_ERROR(store_.CommitBatch());
    return BeginBatch();
  }

 public:
  Status BeginBatch() {
    batch_messages_ = 0;
    batch_bytes_ = 0;
    batch_start_ = std::chrono::steady_clock::now();
    return store_.BeginBatch();
  }
  Status CommitBatch() { return store_.CommitBatch(); }

 private:
  uint64_t batch_messages_ = 0, batch_bytes_ = 0;
  std::chrono::steady_clock::time_point batch_start_;

  void Reject(const std::string& origin, std::string reason) {
    report_.rejected.push_back({origin, std::move(reason)});
  }
  void Problem(const std::string& origin, std::string what) {
    report_.problems.push_back({origin, std::move(what)});
  }

  MessageStore& store_;
  Progress* progress_;
  ImportReport report_;
};

}  // namespace

Result<std::string> WhyNotArchivedAgain(MessageStore& store, ByteView raw) {
  const Bytes sha = crypto::Sha256(raw);
  TESSERA_ASSIGN_OR_RETURN(std::optional<DestroyedMessage> destroyed,
                           store.FindDestroyedBySha256(sha));
  if (!destroyed) return std::string();
  TESSERA_ASSIGN_OR_RETURN(std::optional<int64_t> present, store.FindBySha256(sha));
  if (present) return std::string();  // archived again since (journaled anew): a duplicate
  return "destroyed by destruction batch " + std::to_string(destroyed->batch) + " on " +
         FormatRfc3339(destroyed->destroyed_at * 1000000000).substr(0, 10) + "; not archived again";
}

Result<ImportReport> Import(MessageStore& store, const std::vector<std::string>& paths,
                            Progress* progress) {
  for (const std::string& p : paths) {
    std::error_code ec;
    if (!fs::exists(p, ec)) return Status::NotFound(p + ": no such file or directory");
  }
  Importer importer(store, progress);
  TESSERA_RETURN_IF_ERROR(importer.BeginBatch());
  // On a failure the open group is rolled back (a message may be half recorded in it);
  // the groups committed before stay, and the import run again goes on from there.
  for (const std::string& p : paths) TESSERA_RETURN_IF_ERROR(importer.ImportPath(fs::path(p)));
  TESSERA_RETURN_IF_ERROR(importer.CommitBatch());
  return std::move(importer.report());
}

}  // namespace tessera::archive
