// File-system helpers that keep committed data safe: a write is either wholly there
// after a crash or not there at all.
#pragma once

#include <filesystem>
#include <string>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera {

// Writes `data` to `path` durably: a temporary file in the same directory, fsync,
// rename over `path`, fsync of the directory. `mode` applies to the new file. Files of
// kDirectMinSize bytes or more are written with direct I/O where the file system allows,
// so they do not pass through (or evict others from) the page cache.
inline constexpr size_t kDirectMinSize = 256 * 1024;
Status WriteFileAtomic(const std::filesystem::path& path, ByteView data, unsigned mode = 0644);
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data,
                       unsigned mode = 0644);

// Reads a whole file. NotFound if it does not exist.
Result<Bytes> ReadFile(const std::filesystem::path& path);
Result<std::string> ReadTextFile(const std::filesystem::path& path);

// Creates the directory and its parents (like mkdir -p) with `mode` for new ones.
Status MakeDirs(const std::filesystem::path& path, unsigned mode = 0755);

// fsyncs a directory so that a rename or create inside it survives a crash.
Status SyncDirectory(const std::filesystem::path& dir);

}  // namespace tessera
