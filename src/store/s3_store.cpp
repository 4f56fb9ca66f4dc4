#include "store/s3_store.hpp"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/utf8.hpp"
#include "store/names.hpp"

namespace tessera::store {

struct S3Store::Request {
  std::string method;  // GET, PUT, HEAD, DELETE
  std::string path;    // UriEncode'd, e.g. "/bucket/key"
  std::vector<std::pair<std::string, std::string>> query;
  ByteView body;
  std::string what;  // for messages: `get "data/x"`
};

struct S3Store::Response {
  long status = 0;
  Bytes body;
  int64_t content_length = -1;  // from the headers; -1 if absent
  int attempts = 1;
};

namespace {

// An unreachable store must fail in seconds, not minutes: no retry starts later than
// kRetryBudgetSeconds after the first attempt, and each connection attempt gives up after
// kConnectTimeoutSeconds.
constexpr double kRetryBudgetSeconds = 10;
constexpr double kConnectTimeoutSeconds = 3;
constexpr double kBackoffBaseSeconds = 0.1;
constexpr double kBackoffCapSeconds = 2;

// ---- XML ----

// The raw text of the first <tag>...</tag> at or after `pos`; nullopt if there is none.
std::optional<std::string_view> Element(std::string_view xml, std::string_view tag,
                                        size_t pos = 0) {
  std::string open = "<" + std::string(tag) + ">";
  std::string close = "</" + std::string(tag) + ">";
  size_t b = xml.find(open, pos);
  if (b == std::string_view::npos) return std::nullopt;
  b += open.size();
  size_t e = xml.find(close, b);
  if (e == std::string_view::npos) return std::nullopt;
  return xml.substr(b, e - b);
}

std::string ElementText(std::string_view xml, std::string_view tag) {
  auto e = Element(xml, tag);
  return e ? XmlUnescape(*e) : std::string();
}

bool ParseU64(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// ---- URLs ----

// Encodes what would change the meaning of a URL part, keeping it readable otherwise.
std::string LightEncode(std::string_view s, std::string_view special) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F || c == '%' || special.find(ch) != std::string_view::npos) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

bool ValidBucketName(std::string_view b) {
  // Wider than AWS's rules (3-63 of a-z 0-9 . -) to admit legacy and radosgw names.
  if (b.size() < 3 || b.size() > 255) return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// ---- curl ----

// One easy handle per thread: it keeps its connections open between requests.
struct CurlHandle {
  CURL* h = nullptr;
  std::vector<curl_socket_t> sockets;  // the open sockets of h's connections
  ~CurlHandle() {
    if (h) curl_easy_cleanup(h);
  }
};

CurlHandle* ThreadCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  thread_local CurlHandle handle;
  if (!handle.h) handle.h = curl_easy_init();
  return handle.h ? &handle : nullptr;
}

// Sockets are opened and closed here so that the handle knows them (see QuickAck).
curl_socket_t OpenSocket(void* user, curlsocktype, curl_sockaddr* addr) {
  curl_socket_t s = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (s != CURL_SOCKET_BAD) static_cast<CurlHandle*>(user)->sockets.push_back(s);
  return s;
}

int CloseSocket(void* user, curl_socket_t s) {
  auto& v = static_cast<CurlHandle*>(user)->sockets;
  v.erase(std::remove(v.begin(), v.end(), s), v.end());
  return ::close(s);
}

// Acknowledges received data at once. On a reused connection Linux delays the ACK of a
// response head (up to 40 ms), and a server that writes head and body separately with
// Nagle on (radosgw does) holds the body back until that ACK comes: every small GET took
// 40 ms. libcurl does not tell which socket the transfer uses, so all of the handle's
// (usually one) get the option; it is harmless on idle ones.
void QuickAck(const CurlHandle& c) {
  int one = 1;
  for (curl_socket_t s : c.sockets) ::setsockopt(s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct UploadCursor {
  ByteView data;
  size_t pos = 0;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* c = static_cast<UploadCursor*>(user);
  size_t take = std::min(size * n, c->data.size() - c->pos);
  if (take > 0) std::memcpy(buf, c->data.data() + c->pos, take);
  c->pos += take;
  return take;
}

// Lets libcurl resend the body itself, e.g. when a kept-alive connection turns out closed.
int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* c = static_cast<UploadCursor*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > c->data.size())
    return CURL_SEEKFUNC_CANTSEEK;
  c->pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<Bytes*>(user);
  body->insert(body->end(), reinterpret_cast<uint8_t*>(data),
               reinterpret_cast<uint8_t*>(data) + size * n);
  return size * n;
}

struct HeaderContext {
  const CurlHandle* curl;
  Bytes* body;
  bool head;  // a HEAD answer's Content-Length describes a body that does not come
};

size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  auto* ctx = static_cast<HeaderContext*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    QuickAck(*ctx->curl);
    return size * n;
  }
  // The length only sizes the body buffer once instead of growing it.
  constexpr std::string_view kName = "content-length:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size() && match; ++i)
      match = std::tolower(static_cast<unsigned char>(line[i])) == kName[i];
    if (match) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
        v.remove_suffix(1);
      uint64_t len = 0;
      if (!ctx->head && ParseU64(v, len) && len <= (uint64_t{1} << 32)) ctx->body->reserve(len);
    }
  }
  return size * n;
}

bool RetryableCurlError(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_ABORTED_BY_CALLBACK:
      return false;
    default:
      return true;
  }
}

double BackoffSeconds(int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double cap = std::min(kBackoffCapSeconds, kBackoffBaseSeconds * (1 << std::min(attempt, 16)));
  // "Equal jitter": at least half the step, so clients that failed together spread out
  // without retrying immediately.
  return std::uniform_real_distribution<double>(cap / 2, cap)(rng);
}

std::string Plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

// ---- XML (public) ----

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out += text[i];
      continue;
    }
    std::string_view ent = text.substr(i + 1, semi - i - 1);
    if (ent == "amp") {
      out += '&';
    } else if (ent == "lt") {
      out += '<';
    } else if (ent == "gt") {
      out += '>';
    } else if (ent == "quot") {
      out += '"';
    } else if (ent == "apos") {
      out += '\'';
    } else if (ent.size() >= 2 && ent[0] == '#') {
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string digits(ent.substr(hex ? 2 : 1));
      char* end = nullptr;
      unsigned long cp =
          digits.empty() ? 0x110000 : std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (digits.empty() || *end != '\0' || cp > 0x10FFFF) {
        out += text[i];
        continue;
      }
      AppendUtf8(out, static_cast<uint32_t>(cp));
    } else {
      out += text[i];
      continue;
    }
    i = semi;
  }
  return out;
}

Result<S3ListPage> ParseListObjectsV2(std::string_view xml) {
  if (xml.find("<ListBucketResult") == std::string_view::npos)
    return Status::IOError("unexpected answer to ListObjectsV2: no ListBucketResult element");
  S3ListPage page;
  constexpr std::string_view kOpen = "<Contents>", kClose = "</Contents>";
  size_t pos = 0;
  while ((pos = xml.find(kOpen, pos)) != std::string_view::npos) {
    size_t end = xml.find(kClose, pos);
    if (end == std::string_view::npos)
      return Status::IOError("malformed ListObjectsV2 answer: unterminated Contents");
    std::string_view block = xml.substr(pos, end - pos);
    auto key = Element(block, "Key");
    auto size = Element(block, "Size");
    uint64_t n = 0;
    if (!key || !size || !ParseU64(*size, n))
      return Status::IOError("malformed ListObjectsV2 answer: Contents without Key or Size");
    page.objects.push_back({XmlUnescape(*key), n});
    pos = end + kClose.size();
  }
  page.truncated = ElementText(xml, "IsTruncated") == "true";
  page.next_token = ElementText(xml, "NextContinuationToken");
  return page;
}

// ---- URL and configuration ----

Result<S3Url> ParseS3Url(const std::string& url) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme))
    return Status::InvalidArgument("not an S3 URL: expected s3://bucket/prefix");
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos)
    return Status::InvalidArgument("S3 URL must not contain '#'");
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Url out;
  size_t slash = rest.find('/');
  out.bucket = std::string(rest.substr(0, slash));
  // Messages quote only the location: the query is not repeated in case it holds a secret.
  std::string shown = "s3://" + std::string(rest);
  if (!ValidBucketName(out.bucket)) {
    return Status::InvalidArgument(shown + ": invalid bucket name \"" + out.bucket +
                                   "\": use 3-63 characters of a-z, 0-9, '.' and '-'");
  }
  if (slash != std::string_view::npos) {
    TESSERA_ASSIGN_OR_RETURN(std::string prefix, PercentDecode(rest.substr(slash + 1)));
    size_t b = prefix.find_first_not_of('/');
    size_t e = prefix.find_last_not_of('/');
    out.prefix = b == std::string::npos ? "" : prefix.substr(b, e - b + 1);
    if (!out.prefix.empty()) {
      Status st = ValidateObjectName(out.prefix);
      if (!st.ok()) return Status::InvalidArgument(shown + ": bad key prefix: " + st.message());
    }
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key(part.substr(0, eq));
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    TESSERA_ASSIGN_OR_RETURN(std::string value, PercentDecode(raw));
    std::string* slot = nullptr;
    if (key == "endpoint") slot = &out.endpoint;
    if (key == "region") slot = &out.region;
    if (key == "profile") slot = &out.profile;
    if (slot == nullptr) {
      std::string lower = key;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (lower.find("key") != std::string::npos || lower.find("secret") != std::string::npos ||
          lower.find("token") != std::string::npos || lower.find("pass") != std::string::npos) {
        return Status::InvalidArgument(
            shown +
            ": credentials do not belong in a store URL (it is written to config files "
            "and logs): use a profile (?profile=NAME) or AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY");
      }
      return Status::InvalidArgument(shown + ": unknown URL parameter \"" + key +
                                     "\": expected endpoint, region or profile");
    }
    if (!slot->empty())
      return Status::InvalidArgument(shown + ": URL parameter \"" + key + "\" given twice");
    if (value.empty())
      return Status::InvalidArgument(shown + ": URL parameter \"" + key + "\" is empty");
    *slot = std::move(value);
  }
  return out;
}

std::string FormatS3Url(const S3Url& url) {
  std::string out = "s3://" + url.bucket;
  if (!url.prefix.empty()) out += "/" + LightEncode(url.prefix, "?#");
  char sep = '?';
  for (auto [name, value] : {std::pair<const char*, const std::string*>{"endpoint", &url.endpoint},
                             {"region", &url.region},
                             {"profile", &url.profile}}) {
    if (value->empty()) continue;
    out += sep;
    out += name;
    out += '=';
    out += LightEncode(*value, "&=#+?");
    sep = '&';
  }
  return out;
}

std::optional<std::string> SystemEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<S3Config> ResolveS3Config(const S3Url& url, const StoreOptions& options,
                                 const EnvLookup& env) {
  S3Url location = url;
  location.endpoint = location.region = location.profile = "";
  const std::string shown = FormatS3Url(location);

  const std::map<std::string, std::string>* profile = nullptr;
  if (!url.profile.empty()) {
    auto it = options.s3_profiles.find(url.profile);
    if (it == options.s3_profiles.end()) {
      return Status::InvalidArgument(shown + ": unknown S3 profile \"" + url.profile +
                                     "\": define [s3.profiles." + url.profile +
                                     "] in tessera.toml");
    }
    profile = &it->second;
    for (const auto& [key, value] : *profile) {
      if (key != "endpoint" && key != "region" && key != "access_key" && key != "secret_key") {
        return Status::InvalidArgument("S3 profile \"" + url.profile + "\": unknown key \"" + key +
                                       "\": expected endpoint, region, access_key, secret_key");
      }
    }
  }
  // The profile named "" holds the settings file's plain [s3] section: defaults for every
  // store, below what the URL and its own profile say.
  auto defaults_it = options.s3_profiles.find("");
  const std::map<std::string, std::string>* defaults =
      defaults_it == options.s3_profiles.end() ? nullptr : &defaults_it->second;
  auto from_profile = [&](const char* key) -> std::string {
    for (const auto* p : {profile, defaults}) {
      if (p == nullptr) continue;
      auto it = p->find(key);
      if (it != p->end() && !it->second.empty()) return it->second;
    }
    return "";
  };
  auto from_env = [&](const char* name) -> std::string { return env(name).value_or(""); };
  auto first = [](std::initializer_list<std::string> values) -> std::string {
    for (const auto& v : values)
      if (!v.empty()) return v;
    return "";
  };

  S3Config c;
  c.region = first({options.s3_region, url.region, from_profile("region"),
                    from_env("AWS_DEFAULT_REGION"), from_env("AWS_REGION"), "us-east-1"});
  std::string endpoint =
      first({options.s3_endpoint, url.endpoint, from_profile("endpoint"),
             from_env("TESSERA_S3_ENDPOINT"), "https://s3." + c.region + ".amazonaws.com"});
  c.access_key =
      first({options.s3_access_key, from_profile("access_key"), from_env("AWS_ACCESS_KEY_ID")});
  c.secret_key =
      first({options.s3_secret_key, from_profile("secret_key"), from_env("AWS_SECRET_ACCESS_KEY")});
  c.retries = std::max(0, options.retries);
  c.timeout_seconds = options.timeout_seconds;

  if (c.access_key.empty() || c.secret_key.empty()) {
    return Status::InvalidArgument(
        shown +
        ": no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
        "access_key and secret_key in an [s3.profiles.NAME] section selected with "
        "?profile=NAME");
  }

  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  std::string scheme;
  if (endpoint.starts_with("http://")) scheme = "http";
  if (endpoint.starts_with("https://")) scheme = "https";
  if (scheme.empty()) {
    return Status::InvalidArgument(shown + ": S3 endpoint \"" + endpoint +
                                   "\" must start with http:// or https://");
  }
  std::string authority = endpoint.substr(scheme.size() + 3);
  if (authority.find('@') != std::string::npos) {
    // Not echoed: the part before '@' is a password.
    return Status::InvalidArgument(shown + ": the S3 endpoint must not contain credentials");
  }
  if (authority.empty() || authority.find_first_of("/?#") != std::string::npos) {
    return Status::InvalidArgument(shown + ": S3 endpoint \"" + endpoint +
                                   "\" must be scheme://host[:port] without a path");
  }
  c.endpoint = endpoint;
  c.host = authority;
  // The Host header carries no port when it is the default for the scheme.
  std::string default_port = scheme == "http" ? ":80" : ":443";
  if (c.host.ends_with(default_port)) c.host.resize(c.host.size() - default_port.size());
  return c;
}

// ---- the store ----

Result<std::unique_ptr<S3Store>> S3Store::Open(const std::string& url, const StoreOptions& options,
                                               const EnvLookup& env) {
  TESSERA_ASSIGN_OR_RETURN(S3Url parsed, ParseS3Url(url));
  TESSERA_ASSIGN_OR_RETURN(S3Config config, ResolveS3Config(parsed, options, env));
  return std::unique_ptr<S3Store>(new S3Store(std::move(parsed), std::move(config)));
}

S3Store::S3Store(S3Url url, S3Config config)
    : url_(std::move(url)),
      url_text_(FormatS3Url(url_)),
      config_(std::move(config)),
      creds_{config_.access_key, config_.secret_key, config_.region, "s3"} {
  if (!url_.prefix.empty()) key_prefix_ = url_.prefix + "/";
}

std::string S3Store::Url() const {
  return url_text_;
}

void S3Store::SetListPageSize(int keys) {
  list_page_size_ = std::clamp(keys, 1, 1000);
}

std::string S3Store::KeyOf(const std::string& name) const {
  return key_prefix_ + name;
}

std::string S3Store::ObjectPath(const std::string& name) const {
  return "/" + sigv4::UriEncode(url_.bucket, false) + "/" + sigv4::UriEncode(KeyOf(name), true);
}

Result<S3Store::Response> S3Store::Send(const Request& req) {
  CurlHandle* curl = ThreadCurl();
  if (curl == nullptr) return Status::Internal("cannot initialise libcurl");
  CURL* h = curl->h;
  const std::string payload_hash = req.method == "PUT" ? sigv4::Sha256Hex(AsString(req.body))
                                                       : std::string(sigv4::kEmptyPayloadSha256);
  const std::string query = sigv4::CanonicalQuery(req.query);
  const std::string url = config_.endpoint + req.path + (query.empty() ? "" : "?" + query);
  const int attempts = 1 + config_.retries;
  const double start = MonotonicSeconds();

  for (int attempt = 1;; ++attempt) {
    // Signed afresh each attempt: the date is part of the signature.
    const std::string amz_date = sigv4::AmzDateNow();
    sigv4::Request sreq{
        req.method,
        req.path,
        req.query,
        {{"host", config_.host}, {"x-amz-content-sha256", payload_hash}, {"x-amz-date", amz_date}},
        payload_hash};
    sigv4::Signed sig = sigv4::Sign(sreq, creds_, amz_date);

    curl_slist* raw = nullptr;
    for (const std::string& line :
         {"Host: " + config_.host, "x-amz-content-sha256: " + payload_hash,
          "x-amz-date: " + amz_date, "Authorization: " + sig.authorization, std::string("Expect:"),
          std::string("Content-Type:")}) {
      raw = curl_slist_append(raw, line.c_str());
    }
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw);

    Response resp;
    resp.attempts = attempt;
    UploadCursor cursor{req.body};
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);  // the path was signed exactly as built
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, ReadHeader);
    HeaderContext header_ctx{curl, &resp.body, req.method == "HEAD"};
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &header_ctx);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, curl);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, CloseSocket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, curl);
    if (config_.timeout_seconds > 0) {
      auto ms = static_cast<long>(config_.timeout_seconds * 1000);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                       std::min(ms, static_cast<long>(kConnectTimeoutSeconds * 1000)));
    } else {
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(kConnectTimeoutSeconds * 1000));
    }
    if (req.method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadBody);
      curl_easy_setopt(h, CURLOPT_READDATA, &cursor);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, SeekBody);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &cursor);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }

    CURLcode rc = curl_easy_perform(h);
    bool retryable;
    std::string failure;
    if (rc != CURLE_OK) {
      retryable = RetryableCurlError(rc);
      failure = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    } else {
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
      curl_off_t len = -1;
      curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
      resp.content_length = len;
      retryable =
          resp.status >= 500 || resp.status == 429 ||
          (resp.status == 400 && ElementText(AsString(resp.body), "Code") == "RequestTimeout");
      if (!retryable) return resp;
      failure = "HTTP " + std::to_string(resp.status);
    }
    double delay = BackoffSeconds(attempt - 1);
    bool again = retryable && attempt < attempts &&
                 MonotonicSeconds() - start + delay <= kRetryBudgetSeconds;
    if (!again) {
      if (rc == CURLE_OK) return resp;  // a 5xx: the caller reports it with the attempt count
      return Status::Unavailable(url_text_ + ": " + req.what + ": cannot reach " +
                                 config_.endpoint + " (" + failure + ") after " +
                                 Plural(attempt, "attempt") +
                                 ": check the endpoint and that the service is running");
    }
    spdlog::debug("{}: {}: attempt {} of {} failed ({}); retrying in {} ms", url_text_, req.what,
                  attempt, attempts, failure, static_cast<int>(delay * 1000));
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
  }
}

Status S3Store::MapError(const Request& req, const Response& resp, const std::string& name) const {
  std::string_view body = AsString(resp.body);
  const std::string code = ElementText(body, "Code");
  const std::string message = ElementText(body, "Message");
  const std::string where = url_text_ + ": " + req.what;
  std::string detail = std::to_string(resp.status) + (code.empty() ? "" : " " + code);
  std::string full = "HTTP " + detail + (message.empty() ? "" : ": " + message);

  if (resp.status == 404) {
    if (code == "NoSuchBucket" || (name.empty() && code != "NoSuchKey")) {
      return Status::Unavailable(url_text_ + ": bucket \"" + url_.bucket + "\" does not exist at " +
                                 config_.endpoint +
                                 ": check the bucket name and endpoint, or create it (vault init)");
    }
    return Status::NotFound(url_text_ + ": object \"" + name + "\" not found");
  }
  if (resp.status == 403) {
    std::string hint = "check the access key, the secret key and the bucket's permissions";
    if (code == "SignatureDoesNotMatch") hint = "check the secret key";
    if (code == "InvalidAccessKeyId") hint = "check the access key";
    if (code == "AccessDenied") hint = "these credentials may not use this bucket or object";
    if (code == "RequestTimeTooSkewed") hint = "this machine's clock is wrong: fix the system time";
    return Status::PermissionDenied(where + ": access denied (" + detail + "): " + hint);
  }
  if (resp.status == 301 || resp.status == 307 || code == "AuthorizationHeaderMalformed" ||
      code == "PermanentRedirect" || code == "IllegalLocationConstraintException") {
    return Status::InvalidArgument(where + ": " + full + ": the bucket is in another region than " +
                                   config_.region + ": set ?region= in the URL or AWS_REGION");
  }
  if (resp.status >= 500 || resp.status == 429 || code == "RequestTimeout") {
    return Status::Unavailable(where + ": server error (" + full + ") after " +
                               Plural(resp.attempts, "attempt") +
                               ": the service is overloaded or failing; try again later");
  }
  return Status::IOError(where + ": " + full);
}

Status S3Store::Put(const std::string& name, ByteView data) {
  Status st = ValidateObjectName(name);
  if (!st.ok()) return st.WithContext(url_text_);
  Request req{"PUT", ObjectPath(name), {}, data, "put \"" + name + "\""};
  TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status == 200 || resp.status == 201 || resp.status == 204) return Status::Ok();
  return MapError(req, resp, name);
}

Result<Bytes> S3Store::Get(const std::string& name) {
  Status st = ValidateObjectName(name);
  if (!st.ok()) return st.WithContext(url_text_);
  Request req{"GET", ObjectPath(name), {}, {}, "get \"" + name + "\""};
  TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status != 200) return MapError(req, resp, name);
  return std::move(resp.body);
}

Result<uint64_t> S3Store::Stat(const std::string& name) {
  Status st = ValidateObjectName(name);
  if (!st.ok()) return st.WithContext(url_text_);
  Request req{"HEAD", ObjectPath(name), {}, {}, "stat \"" + name + "\""};
  TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status != 200) return MapError(req, resp, name);
  if (resp.content_length < 0)
    return Status::IOError(url_text_ + ": " + req.what + ": no Content-Length in the answer");
  return static_cast<uint64_t>(resp.content_length);
}

Result<std::vector<ObjectInfo>> S3Store::List(const std::string& prefix) {
  Status st = ValidateListPrefix(prefix);
  if (!st.ok()) return st.WithContext(url_text_);
  const std::string full = key_prefix_ + prefix;
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    Request req{"GET",
                "/" + sigv4::UriEncode(url_.bucket, false),
                {{"list-type", "2"},
                 {"prefix", full},
                 {"max-keys", std::to_string(list_page_size_.load())}},
                {},
                "list \"" + prefix + "\""};
    if (!token.empty()) req.query.emplace_back("continuation-token", token);
    TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
    if (resp.status != 200) return MapError(req, resp, "");
    auto page = ParseListObjectsV2(AsString(resp.body));
    if (!page.ok()) return page.status().WithContext(url_text_ + ": " + req.what);
    for (ObjectInfo& o : page->objects) {
      if (!o.name.starts_with(key_prefix_)) continue;
      out.push_back({o.name.substr(key_prefix_.size()), o.size});
    }
    if (!page->truncated) break;
    if (page->next_token.empty() || page->next_token == token) {
      return Status::IOError(url_text_ + ": " + req.what +
                             ": the server said the listing continues but gave no new "
                             "continuation token");
    }
    token = std::move(page->next_token);
  }
  auto by_name = [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; };
  if (!std::is_sorted(out.begin(), out.end(), by_name)) std::sort(out.begin(), out.end(), by_name);
  return out;
}

Status S3Store::Delete(const std::string& name) {
  Status st = ValidateObjectName(name);
  if (!st.ok()) return st.WithContext(url_text_);
  Request req{"DELETE", ObjectPath(name), {}, {}, "delete \"" + name + "\""};
  TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status == 200 || resp.status == 204) return Status::Ok();
  Status mapped = MapError(req, resp, name);
  if (mapped.code() == StatusCode::kNotFound) return Status::Ok();
  return mapped;
}

Status S3Store::Ping() {
  Request req{"HEAD", "/" + sigv4::UriEncode(url_.bucket, false), {}, {}, "ping"};
  TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status == 200) return Status::Ok();
  return MapError(req, resp, "");
}

Status S3Store::Create() {
  std::string body;
  // us-east-1 is the default location and must not be named.
  if (config_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        config_.region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  Request req{"PUT",
              "/" + sigv4::UriEncode(url_.bucket, false),
              {},
              AsBytes(body),
              "create bucket \"" + url_.bucket + "\""};
  TESSERA_ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status == 200 || resp.status == 204) return Status::Ok();
  const std::string code = ElementText(AsString(resp.body), "Code");
  if (code == "BucketAlreadyOwnedByYou") return Status::Ok();
  if (code == "BucketAlreadyExists") {
    return Status::AlreadyExists(url_text_ + ": bucket name \"" + url_.bucket +
                                 "\" is taken by another account: choose another name");
  }
  return MapError(req, resp, "");
}

}  // namespace tessera::store
