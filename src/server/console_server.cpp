#include "server/console_server.hpp"

#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/host.hpp"
#include "base/log.hpp"
#include "crypto/x509.hpp"
#include "server/serve.hpp"

namespace tessera::server {
namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

using Stream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto kHandshakeTimeout = std::chrono::seconds(15);
constexpr auto kIdleTimeout = std::chrono::seconds(60);
constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = 1 << 20;  // JSON requests…
// …but a 函 composed in the console carries its attachments (POST /api/v1/exchange/documents,
// with a session cookie; the API refuses more than this too).
constexpr uint64_t kUploadLimit = uint64_t{32} << 20;
constexpr uintmax_t kMaxStaticFile = 16 << 20;

// Nothing from elsewhere: no remote scripts, styles, fonts or images, no inline script,
// no framing of the console by others. A mail's HTML is shown in a sandboxed frame of
// srcdoc, which inherits this policy.
constexpr char kContentSecurityPolicy[] =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

std::string StaticType(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// The file under `root` for a request's path: "/" is index.html; a path with "..", a
// hidden name or a backslash is refused (nullopt), as is anything not a regular file.
std::optional<fs::path> StaticFile(const fs::path& root, const std::string& path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  std::string relative = path == "/" ? "index.html" : path.substr(1);
  if (relative.find('\\') != std::string::npos || relative.find('\0') != std::string::npos)
    return std::nullopt;
  for (const auto& part : fs::path(relative))
    if (part.string().empty() || part.string().front() == '.') return std::nullopt;
  fs::path file = root / relative;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  return file;
}

}  // namespace

fs::path DefaultWebRoot() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "tessera" / "web";
    if (fs::is_regular_file(installed / "index.html", ec)) return installed;
  }
  return fs::path(TESSERA_WEB_SOURCE_DIR);
}

Result<std::pair<fs::path, fs::path>> SelfSignedConsoleCertificate(const fs::path& home) {
  const fs::path dir = home / "console" / "tls";
  const fs::path cert_path = dir / "console.crt", key_path = dir / "console.key";
  std::error_code ec;
  if (fs::exists(cert_path, ec) && fs::exists(key_path, ec)) return std::pair{cert_path, key_path};
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                           crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256));
  crypto::CertificateRequest request;
  const std::string host = HostName();
  request.common_name = host + " (tessera console, self-signed)";
  request.organization = "tessera";
  request.dns_names = {"localhost"};
  if (host != "localhost" && !host.empty() && host.find('_') == std::string::npos)
    request.dns_names.push_back(host);
  request.ip_addresses = {"127.0.0.1", "::1"};
  request.not_after = NowUnixSeconds() + 825 * 86400;  // the longest browsers accept
  TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert,
                           crypto::IssueCertificate(request, key, nullptr, key));
  TESSERA_RETURN_IF_ERROR(key.Save(key_path));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(cert_path, cert.Pem(), 0644));
  spdlog::warn(
      "console: made a self-signed certificate {} (fingerprint {}); browsers will warn until "
      "[console] certificate and key name one your agency's CA issued",
      cert_path.string(), cert.Fingerprint());
  return std::pair{cert_path, key_path};
}

struct ConsoleServer::Impl {
  fs::path home;
  ConsoleConfig config;
  fs::path certificate, key, web_root;
  asio::io_context io;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  std::unique_ptr<AccountStore> accounts;
  std::unique_ptr<ConsoleApi> api;
  std::atomic<bool> stopping{false};

  awaitable<void> Accept();
  awaitable<void> Session(tcp::socket socket);
  http::response<http::string_body> Answer(const http::request<http::string_body>& req,
                                           const std::string& address);
  http::response<http::string_body> Static(const http::request<http::string_body>& req);
};

namespace {

void SecureHeaders(http::response<http::string_body>& res) {
  res.set(http::field::server, "tessera");
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("Strict-Transport-Security", "max-age=31536000");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
}

http::response<http::string_body> Plain(unsigned version, http::status status, std::string body) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

}  // namespace

http::response<http::string_body> ConsoleServer::Impl::Static(
    const http::request<http::string_body>& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return Plain(req.version(), http::status::method_not_allowed, "method not allowed\n");
  std::string target(req.target());
  target = target.substr(0, target.find('?'));
  auto decoded = PercentDecode(target);
  std::optional<fs::path> file;
  if (decoded.ok()) file = StaticFile(web_root, *decoded);
  std::error_code ec;
  if (!file || fs::file_size(*file, ec) > kMaxStaticFile || ec)
    return Plain(req.version(), http::status::not_found, "not found\n");
  std::ifstream in(*file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof())
    return Plain(req.version(), http::status::internal_server_error, "cannot read the file\n");
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, StaticType(*file));
  res.set(http::field::cache_control, "no-cache");
  res.body() = content.str();
  return res;
}

http::response<http::string_body> ConsoleServer::Impl::Answer(
    const http::request<http::string_body>& req, const std::string& address) {
  const std::string target(req.target());
  if (target.rfind("/api/", 0) != 0) return Static(req);
  ApiRequest request;
  request.method = std::string(req.method_string());
  request.target = target;
  request.body = req.body();
  request.cookie = std::string(req[http::field::cookie]);
  request.csrf = std::string(req["X-CSRF-Token"]);
  request.client_address = address;
  request.now = NowUnixSeconds();
  ApiResponse answer = api->Handle(request);
  http::response<http::string_body> res{static_cast<http::status>(answer.status), req.version()};
  if (!answer.content_type.empty()) res.set(http::field::content_type, answer.content_type);
  for (const auto& [name, value] : answer.headers) res.insert(name, value);
  if (answer.status != 204) res.body() = std::move(answer.body);
  return res;
}

awaitable<void> ConsoleServer::Impl::Session(tcp::socket socket) {
  boost::system::error_code ec;
  std::string address = socket.remote_endpoint(ec).address().to_string();
  if (address.rfind("::ffff:", 0) == 0) address = address.substr(7);
  socket.set_option(tcp::no_delay(true), ec);
  Stream stream(std::move(socket), tls);
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  co_await stream.async_handshake(ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;  // a browser probing, or plain HTTP: nothing to record
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    // The header's Content-Length is checked against the limit as the header is read: the
    // larger one then, the smaller one after it for every other request.
    parser.body_limit(kUploadLimit);
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(use_awaitable, ec));
    if (!ec && !(parser.get().method() == http::verb::post &&
                 parser.get().target() == "/api/v1/exchange/documents" &&
                 parser.get().find(http::field::cookie) != parser.get().end())) {
      if (parser.content_length() && *parser.content_length() > kBodyLimit)
        ec = http::error::body_limit;
      else
        parser.body_limit(kBodyLimit);
    }
    if (!ec && !parser.is_done())
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      auto res = Plain(11, http::status::payload_too_large, "request too large\n");
      SecureHeaders(res);
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      break;
    }
    if (ec) break;
    const http::request<http::string_body>& req = parser.get();
    http::response<http::string_body> res = Answer(req, address);
    SecureHeaders(res);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || !req.keep_alive()) break;
  }
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

awaitable<void> ConsoleServer::Impl::Accept() {
  boost::system::error_code ec;
  while (!stopping) {
    tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(io),
                                                        asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Session(std::move(socket)), asio::detached);
  }
}

ConsoleServer::ConsoleServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConsoleServer::~ConsoleServer() = default;

Result<std::unique_ptr<ConsoleServer>> ConsoleServer::Start(const fs::path& home,
                                                            const ConsoleConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->home = home;
  impl->config = config;
  TESSERA_ASSIGN_OR_RETURN(auto listen, ParseListenAddress(config.listen));
  if (config.certificate.empty() != config.key.empty())
    return Status::InvalidArgument(
        "[console] certificate and key go together: set both, or neither for a self-signed one");
  if (config.certificate.empty()) {
    TESSERA_ASSIGN_OR_RETURN(auto made, SelfSignedConsoleCertificate(home));
    impl->certificate = made.first;
    impl->key = made.second;
  } else {
    impl->certificate = config.certificate;
    impl->key = config.key;
  }
  TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::Load(impl->certificate));
  TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                           crypto::PrivateKey::Load(impl->key, "the console's key"));
  if (!key.Matches(cert))
    return Status::InvalidArgument(impl->key.string() + " is not the key of " +
                                   impl->certificate.string());
  if (cert.NotAfter() < NowUnixSeconds())
    return Status::FailedPrecondition("the console's certificate " + impl->certificate.string() +
                                      " has expired");
  impl->web_root = config.web_root.empty() ? DefaultWebRoot() : config.web_root;
  std::error_code fec;
  if (!fs::is_regular_file(impl->web_root / "index.html", fec))
    return Status::NotFound("[console] web_root: " + impl->web_root.string() +
                            " has no index.html (the console's files, web/ of the release)");

  SSL_CTX* ctx = impl->tls.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  boost::system::error_code ec;
  impl->tls.use_certificate_chain_file(impl->certificate.string(), ec);
  if (!ec) impl->tls.use_private_key_file(impl->key.string(), ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("cannot use the console's certificate: " + ec.message());

  TESSERA_ASSIGN_OR_RETURN(impl->accounts, AccountStore::Open(home, config.sign_in));
  if (config.ldap) {
    TESSERA_RETURN_IF_ERROR(CheckLdapOptions(*config.ldap));
    impl->accounts->SetDirectory(
        [ldap = *config.ldap](const std::string& name, const std::string& password) {
          return LdapCheckPassword(ldap, name, password);
        });
  }
  impl->api = std::make_unique<ConsoleApi>(home, *impl->accounts, config.api);

  auto address = asio::ip::make_address(listen.first, ec);
  if (ec)
    return Status::InvalidArgument("[console] listen: '" + listen.first + "' is not an IP address");
  tcp::endpoint endpoint(address, listen.second);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Unavailable("[console] cannot listen on " + config.listen + ": " + ec.message());
  return std::unique_ptr<ConsoleServer>(new ConsoleServer(std::move(impl)));
}

uint16_t ConsoleServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

const fs::path& ConsoleServer::certificate() const {
  return impl_->certificate;
}
const fs::path& ConsoleServer::web_root() const {
  return impl_->web_root;
}

bool ConsoleServer::has_accounts() const {
  auto list = impl_->accounts->List();
  return !list.ok() || !list->empty();
}

Status ConsoleServer::Run() {
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  std::vector<std::thread> threads;
  Status failed;
  std::mutex mu;
  auto run = [this, &failed, &mu] {
    try {
      impl_->io.run();
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      failed = Status::Internal(std::string("console: ") + e.what());
      impl_->io.stop();
    }
  };
  for (int i = 1; i < std::max(1, impl_->config.threads); ++i) threads.emplace_back(run);
  run();
  for (std::thread& t : threads) t.join();
  return failed;
}

void ConsoleServer::Stop() {
  impl_->stopping = true;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
}

}  // namespace tessera::server
