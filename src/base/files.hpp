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
// The same without waiting for the device (no fsync of the file or its directory): for
// writers that make many files durable at once with SyncFileSystem before they count.
Status WriteFileAtomicUnsynced(const std::filesystem::path& path, ByteView data,
                               unsigned mode = 0644);
// Makes everything written to the file system holding `path` durable (syncfs).
Status SyncFileSystem(const std::filesystem::path& path);
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data,
                       unsigned mode = 0644);

// Writes all of `data` at `offset` of `fd` (pwrite, retried until done).
Status WriteAllAt(int fd, ByteView data, uint64_t offset, const std::filesystem::path& path);

// Direct I/O moves whole blocks of this size at offsets that are multiples of it (4096
// covers devices with 512- and 4096-byte sectors, and the page size).
inline constexpr size_t kDirectAlign = 4096;

// Writes the first whole kDirectAlign blocks of `data` at `offset` (a multiple of
// kDirectAlign) to `fd`, opened with O_DIRECT: straight from `data` where it starts on
// a kDirectAlign boundary, through an aligned per-thread buffer otherwise.
// Returns how many bytes it wrote: fewer than the whole blocks (never an error) where the
// device refuses the alignment; the caller writes the rest through the page cache.
Result<size_t> WriteDirectAt(int fd, ByteView data, uint64_t offset,
                             const std::filesystem::path& path);

// Reads a whole file. NotFound if it does not exist.
Result<Bytes> ReadFile(const std::filesystem::path& path);
Result<std::string> ReadTextFile(const std::filesystem::path& path);

// Permission bits as people write them: "0644", "4755".
std::string FormatMode(uint32_t mode);

// Creates the directory and its parents (like mkdir -p) with `mode` for new ones.
Status MakeDirs(const std::filesystem::path& path, unsigned mode = 0755);

// fsyncs one file written by other means (a stream), so its data survives a crash.
Status SyncFile(const std::filesystem::path& path);
// fsyncs a directory so that a rename or create inside it survives a crash.
Status SyncDirectory(const std::filesystem::path& dir);

}  // namespace tessera
