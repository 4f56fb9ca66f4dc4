#include "store/object_store.hpp"

#include "base/utf8.hpp"
#include "store/file_store.hpp"
#include "store/s3_store.hpp"

namespace tessera::store {

Result<std::unique_ptr<ObjectStore>> OpenStore(const std::string& url,
                                               const StoreOptions& options) {
  // URLs go into the vault's configuration, which is JSON: text only.
  if (!IsValidUtf8(url)) return Status::InvalidArgument("a store URL must be UTF-8 text");
  if (url.starts_with("file:")) {
    TESSERA_ASSIGN_OR_RETURN(auto s, FileStore::Open(url));
    return std::unique_ptr<ObjectStore>(std::move(s));
  }
  if (url.starts_with("s3:")) {
    TESSERA_ASSIGN_OR_RETURN(auto s, S3Store::Open(url, options));
    return std::unique_ptr<ObjectStore>(std::move(s));
  }
  // Only the scheme is repeated: the rest of a URL may hold something private.
  size_t colon = url.find(':');
  std::string scheme = colon == std::string::npos ? "" : url.substr(0, std::min<size_t>(colon, 20));
  return Status::InvalidArgument((scheme.empty() ? std::string("store location is not a URL")
                                                 : "unsupported store scheme \"" + scheme + "\"") +
                                 ": expected file:///absolute/path or s3://bucket/prefix");
}

}  // namespace tessera::store
