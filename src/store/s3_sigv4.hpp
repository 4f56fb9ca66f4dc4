// AWS Signature Version 4 for S3 requests sent with the Authorization header
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::store::sigv4 {

// SHA-256 of the empty payload, the x-amz-content-sha256 of a request without a body.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Percent-encodes every byte except the unreserved A-Z a-z 0-9 - _ . ~ (and '/' when
// `keep_slash`), with upper-case hex, as SigV4 requires for paths and query strings.
std::string UriEncode(std::string_view s, bool keep_slash);

// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string region;
  std::string service = "s3";
};

struct Request {
  std::string method;         // "GET", "PUT", ...
  std::string canonical_uri;  // the path exactly as sent, already UriEncode'd ("/b/my%20key")
  std::vector<std::pair<std::string, std::string>> query;    // raw names and values
  std::vector<std::pair<std::string, std::string>> headers;  // all signed headers, host and
                                                             // x-amz-date included
  std::string payload_sha256;                                // lower-case hex
};

struct Signed {
  std::string canonical_query;  // also the query string to send
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // lower-case hex
  std::string authorization;  // the Authorization header value
};

// Signs `request` at `amz_date` ("20130524T000000Z", the request's x-amz-date).
Signed Sign(const Request& request, const Credentials& credentials, std::string_view amz_date);

// The query string in canonical form: names and values encoded, sorted, joined with '&'.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// Current UTC time as "YYYYMMDDTHHMMSSZ".
std::string AmzDateNow();

}  // namespace tessera::store::sigv4
