#include "archive/export.hpp"

#include <string>

#include "archive/mbox.hpp"
#include "base/files.hpp"
#include "base/pending_file.hpp"

namespace tessera::archive {

namespace fs = std::filesystem;

namespace {

// The envelope sender and time of the message's first delivery, for its "From " line.
void FirstDelivery(MessageStore& store, int64_t id, std::string& sender, int64_t& when) {
  auto deliveries = store.Deliveries(id);
  if (deliveries.ok() && !deliveries->empty()) {
    sender = deliveries->front().delivery.envelope_from;
    when = deliveries->front().delivery.received_at;
  }
}

}  // namespace

Status ExportMbox(MessageStore& store, const std::vector<int64_t>& ids, const fs::path& out) {
  // Each message is read a piece at a time; the file is put in place only when every
  // message was read whole and matched its SHA-256.
  TESSERA_ASSIGN_OR_RETURN(PendingFile file, PendingFile::Create(out, 0600));
  for (int64_t id : ids) {
    std::string sender;
    int64_t when = 0;
    FirstDelivery(store, id, sender, when);
    MboxEntryWriter entry(sender, when, [&](std::string_view bytes) { return file.Append(bytes); });
    TESSERA_RETURN_IF_ERROR(store.ReadRaw(id, [&](ByteView piece) { return entry.Write(piece); }));
    TESSERA_RETURN_IF_ERROR(entry.Finish());
  }
  return file.Commit();
}

Status ExportEml(MessageStore& store, const std::vector<int64_t>& ids, const fs::path& dir) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  for (int64_t id : ids) {
    TESSERA_ASSIGN_OR_RETURN(PendingFile file,
                             PendingFile::Create(dir / (std::to_string(id) + ".eml"), 0600));
    TESSERA_RETURN_IF_ERROR(store.ReadRaw(id, [&](ByteView piece) { return file.Append(piece); }));
    TESSERA_RETURN_IF_ERROR(file.Commit());
  }
  return Status::Ok();
}

}  // namespace tessera::archive
