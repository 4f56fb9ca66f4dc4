#include "archive/tnef.hpp"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>

#include "archive/attachment_text.hpp"
#include "archive/charset.hpp"
#include "base/files.hpp"
#include "base/utf8.hpp"

namespace tessera::archive {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxUnpacked = uint64_t{256} << 20;

// A private directory, removed with what is in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "tessera-tnef-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

bool IsTnef(const MailAttachment& a) {
  const std::string type = AsciiLower(a.content_type);
  return type == "application/ms-tnef" || type == "application/vnd.ms-tnef" ||
         AsciiLower(a.filename) == "winmail.dat";
}

Result<std::vector<MailAttachment>> UnpackTnef(ByteView tnef) {
  ScratchDir scratch;
  if (scratch.path().empty()) return Status::IOError("cannot make a temporary directory");
  const fs::path input = scratch.path() / "winmail.dat";
  const fs::path out = scratch.path() / "files";
  TESSERA_RETURN_IF_ERROR(MakeDirs(out, 0700));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomicUnsynced(input, tnef, 0600));
  TESSERA_RETURN_IF_ERROR(
      RunTextFilter({"tnef", "--number-backups", "-f", input.string(), "-C", out.string()},
                    std::chrono::seconds(60))
          .status());
  std::vector<MailAttachment> files;
  uint64_t total = 0;
  std::error_code ec;
  std::vector<fs::path> names;
  for (const auto& entry : fs::directory_iterator(out, ec))
    if (entry.is_regular_file(ec) && !entry.is_symlink(ec)) names.push_back(entry.path());
  std::sort(names.begin(), names.end());
  for (const fs::path& path : names) {
    total += fs::file_size(path, ec);
    if (total > kMaxUnpacked) return Status::InvalidArgument("its files come to more than 256 MiB");
    TESSERA_ASSIGN_OR_RETURN(Bytes content, ReadFile(path));
    MailAttachment a;
    // Names are bytes as Outlook wrote them: UTF-8, or the sender's code page (Big5).
    a.filename = DecodeText(path.filename().string(), "").utf8;
    a.content_type = "application/octet-stream";
    a.content = std::move(content);
    files.push_back(std::move(a));
  }
  return files;
}

}  // namespace tessera::archive
