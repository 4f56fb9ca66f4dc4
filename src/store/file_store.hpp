// An ObjectStore in a local directory (file:///abs/path): object "a/b/c" is the file
// ROOT/a/b/c. Writes are durable (temp file, fsync, rename, fsync of the directory), so a
// crash leaves the old or the new object, never a torn one. Unlike a bucket, a directory
// cannot hold both "a" and "a/b": the second Put of such a pair fails with IOError.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "store/object_store.hpp"

namespace tessera::store {

class FileStore : public ObjectStore {
 public:
  // `url` is file:///abs/path. InvalidArgument for anything else. The directory need not
  // exist yet (Create makes it; other operations then report Unavailable).
  static Result<std::unique_ptr<FileStore>> Open(const std::string& url);

  std::string Url() const override;
  Status Put(const std::string& name, ByteView data) override;
  // Put without waiting for the device; the object is durable only after SyncAll().
  Status PutUnsynced(const std::string& name, ByteView data);
  // Makes every object written so far durable.
  Status SyncAll();
  // Put of an object too large to hold in memory: `write` hands its bytes, in order, to
  // the function it is given. As durable as Put (with `sync`; else as PutUnsynced), and
  // nothing is left behind when `write` or the writing fails.
  using ObjectWriter = std::function<Status(const std::function<Status(ByteView)>&)>;
  Status PutStreamed(const std::string& name, const ObjectWriter& write, bool sync);
  Result<Bytes> Get(const std::string& name) override;
  Result<uint64_t> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;
  Status Ping() override;
  Status Create() override;

  const std::filesystem::path& root() const { return root_; }

  // True for the name of a temporary file that a Put in progress (or one cut short by a
  // crash) leaves behind; List skips these and Put refuses names that look like them.
  static bool IsTempFileName(std::string_view file_name);

 private:
  explicit FileStore(std::filesystem::path root);
  Status CheckName(const std::string& name) const;
  // The status to report when a path below the root was not found: Unavailable if the root
  // itself is gone (an unmounted drive must not look like missing objects), else `st`.
  Status RootGoneOr(Status st) const;
  Status Error(const std::string& op, const std::string& name, const Status& st) const;
  Status PutImpl(const std::string& name, ByteView data, bool sync);

  std::filesystem::path root_;
  std::string url_;
};

}  // namespace tessera::store
