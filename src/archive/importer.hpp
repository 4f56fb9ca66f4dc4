// Importing mail that already exists: mbox files, Maildir folders, and .eml files, or
// directories holding any mix of them. Every message is archived even when it cannot be
// parsed (raw, with the problem reported); only what is not a message at all (an empty
// file, one that cannot be read) is rejected, with the reason. Re-running an import that
// was interrupted continues it: files finished before are skipped, and messages archived
// before are recognised and counted as duplicates, never stored twice.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archive/message_store.hpp"
#include "base/progress.hpp"
#include "base/status.hpp"

namespace tessera::archive {

struct ImportIssue {
  std::string origin;  // file, and message number within an mbox
  std::string reason;
};

struct ImportReport {
  uint64_t files = 0;          // files read
  uint64_t files_skipped = 0;  // finished by an earlier import and unchanged since
  uint64_t messages = 0;       // messages found in the files read
  uint64_t imported = 0;       // recorded now (a new message, or a new delivery of one)
  uint64_t duplicates = 0;     // archived before, same folder and envelope
  uint64_t bytes = 0;
  std::vector<ImportIssue> rejected;  // not archived, and why
  std::vector<ImportIssue> problems;  // archived, but parsing guessed or failed somewhere
};

// The largest message an import accepts; larger ones are rejected with the reason.
constexpr uint64_t kMaxImportMessage = uint64_t{256} << 20;

// Imports `paths` (files or directories). Fails (NotFound) before importing anything if a
// path does not exist; a storage failure stops the import with what was archived so far
// committed.
Result<ImportReport> Import(MessageStore& store, const std::vector<std::string>& paths,
                            Progress* progress);

// One message of an mbox (mboxrd or mboxo: lines ">From " lose one '>'), with the
// envelope sender and time of its "From " line when they parse.
struct MboxMessage {
  Bytes raw;
  std::string envelope_from;
  int64_t envelope_time = 0;  // 0 when the line gives none
  uint64_t offset = 0;        // of its "From " line in the file
  uint64_t number = 0;        // 1 for the first message
};
// Reads the mbox at `path` one message at a time (an mbox may be larger than memory),
// calling `message` for each; stops at the first error either returns. A file that does
// not start with a "From " line is InvalidArgument.
Status ReadMbox(const std::string& path, const std::function<Status(MboxMessage&)>& message);

}  // namespace tessera::archive
