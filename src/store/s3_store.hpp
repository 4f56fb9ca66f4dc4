// An ObjectStore in an S3 bucket below a key prefix: s3://bucket/prefix, object "a/b" is
// the key "prefix/a/b". Path-style requests (ENDPOINT/bucket/key) signed with AWS
// Signature Version 4, so it works with AWS and with S3-compatible servers (Ceph radosgw,
// MinIO). Transient failures (connection errors, 5xx, 429, RequestTimeout) are retried
// with exponential back-off and jitter, bounded in time; 4xx answers are final.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/object_store.hpp"
#include "store/s3_sigv4.hpp"

namespace tessera::store {

// What an s3:// URL says. Credentials never come from a URL.
struct S3Url {
  std::string bucket;
  std::string prefix;  // key prefix without leading or trailing '/'; may be empty
  std::string endpoint, region, profile;  // from ?endpoint=&region=&profile=; empty if absent
};

// InvalidArgument for a malformed URL, a bad bucket name, an unknown query parameter or
// one that would carry a secret.
Result<S3Url> ParseS3Url(const std::string& url);
// The canonical text of `url` (what Url() returns): s3://bucket/prefix plus the query
// parameters it has, in a fixed order.
std::string FormatS3Url(const S3Url& url);

// The settings a store runs with, after resolving options, URL, profile and environment.
struct S3Config {
  std::string endpoint;  // "http://127.0.0.1:7480", no trailing '/'
  std::string host;      // the Host header: authority of the endpoint, default port dropped
  std::string region;
  std::string access_key;
  std::string secret_key;
  int retries = 5;
  double timeout_seconds = 60;
};

// Reads an environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> SystemEnv(const std::string& name);

// Each setting comes from the first source that has it: StoreOptions, then the URL query,
// then the profile the URL names (options.s3_profiles), then the environment
// (TESSERA_S3_ENDPOINT; AWS_DEFAULT_REGION, AWS_REGION; AWS_ACCESS_KEY_ID;
// AWS_SECRET_ACCESS_KEY). Defaults: region us-east-1, endpoint
// https://s3.REGION.amazonaws.com. InvalidArgument when the credentials are missing, the
// profile is unknown or the endpoint is not an http(s) URL without a path.
Result<S3Config> ResolveS3Config(const S3Url& url, const StoreOptions& options,
                                 const EnvLookup& env = SystemEnv);

// One page of a ListObjectsV2 answer.
struct S3ListPage {
  std::vector<ObjectInfo> objects;  // full keys
  bool truncated = false;
  std::string next_token;
};
// Parses a ListBucketResult document. IOError for a malformed one.
Result<S3ListPage> ParseListObjectsV2(std::string_view xml);
// Replaces the five XML entities and numeric character references.
std::string XmlUnescape(std::string_view text);

class S3Store : public ObjectStore {
 public:
  static Result<std::unique_ptr<S3Store>> Open(const std::string& url,
                                               const StoreOptions& options = {},
                                               const EnvLookup& env = SystemEnv);

  std::string Url() const override;
  Status Put(const std::string& name, ByteView data) override;
  Result<Bytes> Get(const std::string& name) override;
  Result<uint64_t> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;
  Status Ping() override;
  Status Create() override;

  // Keys per ListObjectsV2 request (max-keys, 1..1000; default 1000). Tests lower it to
  // exercise continuation tokens.
  void SetListPageSize(int keys);

  const S3Config& config() const { return config_; }

 private:
  struct Request;
  struct Response;

  S3Store(S3Url url, S3Config config);
  // Sends with retries. A transport failure after the last attempt is Unavailable; any
  // HTTP answer is returned for the caller to map.
  Result<Response> Send(const Request& request);
  // The Status for a non-2xx answer to an operation on `name` ("" for the bucket).
  Status MapError(const Request& request, const Response& response, const std::string& name) const;
  std::string KeyOf(const std::string& name) const;
  std::string ObjectPath(const std::string& name) const;

  S3Url url_;
  std::string url_text_;
  S3Config config_;
  sigv4::Credentials creds_;
  std::string key_prefix_;  // "prefix/" or ""
  std::atomic<int> list_page_size_{1000};
};

}  // namespace tessera::store
