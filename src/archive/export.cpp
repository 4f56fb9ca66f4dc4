#include "archive/export.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "archive/mbox.hpp"
#include "base/files.hpp"

namespace tessera::archive {

namespace fs = std::filesystem;

namespace {}  // namespace

Status ExportMbox(MessageStore& store, const std::vector<int64_t>& ids, const fs::path& out) {
  const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp.string(), errno);
  uint64_t offset = 0;
  Status st;
  for (int64_t id : ids) {
    auto raw = store.Raw(id);
    if (!raw.ok()) {
      st = raw.status();
      break;
    }
    auto deliveries = store.Deliveries(id);
    std::string sender;
    int64_t when = 0;
    if (deliveries.ok() && !deliveries->empty()) {
      sender = deliveries->front().delivery.envelope_from;
      when = deliveries->front().delivery.received_at;
    }
    const std::string entry = MboxEntry(*raw, sender, when);
    st = WriteAllAt(fd, AsBytes(entry), offset, tmp);
    if (!st.ok()) break;
    offset += entry.size();
  }
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("cannot sync " + tmp.string(), errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), out.c_str()) != 0)
    st = Status::FromErrno("cannot rename " + tmp.string() + " to " + out.string(), errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return SyncDirectory(out.has_parent_path() ? out.parent_path() : fs::path("."));
}

Status ExportEml(MessageStore& store, const std::vector<int64_t>& ids, const fs::path& dir) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  for (int64_t id : ids) {
    TESSERA_ASSIGN_OR_RETURN(Bytes raw, store.Raw(id));
    TESSERA_RETURN_IF_ERROR(WriteFileAtomic(dir / (std::to_string(id) + ".eml"), raw, 0600));
  }
  return Status::Ok();
}

}  // namespace tessera::archive
