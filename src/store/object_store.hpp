// Where bytes live: a flat namespace of named objects ("data/3f/3fa2...") in one place
// (a local directory, an S3 bucket prefix). Every method is safe to call from several
// threads at once. Errors: NotFound for a missing object, Unavailable when the store
// cannot be reached (after retries), PermissionDenied for refused credentials, IOError
// otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::store {

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // The store's location for people and configuration files, without any secret.
  virtual std::string Url() const = 0;
  // Creates or replaces `name` atomically: a reader sees the old or the new whole object.
  virtual Status Put(const std::string& name, ByteView data) = 0;
  virtual Result<Bytes> Get(const std::string& name) = 0;
  // Size of the object; NotFound if missing.
  virtual Result<uint64_t> Stat(const std::string& name) = 0;
  // Objects whose name starts with `prefix`, in name order.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix) = 0;
  // Removing a missing object is not an error.
  virtual Status Delete(const std::string& name) = 0;
  // OK if the store is reachable and usable (the directory or bucket exists).
  virtual Status Ping() = 0;
  // Creates the directory or bucket if needed (used by `vault init`).
  virtual Status Create() = 0;
};

// Settings for opening stores; values given here win over the URL's query and the
// environment.
struct StoreOptions {
  std::string s3_endpoint;  // e.g. http://127.0.0.1:7480 ; else ?endpoint= or $TESSERA_S3_ENDPOINT
  std::string s3_region;    // else ?region= or $AWS_DEFAULT_REGION / $AWS_REGION, else us-east-1
  std::string s3_access_key;  // else $AWS_ACCESS_KEY_ID
  std::string s3_secret_key;  // else $AWS_SECRET_ACCESS_KEY
  // Named credential profiles (from tessera.toml [s3.profiles.NAME]); a URL selects one
  // with ?profile=NAME. Keys: endpoint, region, access_key, secret_key. The profile named
  // "" (tessera.toml's plain [s3] section) gives defaults for every s3:// store.
  std::map<std::string, std::map<std::string, std::string>> s3_profiles;
  int retries = 5;              // attempts after the first, with exponential back-off
  double timeout_seconds = 60;  // per request
};

// Opens a store from a URL: file:///abs/path, or s3://bucket/prefix[?endpoint=..&region=..
// &profile=..]. InvalidArgument for an unknown scheme or malformed URL.
Result<std::unique_ptr<ObjectStore>> OpenStore(const std::string& url,
                                               const StoreOptions& options = {});

}  // namespace tessera::store
