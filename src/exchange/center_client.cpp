#include "exchange/center_client.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <mutex>

#include "crypto/hash.hpp"

namespace tessera::exchange {
namespace fs = std::filesystem;
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Response {
  long status = 0;
  std::string body;  // when not written to a file
  std::ofstream* file = nullptr;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return "";
  }
};

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  if (r->file) {
    r->file->write(data, static_cast<std::streamsize>(size * n));
    return r->file->good() ? size * n : 0;
  }
  if (r->body.size() + size * n > (64u << 20)) return 0;  // an answer that large is wrong
  r->body.append(data, size * n);
  return size * n;
}

size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) r->headers.clear();  // a new response (after 100-continue)
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.pop_back();
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    r->headers.emplace_back(line.substr(0, colon), value);
  }
  return size * n;
}

size_t ReadFile(char* buffer, size_t size, size_t n, void* user) {
  auto* in = static_cast<std::ifstream*>(user);
  in->read(buffer, static_cast<std::streamsize>(size * n));
  return static_cast<size_t>(in->gcount());
}

// libcurl calls this during a transfer, and about once a second while it waits.
int AbortWhenStopping(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void Add(const std::string& h) { list = curl_slist_append(list, h.c_str()); }
};

// What the body of an error answer says, for the operator.
std::string Explain(const Response& r) {
  std::string why = r.body.substr(0, 500);
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
  return why.empty() ? "HTTP " + std::to_string(r.status) : why;
}

Status StatusFromHttp(const Response& r, const std::string& what) {
  const std::string why = what + ": " + Explain(r);
  switch (r.status) {
    case 400:
    case 413:
      return Status::InvalidArgument(why);
    case 403:
      return Status::PermissionDenied(why);
    case 404:
      return Status::NotFound(why);
    case 409:
      return Status::AlreadyExists(why);
    case 412:
      return Status::FailedPrecondition(why);
    default:
      return Status::Unavailable(why);
  }
}

}  // namespace

std::string PublicKeyPin(const crypto::Certificate& cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert.native());
  unsigned char* der = nullptr;
  const int n = key ? i2d_PUBKEY(key, &der) : -1;
  if (n <= 0) return "";
  Bytes digest = crypto::Sha256(ByteView(der, static_cast<size_t>(n)));
  OPENSSL_free(der);
  return "sha256//" + Base64Encode(digest);
}

struct CenterClient::Impl {
  CURL* curl = nullptr;
  ClientTls tls;
  std::string pins;
  std::string interface;
  const std::atomic<bool>* stop = nullptr;
  char error[CURL_ERROR_SIZE] = {0};

  ~Impl() {
    if (curl) curl_easy_cleanup(curl);
  }

  // Prepares the handle for one request, keeping its connection.
  void Reset(const std::string& url, Response& r) {
    curl_easy_reset(curl);
    error[0] = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.certificate.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.key.c_str());
    curl_blob anchors{const_cast<char*>(tls.anchors_pem.data()), tls.anchors_pem.size(),
                      CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &anchors);
    curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!pins.empty()) curl_easy_setopt(curl, CURLOPT_PINNEDPUBLICKEY, pins.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLVERSION,
                     tls.allow_tls12 ? CURL_SSLVERSION_TLSv1_2 : CURL_SSLVERSION_TLSv1_3);
    if (tls.allow_tls12)
      curl_easy_setopt(curl, CURLOPT_SSL_CIPHER_LIST,
                       "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                       "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                       "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    if (!tls.source_address.empty()) {
      interface = "host!" + tls.source_address;
      curl_easy_setopt(curl, CURLOPT_INTERFACE, interface.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    // Large documents take as long as they take; a stalled transfer does not.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (stop != nullptr) {
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, AbortWhenStopping);
      curl_easy_setopt(curl, CURLOPT_XFERINFODATA, stop);
    }
  }

  Status Perform(Response& r, const std::string& what) {
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::Unavailable(what + ": stopped");
    if (rc != CURLE_OK) {
      const std::string detail = error[0] ? error : curl_easy_strerror(rc);
      if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return Status::PermissionDenied(what +
                                        ": the center's certificate is not the one "
                                        "registered for it (" +
                                        detail + ")");
      return Status::Unavailable(what + ": " + detail);
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    return Status::Ok();
  }
};

CenterClient::CenterClient(std::string base_url, std::unique_ptr<Impl> impl)
    : base_url_(std::move(base_url)), impl_(std::move(impl)) {}
CenterClient::~CenterClient() = default;

Result<std::unique_ptr<CenterClient>> CenterClient::Create(std::string base_url, ClientTls tls) {
  InitCurlOnce();
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  if (base_url.rfind("https://", 0) != 0)
    return Status::InvalidArgument("the center's URL '" + base_url + "' must start with https://");
  auto impl = std::make_unique<Impl>();
  impl->curl = curl_easy_init();
  if (!impl->curl) return Status::Internal("libcurl: cannot make a handle");
  for (const crypto::Certificate& c : tls.server_certificates) {
    const std::string pin = PublicKeyPin(c);
    if (pin.empty()) continue;
    impl->pins += (impl->pins.empty() ? "" : ";") + pin;
  }
  impl->tls = std::move(tls);
  return std::unique_ptr<CenterClient>(new CenterClient(std::move(base_url), std::move(impl)));
}

void CenterClient::StopWhen(const std::atomic<bool>* stop) {
  impl_->stop = stop;
}

Result<Bytes> CenterClient::PostItem(ByteView sealed_header, const fs::path& payload,
                                     const std::vector<std::string>& recipients) {
  const std::string what = "sending to " + base_url_;
  std::ifstream in(payload, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + payload.string());
  std::error_code ec;
  const auto size = fs::file_size(payload, ec);
  if (ec) return Status::IOError("cannot read " + payload.string() + ": " + ec.message());
  Response r;
  impl_->Reset(base_url_ + "/v1/items", r);
  HeaderList headers;
  headers.Add("Tessera-Routing: " + Base64Encode(sealed_header));
  if (!recipients.empty()) {
    std::string list;
    for (const std::string& to : recipients) list += (list.empty() ? "" : ",") + to;
    headers.Add("Tessera-Recipients: " + list);
  }
  headers.Add("Content-Type: application/octet-stream");
  headers.Add("Expect:");  // no 100-continue round trip: refusals come before the body anyway
  CURL* c = impl_->curl;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadFile);
  curl_easy_setopt(c, CURLOPT_READDATA, &in);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
  TESSERA_RETURN_IF_ERROR(impl_->Perform(r, what));
  if (r.status != 200) return StatusFromHttp(r, what);
  return ToBytes(r.body);
}

Result<std::optional<PulledItem>> CenterClient::Pull(int wait_seconds, const fs::path& payload_out,
                                                     std::optional<int64_t> acknowledge) {
  const std::string what = "fetching from " + base_url_;
  std::ofstream out(payload_out, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError("cannot write " + payload_out.string());
  Response r;
  std::string url = base_url_ + "/v1/inbox?wait=" + std::to_string(wait_seconds);
  if (acknowledge) url += "&ack=" + std::to_string(*acknowledge);
  impl_->Reset(url, r);
  r.file = &out;
  TESSERA_RETURN_IF_ERROR(impl_->Perform(r, what));
  out.close();
  if (r.status == 204) return std::optional<PulledItem>();
  if (r.status != 200) {
    r.file = nullptr;
    auto text = std::ifstream(payload_out);
    std::getline(text, r.body, '\0');
    return StatusFromHttp(r, what);
  }
  auto header = Base64Decode(r.Header("Tessera-Routing"));
  if (!header.ok()) return Status::Corruption(what + ": the answer has no valid routing header");
  PulledItem item;
  try {
    item.delivery = std::stoll(r.Header("Tessera-Delivery"));
  } catch (const std::exception&) {
    return Status::Corruption(what + ": the answer has no delivery number");
  }
  item.header = std::move(header).value();
  item.payload = payload_out;
  return std::optional<PulledItem>(std::move(item));
}

Status CenterClient::Acknowledge(int64_t delivery) {
  const std::string what = "acknowledging at " + base_url_;
  Response r;
  impl_->Reset(base_url_ + "/v1/inbox/" + std::to_string(delivery) + "/ack", r);
  curl_easy_setopt(impl_->curl, CURLOPT_POST, 1L);
  curl_easy_setopt(impl_->curl, CURLOPT_POSTFIELDS, "");
  TESSERA_RETURN_IF_ERROR(impl_->Perform(r, what));
  if (r.status != 204 && r.status != 200) return StatusFromHttp(r, what);
  return Status::Ok();
}

Result<std::string> CenterClient::GetText(const std::string& path) {
  const std::string what = "asking " + base_url_ + path;
  Response r;
  impl_->Reset(base_url_ + path, r);
  TESSERA_RETURN_IF_ERROR(impl_->Perform(r, what));
  if (r.status != 200) return StatusFromHttp(r, what);
  return r.body;
}

Result<nlohmann::json> CenterClient::GetJson(const std::string& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, GetText(path));
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return Status::Corruption(base_url_ + path + " did not answer JSON: " + e.what());
  }
}

}  // namespace tessera::exchange
