// Importing mail that already exists: mbox files, Maildir folders, and .eml files, or
// directories holding any mix of them. Every message is archived even when it cannot be
// parsed (raw, with the problem reported); only what is not a message at all (an empty
// file, one that cannot be read) is rejected, with the reason. Re-running an import that
// was interrupted continues it: files finished before are skipped, and messages archived
// before are recognised and counted as duplicates, never stored twice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "archive/mbox.hpp"
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

// "" when `raw` may be archived; otherwise why not: a destruction batch destroyed these
// bytes (the Archives Act's destruction must not be undone by importing an old copy).
Result<std::string> WhyNotArchivedAgain(MessageStore& store, ByteView raw);

// Imports `paths` (files or directories), committing in groups of up to 500 messages.
// Fails (NotFound) before importing anything if a path does not exist; a storage failure
// stops the import with the groups before it committed.
Result<ImportReport> Import(MessageStore& store, const std::vector<std::string>& paths,
                            Progress* progress);

}  // namespace tessera::archive
