// Exporting archived messages in the forms mail clients open: one .eml file per message,
// or one mbox (mboxrd: lines starting with "From ", after any '>'s, gain one '>', which
// ReadMbox and mail clients take off again). Every message is read through the store a
// piece at a time (memory stays bounded whatever its size) and checked against its
// SHA-256 on the way out; a file is put in place (renamed from a hidden temporary name)
// only after every message in it passed that check, so a damaged message never leaves a
// file that looks complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "archive/message_store.hpp"
#include "base/status.hpp"

namespace tessera::archive {

// Writes `ids` to the mbox file `out`, which appears whole or not at all. A message that
// does not end with a line break gets one (mbox cannot hold it otherwise).
Status ExportMbox(MessageStore& store, const std::vector<int64_t>& ids,
                  const std::filesystem::path& out);

// Writes each message to `dir`/<id>.eml, exactly as received; `dir` is created if needed.
Status ExportEml(MessageStore& store, const std::vector<int64_t>& ids,
                 const std::filesystem::path& dir);

}  // namespace tessera::archive
