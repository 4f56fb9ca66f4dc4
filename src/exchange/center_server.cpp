#include "exchange/center_server.hpp"

#include <openssl/ssl.h>
#include <sys/statvfs.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/clock.hpp"
#include "base/file_lock.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "crypto/hash.hpp"
#include "crypto/x509.hpp"
#include "exchange/center_client.hpp"
#include "exchange/center_store.hpp"
#include "exchange/envelope.hpp"
#include "exchange/receipt.hpp"
#include "exchange/trust.hpp"
#include "guard/audit_log.hpp"

namespace tessera::exchange {
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
constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr int kMaxWaitSeconds = 60;
constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr size_t kSpoolChunkBytes = 256 * 1024;  // a payload is written and hashed in these

// A spooled payload sent as a response body in large pieces. Beast's file_body reads 4 KB
// at a time, and each piece then costs a read, a TLS record and a send of its own.
struct SpoolFileBody {
  struct value_type {
    beast::file file;
    uint64_t size = 0;
  };
  static uint64_t size(const value_type& body) { return body.size; }

  class writer {
   public:
    using const_buffers_type = asio::const_buffer;
    template <bool isRequest, class Fields>
    writer(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(beast::error_code& ec) {
      remain_ = body_.size;
      ec = {};
    }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(remain_, kSpoolChunkBytes));
      ec = {};
      if (want == 0) return boost::none;
      if (!piece_) piece_ = std::make_unique_for_overwrite<char[]>(kSpoolChunkBytes);
      const size_t got = body_.file.read(piece_.get(), want, ec);
      if (ec) return boost::none;
      if (got == 0) {  // the file is shorter than it was when the response was sized
        ec = http::error::short_read;
        return boost::none;
      }
      remain_ -= got;
      return {{const_buffers_type(piece_.get(), got), remain_ > 0}};
    }

   private:
    value_type& body_;
    uint64_t remain_ = 0;
    std::unique_ptr<char[]> piece_;
  };
};

// The registry in force, with its trust index built once when it is installed (parsing
// every registered certificate for each connection and item would cost more than the
// rest of accepting it).
struct InstalledRegistry {
  std::shared_ptr<const Registry> registry;
  std::shared_ptr<const TrustIndex> trust;
};

class RegistryHolder {
 public:
  void Set(Result<Registry> r) {
    std::shared_ptr<const Registry> fresh;
    std::shared_ptr<const TrustIndex> trust;
    if (r.ok() && SameAsInstalled(*r)) return;  // keeps what its trust index learnt
    if (r.ok()) {
      fresh = std::make_shared<const Registry>(std::move(r).value());
      trust = std::make_shared<const TrustIndex>(*fresh);
    }
    std::lock_guard lock(mu_);
    if (fresh) {
      current_ = {std::move(fresh), std::move(trust)};
      error_ = Status::Ok();
    } else {
      error_ = r.status();
      if (error_.code() == StatusCode::kFailedPrecondition) current_ = {};  // expired: fail closed
    }
  }
  Result<std::shared_ptr<const Registry>> Get() const {
    TESSERA_ASSIGN_OR_RETURN(InstalledRegistry installed, GetWithTrust());
    return installed.registry;
  }
  Result<InstalledRegistry> GetWithTrust() const {
    std::lock_guard lock(mu_);
    if (current_.registry) return current_;
    return error_.ok() ? Status::FailedPrecondition("no registry is installed") : error_;
  }

 private:
  // Whether `r` is the publication installed now (a reload of an unchanged registry).
  bool SameAsInstalled(const Registry& r) const {
    std::lock_guard lock(mu_);
    return current_.registry && error_.ok() && current_.registry->network == r.network &&
           current_.registry->serial == r.serial && current_.registry->issued_at == r.issued_at &&
           current_.registry->expires_at == r.expires_at;
  }

  mutable std::mutex mu_;  // guards current_ and error_
  InstalledRegistry current_;
  Status error_;
};

std::optional<Suspension> RegistrySuspension(const Registry& r, const std::string& agency) {
  const Agency* a = r.FindAgency(agency);
  return a ? a->suspension : std::nullopt;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string part = s.substr(start, comma - start);
    if (!part.empty()) out.push_back(part);
    start = comma + 1;
  }
  return out;
}

// The value of `name` in the query of `target` ("/v1/inbox?wait=5&ack=12"), when it is a
// whole number.
std::optional<int64_t> QueryNumber(std::string_view target, std::string_view name) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.size() <= name.size() || pair.substr(0, name.size()) != name ||
        pair[name.size()] != '=')
      continue;
    const std::string_view digits = pair.substr(name.size() + 1);
    int64_t value = 0;
    const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (err != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kCorruption:
      return 400;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 412;
    default:
      return 503;
  }
}

struct Peer {
  Party party;
  std::string address;  // source IP
  std::string name;     // for logs: "A15060000H from 127.0.0.1"
};

}  // namespace

struct CenterServer::Impl {
  CenterServerConfig config;
  asio::io_context io{1};
  asio::thread_pool storage{1};
  asio::thread_pool workers{2};
  // Removes delivered payloads: an unlink waits on the file system (half a millisecond
  // here), which the storage thread must not.
  asio::thread_pool remover{1};
  asio::thread_pool audit_committer{1};  // commits a batch's audit records (Drain)
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{io};
  crypto::Certificate certificate;
  crypto::PrivateKey key;
  RegistryHolder registry;
  std::optional<FileLock> spool_lock;
  std::unique_ptr<CenterStore> store;                            // used on the storage thread only
  std::unique_ptr<guard::AuditLog> audit;                        // used on the storage thread only
  std::map<std::string, std::set<asio::steady_timer*>> waiting;  // io thread only
  std::thread background;                                        // forwarding and expiry
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;  // guards stop_cv's predicate (stopping)
  std::condition_variable stop_cv;

  Impl(crypto::Certificate c, crypto::PrivateKey k)
      : certificate(std::move(c)), key(std::move(k)) {}

  // Storage work runs on the storage thread in batches: the jobs that queue while one
  // batch runs make up the next, which runs in one transaction on the spool and one on
  // the audit log. A busy center so waits for the disk once for many items, not once per
  // item. A job's result is handed back only after its batch has committed.
  struct StorageJob {
    virtual ~StorageJob() = default;
    virtual void Run() = 0;
    // `committed` is how the batch's commit went; the job's waiter resumes.
    virtual void Complete(const Status& committed) = 0;
  };
  template <typename F>
  struct TypedJob : StorageJob {
    using R = std::invoke_result_t<F&>;
    explicit TypedJob(F f) : fn(std::move(f)) {}
    void Run() override { result.emplace(fn()); }
    void Complete(const Status& committed) override {
      if constexpr (std::is_constructible_v<R, Status>)
        if (!committed.ok() && result->ok()) result.emplace(committed);
      if (done) done();
    }
    F fn;
    std::optional<R> result;
    std::function<void()> done;  // resumes the waiter on its own executor
  };
  // Hands a job to the batch queue and, when it completes, resumes the awaiting
  // coroutine (a plain function object: GCC 12 mishandles lambdas in coroutines).
  template <typename Job>
  struct StartJob {
    Impl* impl;
    std::shared_ptr<Job> job;
    template <typename Handler>
    void operator()(Handler handler) {
      auto waiter = std::make_shared<Handler>(std::move(handler));
      job->done = [waiter] {
        auto executor = asio::get_associated_executor(*waiter);
        asio::post(executor, std::move(*waiter));
      };
      impl->Enqueue(std::move(job));
    }
  };
  std::mutex jobs_mu;
  std::vector<std::shared_ptr<StorageJob>> jobs;  // guarded by jobs_mu
  bool drain_posted = false;                      // guarded by jobs_mu

  void Enqueue(std::shared_ptr<StorageJob> job) {
    std::lock_guard lock(jobs_mu);
    jobs.push_back(std::move(job));
    if (drain_posted) return;
    drain_posted = true;
    asio::post(storage, [this] { Drain(); });
  }
  void Drain();

  // Runs `fn` on the storage thread, in the next batch, and resumes here with its result
  // once that batch has committed.
  template <typename F>
  auto OnStorage(F fn) -> awaitable<std::invoke_result_t<F&>> {
    auto job = std::make_shared<TypedJob<F>>(std::move(fn));
    // A named initiation, not a temporary in the co_await: GCC 12 mishandles those.
    StartJob<TypedJob<F>> start{this, job};
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(start, use_awaitable);
    co_return std::move(*job->result);
  }
  // Runs `fn` on a worker thread (work that needs neither the store nor the network
  // thread: hashing, fsync) and resumes here with its result.
  template <typename F>
  auto OnWorker(F fn) -> awaitable<decltype(fn())> {
    using R = decltype(fn());
    // co_spawn needs a default-constructible result, which Result<T> is not.
    auto task = [fn = std::move(fn)]() mutable -> awaitable<std::optional<R>> {
      co_return std::optional<R>(fn());
    };
    std::optional<R> r = co_await asio::co_spawn(workers, std::move(task), use_awaitable);
    co_return std::move(*r);
  }

  void Audit(const std::string& actor, const std::string& action, const std::string& target,
             const std::string& outcome) {
    Status st = audit->Append(actor, action, target, outcome);
    if (!st.ok()) spdlog::error("exchange center: cannot write the audit log: {}", st.ToString());
  }
  // Records in the next storage batch, without waiting; from any thread.
  void AuditLater(std::string actor, std::string action, std::string target, std::string outcome) {
    auto record = [this, actor = std::move(actor), action = std::move(action),
                   target = std::move(target), outcome = std::move(outcome)] {
      Audit(actor, action, target, outcome);
      return 0;
    };
    Enqueue(std::make_shared<TypedJob<decltype(record)>>(std::move(record)));
  }

  Result<std::optional<Suspension>> SuspensionOf(const Registry& r, const std::string& agency) {
    if (auto s = RegistrySuspension(r, agency)) return s;
    return store->LocalSuspension(agency);
  }

  awaitable<void> Accept();
  awaitable<void> Session(tcp::socket socket);
  awaitable<Result<Peer>> Admit(Stream& stream, const std::string& address);
  // Whether the holder of `cert`, connecting from `address`, may talk to this center.
  Result<Peer> AdmitPeer(const crypto::Certificate& cert, const std::string& address);
  awaitable<bool> Handle(Stream& stream, beast::flat_buffer& buffer,
                         http::request_parser<http::empty_body>& parser, const Peer& peer);
  struct Admission {
    std::shared_ptr<const Registry> registry;  // the one it was checked under
    SealedHeader sealed;
    std::vector<std::string> recipients;  // those this center takes
    std::vector<Route> routes;
    std::optional<AcceptedItem> existing;  // a resend of this
  };
  // The checks on an item's header that need no store: signature, sender, recipients,
  // routes, size (a worker thread).
  Result<Admission> AdmitItem(const std::string& routing, const std::string& named,
                              std::optional<uint64_t> length, const Peer& peer);
  // Then the ones that do: a suspended sender, a resend (storage thread).
  Status AdmitItemAgainstStore(Admission& admission);
  awaitable<bool> PostItem(Stream& stream, beast::flat_buffer& buffer,
                           http::request_parser<http::empty_body>& parser, const Peer& peer);
  awaitable<bool> Pull(Stream& stream, const http::request<http::empty_body>& req,
                       const Peer& peer);
  // Records that `peer` holds delivery `delivery` safely (storage thread).
  Status AcknowledgeDelivery(const Peer& peer, int64_t delivery);
  awaitable<void> ReloadRegistry();
  void Notify(const std::string& agency);
  void Background();
  // Warns before agencies' certificates expire, and suspends an agency once all have.
  void CheckCertificates(CenterStore& store, const Registry& reg, int64_t now);
  void ForwardAndExpire(CenterStore& store,
                        std::map<std::string, std::unique_ptr<CenterClient>>& clients,
                        int64_t& last_expiry);
};

namespace {

http::response<http::string_body> TextResponse(unsigned version, int status, std::string body,
                                               const char* type = "text/plain; charset=utf-8") {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, "tessera");
  res.set(http::field::content_type, type);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

void CenterServer::Impl::Drain() {
  std::vector<std::shared_ptr<StorageJob>> batch;
  {
    std::lock_guard lock(jobs_mu);
    batch.swap(jobs);
    drain_posted = false;
  }
  // If a batch transaction cannot be begun, each job commits on its own instead.
  Result<CenterStore::Batch> spool_batch = store->BeginBatch();
  Result<Transaction> audit_batch = audit->BeginBatch();
  for (const auto& job : batch) job->Run();
  // The two databases wait for the disk side by side; the jobs complete when both have.
  std::promise<Status> audit_committed;
  if (audit_batch.ok())
    asio::post(audit_committer, [&] { audit_committed.set_value(audit_batch->Commit()); });
  else
    audit_committed.set_value(Status::Ok());
  Status committed = spool_batch.ok() ? spool_batch->Commit() : Status::Ok();
  if (!committed.ok()) spdlog::error("exchange center: cannot commit: {}", committed.ToString());
  if (Status st = audit_committed.get_future().get(); !st.ok())
    spdlog::error("exchange center: cannot write the audit log: {}", st.ToString());
  if (committed.ok() && spool_batch.ok())
    if (auto released = spool_batch->TakeReleasedPayloads(); !released.empty())
      asio::post(remover,
                 [released = std::move(released)] { CenterStore::RemovePayloads(released); });
  for (const auto& job : batch) job->Complete(committed);
}

awaitable<void> CenterServer::Impl::ReloadRegistry() {
  asio::steady_timer timer(io);
  boost::system::error_code ec;
  while (!stopping) {
    Result<Registry> r = co_await OnStorage([this] { return config.load_registry(); });
    if (!r.ok()) spdlog::warn("exchange center: registry: {}", r.status().ToString());
    registry.Set(std::move(r));
    timer.expires_after(config.registry_reload);
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
  }
}

void CenterServer::Impl::Notify(const std::string& agency) {
  auto it = waiting.find(agency);
  if (it == waiting.end()) return;
  for (asio::steady_timer* t : it->second) t->cancel();
}

awaitable<Result<Peer>> CenterServer::Impl::Admit(Stream& stream, const std::string& address) {
  X509* raw = SSL_get1_peer_certificate(stream.native_handle());
  if (raw == nullptr) co_return Status::PermissionDenied("no client certificate");
  unsigned char* der = nullptr;
  const int n = i2d_X509(raw, &der);
  X509_free(raw);
  if (n <= 0) co_return Status::PermissionDenied("unreadable client certificate");
  auto cert = crypto::Certificate::FromDer(ByteView(der, static_cast<size_t>(n)));
  OPENSSL_free(der);
  if (!cert.ok()) co_return Status::PermissionDenied("unreadable client certificate");
  co_return co_await OnStorage([&] { return AdmitPeer(*cert, address); });
}

Result<Peer> CenterServer::Impl::AdmitPeer(const crypto::Certificate& cert,
                                           const std::string& address) {
  TESSERA_ASSIGN_OR_RETURN(InstalledRegistry installed, registry.GetWithTrust());
  const std::shared_ptr<const Registry>& reg = installed.registry;
  TESSERA_ASSIGN_OR_RETURN(Party party, installed.trust->Identify(cert, NowUnixSeconds()));
  if (!AddressAllowed(*reg, party, address))
    return Status::PermissionDenied(SignerName(party) + " is not registered at the address " +
                                    address);
  if (party.kind == Party::Kind::kAgency) {
    TESSERA_ASSIGN_OR_RETURN(std::optional<Suspension> suspended, SuspensionOf(*reg, party.id));
    if (suspended)
      return Status::PermissionDenied("agency " + party.id + " is suspended (" + suspended->reason +
                                      "): service is restored only by an authorised resume");
  }
  return Peer{party, address, SignerName(party) + " from " + address};
}

awaitable<void> CenterServer::Impl::Session(tcp::socket socket) {
  boost::system::error_code ec;
  const std::string address = socket.remote_endpoint(ec).address().to_string();
  // A response goes out in several TLS records; with Nagle's algorithm on, the last waits
  // for the peer's delayed ACK (40 ms), which capped a connection at 25 items/s.
  socket.set_option(tcp::no_delay(true), ec);
  Stream stream(std::move(socket), tls);
  beast::get_lowest_layer(stream).expires_after(kHandshakeTimeout);
  co_await stream.async_handshake(ssl::stream_base::server,
                                  asio::redirect_error(use_awaitable, ec));
  if (ec) {
    spdlog::info("exchange center: TLS handshake with {} failed: {}", address, ec.message());
    AuditLater(address, "exchange.connection-refused", address, "TLS: " + ec.message());
    co_return;
  }
  Result<Peer> peer = co_await Admit(stream, address);
  if (!peer.ok()) {
    spdlog::warn("exchange center: refused {}: {}", address, peer.status().message());
    AuditLater(address, "exchange.connection-refused", address, peer.status().message());
    // Say why in one HTTP answer, since the client may be a person with curl.
    auto res = TextResponse(11, HttpStatusFor(peer.status()), peer.status().message() + "\n");
    res.keep_alive(false);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
    co_return;
  }
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(kHeaderLimit);
    // The size an item may have is the policy's, checked with its header (AdmitItem).
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::get_lowest_layer(stream).expires_after(kIdleTimeout);
    co_await http::async_read_header(stream, buffer, parser,
                                     asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    bool keep = co_await Handle(stream, buffer, parser, *peer);
    if (!keep) break;
  }
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

awaitable<bool> CenterServer::Impl::Handle(Stream& stream, beast::flat_buffer& buffer,
                                           http::request_parser<http::empty_body>& parser,
                                           const Peer& peer) {
  const auto& req = parser.get();
  const std::string target(req.target());
  const unsigned version = req.version();
  boost::system::error_code ec;
  auto reply = [&](int status, std::string body,
                   const char* type = "text/plain; charset=utf-8") -> awaitable<bool> {
    auto res = TextResponse(version, status, std::move(body), type);
    const bool keep = req.keep_alive() && parser.is_done();
    res.keep_alive(keep);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return keep && !ec;
  };
  const bool is_agency = peer.party.kind == Party::Kind::kAgency;
  if (req.method() == http::verb::post && target == "/v1/items")
    co_return co_await PostItem(stream, buffer, parser, peer);
  if (req.method() == http::verb::get && target.rfind("/v1/inbox", 0) == 0 && is_agency)
    co_return co_await Pull(stream, req, peer);
  if (req.method() == http::verb::post && target.rfind("/v1/inbox/", 0) == 0 && is_agency) {
    // /v1/inbox/<delivery>/ack
    const std::string rest = target.substr(10);
    const size_t slash = rest.find('/');
    int64_t delivery = 0;
    bool number = true;
    try {
      delivery = std::stoll(rest.substr(0, slash));
    } catch (const std::exception&) {
      number = false;
    }
    if (!number) co_return co_await reply(400, "bad delivery number\n");
    if (slash == std::string::npos || rest.substr(slash) != "/ack")
      co_return co_await reply(404, "unknown resource\n");
    const bool keep_alive = req.keep_alive();
    // Drain the (empty) body before answering on a kept connection.
    if (!parser.is_done()) {
      http::request_parser<http::string_body> rest_parser(std::move(parser));
      rest_parser.body_limit(1024);
      co_await http::async_read(stream, buffer, rest_parser,
                                asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
    }
    Status st = co_await OnStorage([&] { return AcknowledgeDelivery(peer, delivery); });
    auto res = TextResponse(version, st.ok() ? 204 : HttpStatusFor(st),
                            st.ok() ? "" : st.message() + "\n");
    if (st.ok()) res.body().clear(), res.prepare_payload();
    res.keep_alive(keep_alive);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return keep_alive && !ec;
  }
  if (req.method() != http::verb::get) co_return co_await reply(405, "method not allowed\n");
  if (target.rfind("/v1/status/", 0) == 0 && is_agency) {
    const std::string id = target.substr(11);
    auto st = co_await OnStorage([&] { return store->StatusOf(peer.party.id, id); });
    if (!st.ok())
      co_return co_await reply(HttpStatusFor(st.status()), st.status().message() + "\n");
    nlohmann::json j = {
        {"center", config.center_id}, {"id", id}, {"recipients", nlohmann::json::array()}};
    for (const DeliveryStatus& d : *st)
      j["recipients"].push_back({{"recipient", d.recipient},
                                 {"state", d.state},
                                 {"via", d.via},
                                 {"updated_at", d.updated_at},
                                 {"attempts", d.attempts}});
    co_return co_await reply(200, j.dump(), "application/json");
  }
  if (target == "/v1/time") {
    nlohmann::json j = {{"now_nanos", NowUnixNanos()}};
    co_return co_await reply(200, j.dump(), "application/json");
  }
  if (target == "/v1/health") {
    nlohmann::json j = {{"center", config.center_id}, {"now", NowUnixSeconds()}};
    auto reg = registry.Get();
    if (reg.ok())
      j["registry"] = {{"serial", (*reg)->serial},
                       {"issued_at", (*reg)->issued_at},
                       {"expires_at", (*reg)->expires_at},
                       {"age_seconds", NowUnixSeconds() - (*reg)->issued_at}};
    else
      j["registry"] = {{"error", reg.status().message()}};
    j["certificate"] = {{"not_after", certificate.NotAfter()},
                        {"days_left", (certificate.NotAfter() - NowUnixSeconds()) / 86400}};
    struct statvfs vfs {};
    if (statvfs(config.dir.c_str(), &vfs) == 0)
      j["spool"] = {{"free_bytes", static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize}};
    auto counts = co_await OnStorage([&] { return store->Counts(); });
    if (counts.ok())
      for (const auto& [state, n] : *counts) j["deliveries"][state] = n;
    co_return co_await reply(200, j.dump(), "application/json");
  }
  if (target == "/v1/registry" && !config.published_registry.empty()) {
    auto text = ReadTextFile(config.published_registry);
    if (!text.ok()) co_return co_await reply(503, "no registry has been published yet\n");
    co_return co_await reply(200, *text, "application/json");
  }
  co_return co_await reply(404, "unknown resource\n");
}

Result<CenterServer::Impl::Admission> CenterServer::Impl::AdmitItem(const std::string& routing,
                                                                    const std::string& named,
                                                                    std::optional<uint64_t> length,
                                                                    const Peer& peer) {
  TESSERA_ASSIGN_OR_RETURN(InstalledRegistry installed, registry.GetWithTrust());
  const std::shared_ptr<const Registry>& reg = installed.registry;
  const int64_t now = NowUnixSeconds();
  auto header_bytes = Base64Decode(routing);
  if (!header_bytes.ok() || header_bytes->empty())
    return Status::InvalidArgument("the request has no valid Tessera-Routing header");
  TESSERA_ASSIGN_OR_RETURN(SealedHeader sealed,
                           OpenHeader(*header_bytes, installed.trust->Signers()));
  const RoutingHeader& h = sealed.header;
  TESSERA_ASSIGN_OR_RETURN(Party signer, installed.trust->Identify(sealed.signer, now));
  if (SignerName(signer) != h.from)
    return Status::PermissionDenied("the routing header names " + h.from +
                                    " as sender but is signed by " + SignerName(signer));
  // Which recipients this center takes: all of them from an agency; from a peer center,
  // those it names, each homed here.
  std::vector<std::string> recipients = h.to;
  if (peer.party.kind == Party::Kind::kAgency) {
    if (h.from != peer.party.id)
      return Status::PermissionDenied("agency " + peer.party.id +
                                      " may send only its own items, not " + h.from + "'s");
    if (h.created_at > now + reg->policy.max_clock_skew_seconds)
      return Status::FailedPrecondition(
          "the item is dated " + std::to_string(h.created_at - now) +
          " s in the future: the sender's clock is wrong; synchronise it (NTP) "
          "and send again");
  } else {
    recipients = Split(named);
    if (recipients.empty())
      return Status::InvalidArgument("a forwarded item must name its recipients");
    for (const std::string& r : recipients) {
      const Agency* a = reg->FindAgency(r);
      if (std::find(h.to.begin(), h.to.end(), r) == h.to.end() || a == nullptr ||
          a->home_center != config.center_id)
        return Status::InvalidArgument(r + " is not a recipient of this item homed here");
    }
  }
  std::vector<Route> routes;
  for (const std::string& r : recipients) {
    const Agency* a = reg->FindAgency(r);
    if (a == nullptr) return Status::NotFound("recipient " + r + " is not in the registry");
    routes.push_back({r, a->home_center == config.center_id ? "" : a->home_center});
    if (!routes.back().via.empty() && reg->FindCenter(a->home_center) == nullptr)
      return Status::FailedPrecondition("recipient " + r + "'s center " + a->home_center +
                                        " is not in the registry");
  }
  if (!length || *length != h.payload_size)
    return Status::InvalidArgument("the body's length differs from the header's payload_size");
  if (h.payload_size > reg->policy.max_message_bytes)
    return Status::InvalidArgument("the item is larger than the policy allows (" +
                                   std::to_string(reg->policy.max_message_bytes) + " bytes)");
  return Admission{reg, std::move(sealed), std::move(recipients), std::move(routes), {}};
}

Status CenterServer::Impl::AdmitItemAgainstStore(Admission& admission) {
  const RoutingHeader& h = admission.sealed.header;
  if (h.from.rfind("center:", 0) != 0) {
    TESSERA_ASSIGN_OR_RETURN(std::optional<Suspension> suspended,
                             SuspensionOf(*admission.registry, h.from));
    if (suspended) return Status::PermissionDenied("the sender " + h.from + " is suspended");
  }
  TESSERA_ASSIGN_OR_RETURN(admission.existing, store->FindExisting(h.from, h.id, h.payload_sha256));
  return Status::Ok();
}

awaitable<bool> CenterServer::Impl::PostItem(Stream& stream, beast::flat_buffer& buffer,
                                             http::request_parser<http::empty_body>& parser,
                                             const Peer& peer) {
  const auto& req = parser.get();
  const unsigned version = req.version();
  boost::system::error_code ec;
  // A refusal is answered before the body is read, and the connection closed.
  auto refuse = [&](const Status& st) -> awaitable<bool> {
    spdlog::warn("exchange center: refused an item from {}: {}", peer.name, st.message());
    AuditLater(peer.name, "exchange.refuse", "item", st.message());
    auto res = TextResponse(version, HttpStatusFor(st), st.message() + "\n");
    res.keep_alive(false);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return false;
  };
  // Every check on the header happens here, before the body is read, off the network
  // thread: signature verification on a worker, the store's look-ups on the storage
  // thread.
  const std::string routing(req["Tessera-Routing"]);
  const std::string named(req["Tessera-Recipients"]);
  std::optional<uint64_t> length;
  if (parser.content_length()) length = *parser.content_length();
  auto admitted = co_await OnWorker([&] { return AdmitItem(routing, named, length, peer); });
  if (!admitted.ok()) co_return co_await refuse(admitted.status());
  Status known = co_await OnStorage([&] { return AdmitItemAgainstStore(*admitted); });
  if (!known.ok()) co_return co_await refuse(known);
  if (admitted->existing) {
    // A resend: answer with the first receipt, without reading the body again.
    auto res = TextResponse(version, 200, std::string(AsString(admitted->existing->receipt)),
                            "application/pkcs7-mime");
    res.keep_alive(false);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return false;
  }
  const SealedHeader& sealed = admitted->sealed;
  const RoutingHeader& h = sealed.header;
  const std::vector<std::string>& recipients = admitted->recipients;
  const std::vector<Route>& routes = admitted->routes;

  // The body streams to the spool.
  const fs::path incoming = store->IncomingPath();
  const bool keep_alive = req.keep_alive();
  http::request_parser<http::buffer_body> body_parser(std::move(parser));
  body_parser.body_limit(h.payload_size);
  beast::file spool_file;
  spool_file.open(incoming.c_str(), beast::file_mode::write, ec);
  if (ec) co_return co_await refuse(Status::IOError("cannot write the spool: " + ec.message()));
  beast::get_lowest_layer(stream).expires_never();
  // TLS hands the body over a few KB at a time; it is gathered into large pieces before
  // each write. A stalled sender is cut off by TCP keepalive and the idle limit between
  // reads.
  auto chunk = std::make_unique_for_overwrite<char[]>(kSpoolChunkBytes);
  size_t filled = 0;
  while (!ec && !body_parser.is_done()) {
    body_parser.get().body().data = chunk.get() + filled;
    body_parser.get().body().size = kSpoolChunkBytes - filled;
    co_await http::async_read(stream, buffer, body_parser, asio::redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) break;
    filled = kSpoolChunkBytes - body_parser.get().body().size;
    if (filled == kSpoolChunkBytes || body_parser.is_done()) {
      spool_file.write(chunk.get(), filled, ec);
      filled = 0;
    }
  }
  if (!ec) spool_file.close(ec);
  if (ec) {
    std::error_code removed;
    fs::remove(incoming, removed);
    co_return false;
  }
  // The hash is checked, the payload flushed to the disk and the center's receipt signed
  // off the network and storage threads; only the commit waits for the storage thread.
  Bytes receipt_signed;
  Status written = co_await OnWorker([&]() -> Status {
    TESSERA_ASSIGN_OR_RETURN(crypto::FileDigest d, crypto::Sha256File(incoming));
    if (HexEncode(d.sha256) != h.payload_sha256)
      return Status::Corruption("the payload does not match the SHA-256 in its signed header");
    TESSERA_RETURN_IF_ERROR(SyncFile(incoming));
    Receipt receipt;
    receipt.kind = ReceiptKind::kAccepted;
    receipt.document_id = h.id;
    receipt.document_sender = h.from;
    receipt.issuer = "center:" + config.center_id;
    receipt.at = NowUnixSeconds();
    receipt.payload_sha256 = h.payload_sha256;
    TESSERA_ASSIGN_OR_RETURN(receipt_signed, SignReceipt(receipt, certificate, key));
    return Status::Ok();
  });
  if (!written.ok()) {
    std::error_code rm;
    fs::remove(incoming, rm);
    co_return co_await refuse(written);
  }
  auto accepted = co_await OnStorage([&]() -> Result<AcceptedItem> {
    Result<AcceptedItem> r =
        store->Accept(sealed, incoming, routes, [&]() -> Result<Bytes> { return receipt_signed; });
    Audit(peer.name, "exchange.accept",
          ItemKindName(h.kind) + " " + h.id + " from " + h.from + " to " + Join(recipients),
          r.ok() ? (r->duplicate ? "resend recognised" : "accepted as " + std::to_string(r->seq))
                 : r.status().message());
    return r;
  });
  if (!accepted.ok()) {
    auto res =
        TextResponse(version, HttpStatusFor(accepted.status()), accepted.status().message() + "\n");
    res.keep_alive(false);
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return false;
  }
  for (const Route& r : routes)
    if (r.via.empty()) Notify(r.recipient);
  auto res = TextResponse(version, 200, std::string(AsString(accepted->receipt)),
                          "application/pkcs7-mime");
  res.keep_alive(keep_alive);
  co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  co_return keep_alive && !ec;
}

Status CenterServer::Impl::AcknowledgeDelivery(const Peer& peer, int64_t delivery) {
  Status s = store->Acknowledge(peer.party.id, delivery, NowUnixSeconds());
  Audit(peer.name, "exchange.deliver", "delivery " + std::to_string(delivery),
        s.ok() ? "acknowledged" : s.message());
  return s;
}

awaitable<bool> CenterServer::Impl::Pull(Stream& stream, const http::request<http::empty_body>& req,
                                         const Peer& peer) {
  boost::system::error_code ec;
  const std::string target(req.target());
  const std::optional<int64_t> wait_asked = QueryNumber(target, "wait");
  const int wait =
      static_cast<int>(std::clamp<int64_t>(wait_asked.value_or(0), 0, kMaxWaitSeconds));
  // `ack=D` acknowledges the delivery pulled before, in the same storage job as the
  // lease of the next: a recipient then makes one request per item, not two.
  std::optional<int64_t> ack = QueryNumber(target, "ack");
  if (!ack && target.find("ack=") != std::string::npos) {
    auto res = TextResponse(req.version(), 400, "bad delivery number in ack=\n");
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait);
  asio::steady_timer timer(io);
  std::optional<LeasedItem> item;
  while (true) {
    auto leased = co_await OnStorage([&]() -> Result<std::optional<LeasedItem>> {
      if (ack) {
        TESSERA_RETURN_IF_ERROR(AcknowledgeDelivery(peer, *ack));
        ack.reset();
      }
      return store->Lease(peer.party.id, NowUnixSeconds(), config.lease_seconds);
    });
    if (!leased.ok()) {
      auto res = TextResponse(req.version(), HttpStatusFor(leased.status()),
                              leased.status().message() + "\n");
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      co_return false;
    }
    if (*leased) {
      item = std::move(*leased);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline || stopping) break;
    // Woken by an item for this agency, or after a second (a peer or the expiry may have
    // added one), whichever comes first.
    timer.expires_after(std::min<std::chrono::steady_clock::duration>(
        std::chrono::seconds(1), deadline - std::chrono::steady_clock::now()));
    waiting[peer.party.id].insert(&timer);
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    waiting[peer.party.id].erase(&timer);
  }
  if (!item) {
    http::response<http::empty_body> res{http::status::no_content, req.version()};
    res.set(http::field::server, "tessera");
    res.keep_alive(req.keep_alive());
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return req.keep_alive() && !ec;
  }
  http::response<SpoolFileBody> res{http::status::ok, req.version()};
  res.set(http::field::server, "tessera");
  res.set(http::field::content_type, "application/octet-stream");
  res.set("Tessera-Routing", Base64Encode(item->header));
  res.set("Tessera-Delivery", std::to_string(item->delivery));
  res.body().file.open(item->payload.c_str(), beast::file_mode::scan, ec);
  if (!ec) res.body().size = res.body().file.size(ec);
  if (ec) {
    auto err = TextResponse(req.version(), 503, "the spool lost an item: " + ec.message() + "\n");
    co_await http::async_write(stream, err, asio::redirect_error(use_awaitable, ec));
    co_return false;
  }
  res.prepare_payload();
  res.keep_alive(req.keep_alive());
  beast::get_lowest_layer(stream).expires_never();
  co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  co_return req.keep_alive() && !ec;
}

awaitable<void> CenterServer::Impl::Accept() {
  boost::system::error_code ec;
  while (!stopping) {
    tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    asio::co_spawn(io, Session(std::move(socket)), asio::detached);
  }
}

void CenterServer::Impl::ForwardAndExpire(
    CenterStore& bg_store, std::map<std::string, std::unique_ptr<CenterClient>>& clients,
    int64_t& last_expiry) {
  auto reg_or = registry.Get();
  if (!reg_or.ok()) return;  // fail closed: nothing leaves without a valid registry
  std::shared_ptr<const Registry> reg = *reg_or;
  const int64_t now = NowUnixSeconds();
  auto peers = bg_store.PeersWithWork(now);
  if (peers.ok()) {
    for (const std::string& peer_id : *peers) {
      const Center* peer = reg->FindCenter(peer_id);
      if (peer == nullptr) continue;
      auto& client = clients[peer_id];
      if (!client) {
        ClientTls tls;
        tls.certificate = config.certificate;
        tls.key = config.key;
        for (const std::string& pem : reg->trust_anchors) tls.anchors_pem += pem;
        for (const std::string& pem : peer->certificates)
          if (auto c = crypto::Certificate::FromPem(pem); c.ok())
            tls.server_certificates.push_back(*c);
        tls.allow_tls12 = config.allow_tls12;
        // Peers admit this center from its registered address.
        if (const Center* me = reg->FindCenter(config.center_id);
            me && !me->addresses.empty() && me->addresses[0].find('/') == std::string::npos)
          tls.source_address = me->addresses[0];
        auto made = CenterClient::Create(peer->url, std::move(tls));
        if (!made.ok()) continue;
        client = std::move(made).value();
      }
      for (int i = 0; i < 64 && !stopping; ++i) {
        auto leased = bg_store.LeaseForPeer(peer_id, NowUnixSeconds(), config.lease_seconds);
        if (!leased.ok() || !*leased) break;
        const LeasedItem& item = **leased;
        auto sent = client->PostItem(item.header, item.payload, item.recipients);
        if (!sent.ok()) {
          spdlog::warn("exchange center: forwarding to {} failed (will retry): {}", peer_id,
                       sent.status().ToString());
          client.reset();
          break;
        }
        Status marked = bg_store.MarkForwarded(peer_id, item.seq, NowUnixSeconds());
        if (!marked.ok()) spdlog::error("exchange center: {}", marked.ToString());
        AuditLater("center:" + config.center_id, "exchange.forward",
                   "item " + std::to_string(item.seq) + " to " + peer_id,
                   "forwarded for " + Join(item.recipients));
      }
    }
  }
  // Every expire_period, or more often when the policy gives documents less time than that.
  const int64_t period = std::min<int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(config.expire_period).count(),
      std::max<int64_t>(1, reg->policy.delivery_expiry_seconds / 4));
  if (now - last_expiry < period) return;
  last_expiry = now;
  CheckCertificates(bg_store, *reg, now);
  auto held = [&](const std::string& agency) {
    if (RegistrySuspension(*reg, agency)) return true;
    auto local = bg_store.LocalSuspension(agency);
    return local.ok() && local->has_value();
  };
  auto expired = bg_store.Expire(now, reg->policy.delivery_expiry_seconds, held);
  if (!expired.ok()) {
    spdlog::error("exchange center: expiry: {}", expired.status().ToString());
    return;
  }
  for (const ExpiredItem& e : *expired) {
    // The sender hears of it through a receipt this center signs.
    Receipt receipt;
    receipt.kind = ReceiptKind::kExpired;
    receipt.document_id = e.id;
    receipt.document_sender = e.sender;
    receipt.recipient = e.recipient;
    receipt.issuer = "center:" + config.center_id;
    receipt.at = now;
    receipt.payload_sha256 = e.payload_sha256;
    receipt.reason_code = reason::kExpired;
    receipt.reason = "not collected by " + e.recipient + " within the delivery period";
    auto signed_receipt = SignReceipt(receipt, certificate, key);
    if (!signed_receipt.ok()) continue;
    const fs::path payload = bg_store.IncomingPath();
    if (!WriteFileAtomic(payload, *signed_receipt, 0600).ok()) continue;
    RoutingHeader h;
    h.kind = ItemKind::kReceipt;
    h.id = NewItemId();
    h.from = "center:" + config.center_id;
    h.to = {e.sender};
    h.created_at = now;
    h.payload_sha256 = HexEncode(crypto::Sha256(*signed_receipt));
    h.payload_size = signed_receipt->size();
    auto sealed_der = SealHeader(h, certificate, key);
    if (!sealed_der.ok()) continue;
    auto sealed = OpenHeader(*sealed_der, crypto::OnlySigner(certificate));
    if (!sealed.ok()) continue;
    const Agency* sender = reg->FindAgency(e.sender);
    if (sender == nullptr) continue;
    std::vector<Route> routes{
        {e.sender, sender->home_center == config.center_id ? "" : sender->home_center}};
    auto accepted =
        bg_store.Accept(*sealed, payload, routes, [&]() -> Result<Bytes> { return Bytes{}; });
    AuditLater("center:" + config.center_id, "exchange.expire",
               "document " + e.id + " from " + e.sender + " to " + e.recipient,
               accepted.ok() ? "expired; receipt queued for the sender"
                             : "expired; the receipt could not be queued");
  }
}

void CenterServer::Impl::CheckCertificates(CenterStore& bg_store, const Registry& reg,
                                           int64_t now) {
  const std::string me = "center:" + config.center_id;
  for (const Agency& agency : reg.agencies) {
    if (agency.home_center != config.center_id) continue;
    int64_t latest = 0;
    for (const std::string& pem : agency.certificates) {
      auto cert = crypto::Certificate::FromPem(pem);
      if (!cert.ok()) continue;
      latest = std::max(latest, cert->NotAfter());
      const int64_t days_left = (cert->NotAfter() - now) / 86400;
      // The narrowest threshold reached is the one announced (60, then 30, then 7 days).
      std::optional<int> threshold;
      for (int days : reg.policy.certificate_warning_days)
        if (cert->NotAfter() > now && days_left < days && (!threshold || days < *threshold))
          threshold = days;
      if (!threshold) continue;
      auto fresh = bg_store.RecordCertificateWarning(cert->Fingerprint(), *threshold, now);
      if (fresh.ok() && *fresh) {
        spdlog::warn("exchange center: the certificate of {} expires in {} days ({})", agency.code,
                     days_left, cert->Subject());
        AuditLater(me, "exchange.certificate-warning", agency.code,
                   "certificate expires in " + std::to_string(days_left) + " days (" +
                       std::to_string(*threshold) + "-day warning)");
      }
    }
    if (latest == 0 || latest > now) continue;
    // Every certificate has expired: the agency is suspended until an authorised resume.
    auto local = bg_store.LocalSuspension(agency.code);
    if (!local.ok() || local->has_value()) continue;
    Suspension s{"certificate-expired", "every registered certificate has expired",
                 me + " (automatic)", now};
    if (bg_store.Suspend(agency.code, s).ok())
      AuditLater(me, "exchange.suspend", agency.code,
                 "certificate-expired: suspended automatically");
  }
}

void CenterServer::Impl::Background() {
  auto bg_store = CenterStore::Open(config.dir);
  if (!bg_store.ok()) {
    spdlog::error("exchange center: forwarding stopped: {}", bg_store.status().ToString());
    return;
  }
  std::map<std::string, std::unique_ptr<CenterClient>> clients;
  int64_t last_expiry = 0;
  while (!stopping) {
    ForwardAndExpire(**bg_store, clients, last_expiry);
    std::unique_lock lock(stop_mu);
    stop_cv.wait_for(lock, config.forward_period, [this] { return stopping.load(); });
  }
}

CenterServer::CenterServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CenterServer::~CenterServer() {
  Stop();
  if (impl_->background.joinable()) impl_->background.join();
  impl_->storage.join();
  impl_->workers.join();
  impl_->remover.join();
  impl_->audit_committer.join();
}

Result<std::unique_ptr<CenterServer>> CenterServer::Start(CenterServerConfig config) {
  TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::Load(config.certificate));
  TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                           crypto::PrivateKey::Load(config.key, "the center's key"));
  if (!key.Matches(cert))
    return Status::InvalidArgument(config.key.string() + " is not the key of " +
                                   config.certificate.string());
  auto impl = std::make_unique<Impl>(std::move(cert), std::move(key));
  impl->config = std::move(config);
  CenterServerConfig& c = impl->config;
  if (!c.load_registry) return Status::InvalidArgument("the center needs a registry");
  Result<Registry> first = c.load_registry();
  if (!first.ok()) return first.status().WithContext("the exchange registry");
  if (first->FindCenter(c.center_id) == nullptr)
    return Status::FailedPrecondition("this center's id '" + c.center_id +
                                      "' is not in the registry: register it (`tessera exchange "
                                      "registry center add`) and publish");
  impl->registry.Set(std::move(first));
  TESSERA_ASSIGN_OR_RETURN(impl->store, CenterStore::Open(c.dir));
  // One center per spool: it alone may take payloads no committed row names for leftovers.
  TESSERA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(c.dir / "center.lock", FileLock::Wait::kNo,
                                                         "another exchange center"));
  impl->spool_lock.emplace(std::move(lock));
  TESSERA_RETURN_IF_ERROR(impl->store->RemoveOrphanedPayloads());
  TESSERA_ASSIGN_OR_RETURN(impl->audit, guard::AuditLog::Open(c.audit_dir));

  SSL_CTX* ctx = impl->tls.native_handle();
  SSL_CTX_set_min_proto_version(ctx, c.allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  // TLS 1.2 only with forward-secret AEAD suites.
  SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No session resumption: every connection shows its certificate, and is admitted on it,
  // afresh. (A client offering a session otherwise failed its handshake, since a server
  // that asks for certificates must name a session context to resume.)
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  boost::system::error_code ec;
  impl->tls.use_certificate_chain_file(c.certificate.string(), ec);
  if (!ec) impl->tls.use_private_key_file(c.key.string(), ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("cannot use the center's certificate: " + ec.message());
  // The client's certificate is required; whose it is and whether it is trusted is
  // decided after the handshake against the registry (Admit), not by OpenSSL's store.
  impl->tls.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  impl->tls.set_verify_callback([](bool, ssl::verify_context&) { return true; });

  auto address = asio::ip::make_address(c.address, ec);
  if (ec) return Status::InvalidArgument("'" + c.address + "' is not an IP address");
  tcp::endpoint endpoint(address, c.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Unavailable("cannot listen on " + c.address + ":" + std::to_string(c.port) +
                               ": " + ec.message());
  return std::unique_ptr<CenterServer>(new CenterServer(std::move(impl)));
}

uint16_t CenterServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

Status CenterServer::Run(bool stop_on_signals) {
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  asio::co_spawn(impl_->io, impl_->ReloadRegistry(), asio::detached);
  impl_->background = std::thread([this] { impl_->Background(); });
  asio::signal_set signals(impl_->io);
  if (stop_on_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) Stop();
    });
  }
  try {
    impl_->io.run();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("exchange center: ") + e.what());
  }
  return Status::Ok();
}

void CenterServer::Stop() {
  impl_->stopping = true;
  { std::lock_guard lock(impl_->stop_mu); }
  impl_->stop_cv.notify_all();
  boost::system::error_code ec;
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
}

}  // namespace tessera::exchange
