#include "guard/syslog_shipper.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <ctime>
#include <functional>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/log.hpp"
#include "base/sqlite.hpp"
#include "base/utf8.hpp"

namespace tessera::guard {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr size_t kMaxFieldBytes = 2000;
constexpr const char* kBom = "\xEF\xBB\xBF";

constexpr const char* kCursorSchema = R"sql(
CREATE TABLE IF NOT EXISTS syslog_cursor(
  destination TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL);
)sql";

// RFC 5424 header fields are PRINTUSASCII (33..126) of a bounded length; "-" when empty.
std::string HeaderField(std::string_view s, size_t max_len) {
  std::string out;
  for (char c : s) {
    if (out.size() == max_len) break;
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 33 && u <= 126) ? c : '_';
  }
  return out.empty() ? "-" : out;
}

// At most `max_bytes` of valid UTF-8, cut on a character boundary, "…" marking a cut.
std::string Bounded(std::string_view s, size_t max_bytes) {
  std::string text = ToValidUtf8(s);
  if (text.size() <= max_bytes) return text;
  size_t end = 0;
  while (end < text.size()) {
    const size_t n = Utf8SequenceLength(text, end);
    if (n == 0 || end + n > max_bytes) break;
    end += n;
  }
  return text.substr(0, end) + "\xE2\x80\xA6";
}

bool ContainsWord(const std::string& haystack, std::initializer_list<const char*> words) {
  const std::string lower = AsciiLower(haystack);
  return std::any_of(words.begin(), words.end(),
                     [&](const char* w) { return lower.find(w) != std::string::npos; });
}

std::string LocalHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !name[0]) return "-";
  return name;
}

// SD-NAME: PRINTUSASCII except '=', ' ', ']' and '"', 1..32 characters.
bool ValidSdName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != '=' && c != ']' && c != '"';
  });
}

std::string OpenSslReason() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// A synchronous TLS client over Asio: each step runs the io_context for at most the
// timeout, and a step that overruns closes the socket.
class TlsConnection {
 public:
  explicit TlsConnection(const SyslogTlsOptions& o) : options_(o), ctx_(ssl::context::tls_client) {}

  Status Connect() {
    const std::string where = options_.host + ":" + std::to_string(options_.port);
    SSL_CTX* raw = ctx_.native_handle();
    SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION);
    error_code ec;
    ctx_.set_verify_mode(ssl::verify_peer, ec);
    ctx_.load_verify_file(options_.ca_file, ec);
    if (ec)
      return Status::FailedPrecondition("cannot load the collector's CA file " + options_.ca_file +
                                        " (" + ec.message() + "): give a PEM file with --ca");
    if (!options_.cert_file.empty()) {
      ctx_.use_certificate_chain_file(options_.cert_file, ec);
      if (!ec) ctx_.use_private_key_file(options_.key_file, ssl::context::pem, ec);
      if (ec)
        return Status::FailedPrecondition("cannot load the client certificate " +
                                          options_.cert_file + " and key (" + ec.message() +
                                          "): give matching PEM files with --cert and --key");
    }
    // SSL_new copies the context's verify mode and certificate: the stream comes after them.
    stream_.emplace(io_, ctx_);
    const std::string name = options_.server_name.empty() ? options_.host : options_.server_name;
    SSL* ssl = stream_->native_handle();
    error_code not_ip;
    asio::ip::make_address(name, not_ip);
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    } else {
      SSL_set1_host(ssl, name.c_str());
      SSL_set_tlsext_host_name(ssl, name.c_str());
    }

    tcp::resolver resolver(io_);
    tcp::resolver::results_type endpoints;
    ec = Step([&](auto done) {
      resolver.async_resolve(options_.host, std::to_string(options_.port),
                             [&, done](const error_code& e, tcp::resolver::results_type r) {
                               endpoints = std::move(r);
                               done(e);
                             });
    });
    if (ec)
      return Status::Unavailable("cannot resolve the collector " + options_.host + " (" +
                                 ec.message() + "): check --collector");
    ec = Step([&](auto done) {
      asio::async_connect(stream_->lowest_layer(), endpoints,
                          [done](const error_code& e, const tcp::endpoint&) { done(e); });
    });
    if (ec)
      return Status::Unavailable("cannot connect to the collector " + where + " (" + ec.message() +
                                 "); the records wait in the audit log");
    const auto handshake_start = std::chrono::steady_clock::now();
    ec = Step([&](auto done) { stream_->async_handshake(ssl::stream_base::client, done); });
    const auto handshake_time = std::chrono::steady_clock::now() - handshake_start;
    if (ec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        return Status::PermissionDenied("the collector " + where + "'s certificate is refused (" +
                                        X509_verify_cert_error_string(verify) +
                                        "): it must chain to " + options_.ca_file + " and name " +
                                        name + "; nothing was sent");
      const std::string detail = OpenSslReason();
      return Status::Unavailable("the TLS handshake with the collector " + where + " failed (" +
                                 ec.message() + (detail.empty() ? "" : "; " + detail) +
                                 "); nothing was sent");
    }
    return WaitForRefusal(handshake_time);
  }

  Status Write(std::string_view data) {
    const error_code ec = Step([&](auto done) {
      asio::async_write(*stream_, asio::buffer(data.data(), data.size()),
                        [done](const error_code& e, size_t) { done(e); });
    });
    if (ec)
      return Status::Unavailable("writing to the collector " + options_.host + ":" +
                                 std::to_string(options_.port) + " failed (" + ec.message() +
                                 "); the batch will be sent again");
    return Status::Ok();
  }

  // With TLS 1.3 our handshake ends before the collector has judged our certificate; one
  // that refuses it (rsyslog: "peer did not provide a certificate") then just closes. That
  // close arrives within a round trip or so: wait that long (at least 100 ms) for it, so as
  // not to take the collector's close after our data for its answer to our close_notify.
  Status WaitForRefusal(std::chrono::steady_clock::duration handshake_time) {
    using std::chrono::milliseconds;
    const auto window = std::min<milliseconds>(
        options_.timeout,
        std::max(milliseconds(100), std::chrono::duration_cast<milliseconds>(handshake_time * 3)));
    struct pollfd p {};
    p.fd = stream_->lowest_layer().native_handle();
    p.events = POLLRDHUP;
    const int n = ::poll(&p, 1, static_cast<int>(window.count()));
    if (n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
      return Status::Unavailable("the collector " + options_.host + ":" +
                                 std::to_string(options_.port) +
                                 " closed the connection after the TLS handshake: it refuses "
                                 "us; see its log (a client certificate it accepts: --cert, "
                                 "--key); nothing was sent");
    return Status::Ok();
  }

  // Sends close_notify and waits for the collector to close the connection in answer (see
  // the header); a reset or no answer within the timeout is Unavailable.
  Status Close() {
    const error_code ec = Step([&](auto done) { stream_->async_shutdown(done); });
    error_code ignored;
    stream_->lowest_layer().close(ignored);
    if (!ec || ec == asio::error::eof || ec == ssl::error::stream_truncated) return Status::Ok();
    const std::string detail = OpenSslReason();
    return Status::Unavailable("the collector " + options_.host + ":" +
                               std::to_string(options_.port) +
                               " did not confirm it read the batch (" + ec.message() +
                               (detail.empty() ? "" : "; " + detail) +
                               "): it will be sent again; check the collector's log (does it "
                               "accept our client certificate?)");
  }

 private:
  // Runs one asynchronous step to completion or until the timeout.
  error_code Step(const std::function<void(std::function<void(const error_code&)>)>& start) {
    std::optional<error_code> result;
    start([&result](const error_code& e) { result = e; });
    io_.restart();
    io_.run_for(options_.timeout);
    if (!result) {
      error_code ignored;
      stream_->lowest_layer().close(ignored);
      io_.restart();
      io_.run();  // lets the cancelled step finish
      return asio::error::timed_out;
    }
    return *result;
  }

  const SyslogTlsOptions& options_;
  asio::io_context io_;
  ssl::context ctx_;
  std::optional<ssl::stream<tcp::socket>> stream_;  // made by Connect
};

Result<std::vector<ShippedRecord>> ReadAfter(Database& db, int64_t seq, size_t limit) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db.Prepare("SELECT seq, at, actor, action, target, outcome, link FROM audit "
                              "WHERE seq > ? ORDER BY seq LIMIT ?"));
  q.Bind(1, seq).Bind(2, static_cast<int64_t>(limit));
  std::vector<ShippedRecord> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back(
        {{q.Int(0), q.Int(1), q.Text(2), q.Text(3), q.Text(4), q.Text(5)}, HexEncode(q.Blob(6))});
  }
  return out;
}

Result<int64_t> Head(Database& db) {
  TESSERA_ASSIGN_OR_RETURN(Statement q, db.Prepare("SELECT COALESCE(MAX(seq), 0) FROM audit"));
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

}  // namespace

Result<int> ParseFacility(const std::string& name) {
  static const std::pair<const char*, int> kNames[] = {
      {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
      {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
      {"authpriv", 10}, {"ftp", 11},    {"ntp", 12},    {"audit", 13},  {"alert", 14},
      {"clock", 15},    {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19},
      {"local4", 20},   {"local5", 21}, {"local6", 22}, {"local7", 23}};
  const std::string lower = AsciiLower(name);
  for (const auto& [n, v] : kNames)
    if (lower == n) return v;
  if (!name.empty() && name.size() <= 2 &&
      std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(c); })) {
    const int v = std::stoi(name);
    if (v <= 23) return v;
  }
  return Status::InvalidArgument("unknown syslog facility \"" + name +
                                 "\": use local0..local7, auth, authpriv, audit or 0..23");
}

int SeverityOf(const AuditRecord& r) {
  const std::string what = r.action + " " + r.outcome;
  if (ContainsWord(what, {"malware", "infected", "virus"})) return 1;
  if (ContainsWord(what, {"denied", "deny", "refused", "suspend", "forbidden", "rejected"}))
    return 4;
  if (ContainsWord(r.outcome, {"failed", "error", "damaged"})) return 3;
  if (ContainsWord(r.action, {"delete", "destroy", "purge", "prune", "forget"})) return 5;
  return 6;
}

std::string EscapeSdParam(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

std::string FormatRfc5424(const ShippedRecord& s, const SyslogFormat& f) {
  const AuditRecord& r = s.record;
  const int pri = f.facility * 8 + SeverityOf(r);
  // RFC 5424 §7.3.1: sequenceId runs 1..2147483647 and then starts again at 1.
  const int64_t sequence_id = (r.seq - 1) % 2147483647 + 1;
  std::string m = "<" + std::to_string(pri) + ">1 " + FormatRfc3339(r.at * 1000000000) + " " +
                  HeaderField(f.hostname.empty() ? LocalHostName() : f.hostname, 255) + " " +
                  HeaderField(f.app_name, 48) + " - " + HeaderField(r.action, 32) + " ";
  m += "[" + f.sd_id + " seq=\"" + std::to_string(r.seq) + "\" link=\"" + s.link + "\" actor=\"" +
       EscapeSdParam(Bounded(r.actor, kMaxFieldBytes)) + "\"]";
  m += "[meta sequenceId=\"" + std::to_string(sequence_id) + "\"]";
  const std::string target = Bounded(r.target, kMaxFieldBytes);
  const std::string outcome = Bounded(r.outcome, kMaxFieldBytes);
  m += " ";
  m += kBom;
  m += target.empty() ? outcome : target + ": " + outcome;
  return m;
}

std::string FrameOctetCounted(std::string_view message) {
  return std::to_string(message.size()) + " " + std::string(message);
}

Status ParseCollector(const std::string& text, SyslogTlsOptions& out) {
  std::string host = text;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos)
      return Status::InvalidArgument("collector \"" + text + "\": missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':')
        return Status::InvalidArgument("collector \"" + text + "\": use [ADDRESS]:PORT");
      port = text.substr(close + 2);
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty())
    return Status::InvalidArgument("collector \"" + text + "\": no host; use HOST:PORT");
  out.host = host;
  out.port = 6514;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
        std::stoi(port) == 0 || std::stoi(port) > 65535)
      return Status::InvalidArgument("collector \"" + text + "\": the port must be 1..65535");
    out.port = static_cast<uint16_t>(std::stoi(port));
  }
  return Status::Ok();
}

SyslogShipper::SyslogShipper(std::unique_ptr<Database> db, SyslogTlsOptions tls,
                             SyslogFormat format, std::string destination)
    : db_(std::move(db)),
      tls_(std::move(tls)),
      format_(std::move(format)),
      destination_(std::move(destination)) {}

SyslogShipper::~SyslogShipper() {
  Stop();
}

Result<std::unique_ptr<SyslogShipper>> SyslogShipper::Open(const std::filesystem::path& audit_dir,
                                                           SyslogTlsOptions tls,
                                                           SyslogFormat format,
                                                           std::string destination) {
  if (!ValidSdName(format.sd_id) || format.sd_id.find('@') == std::string::npos)
    return Status::InvalidArgument("the structured-data ID \"" + format.sd_id +
                                   "\" must be NAME@ENTERPRISE-NUMBER, at most 32 printable "
                                   "characters without '=', ']', '\"' or spaces");
  if (format.facility < 0 || format.facility > 23)
    return Status::InvalidArgument("the syslog facility must be 0..23");
  if (tls.ca_file.empty())
    return Status::InvalidArgument("the collector's CA file is required: give it with --ca");
  if (tls.cert_file.empty() != tls.key_file.empty())
    return Status::InvalidArgument("a client certificate needs its key: give --cert and --key");
  if (format.hostname.empty()) format.hostname = LocalHostName();
  if (destination.empty()) destination = tls.host + ":" + std::to_string(tls.port);
  // Creates the audit log (and its schema) on first use.
  TESSERA_RETURN_IF_ERROR(AuditLog::Open(audit_dir).status());
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(audit_dir / "audit.db"));
  TESSERA_RETURN_IF_ERROR(db->Exec(kCursorSchema));
  return std::unique_ptr<SyslogShipper>(
      new SyslogShipper(std::move(db), std::move(tls), std::move(format), std::move(destination)));
}

Result<int64_t> SyslogShipper::Cursor() {
  TESSERA_ASSIGN_OR_RETURN(Statement q,
                           db_->Prepare("SELECT seq FROM syslog_cursor WHERE destination = ?"));
  q.Bind(1, destination_);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

Status SyslogShipper::SetCursor(int64_t seq) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db_->Prepare("INSERT INTO syslog_cursor(destination, seq, at) VALUES(?,?,?) "
                                "ON CONFLICT(destination) DO UPDATE SET seq = excluded.seq, "
                                "at = excluded.at"));
  return q.Bind(1, destination_).Bind(2, seq).Bind(3, NowUnixSeconds()).Run();
}

Status SyslogShipper::Rewind(int64_t seq) {
  std::lock_guard lock(ship_mu_);
  if (seq < 0) return Status::InvalidArgument("rewind to a seq of 0 or more");
  return SetCursor(seq);
}

Result<ShipReport> SyslogShipper::ShipOnce(size_t batch) {
  std::lock_guard lock(ship_mu_);
  if (batch == 0) batch = 1;
  ShipReport report;
  TESSERA_ASSIGN_OR_RETURN(report.cursor, Cursor());
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(std::vector<ShippedRecord> pending,
                             ReadAfter(*db_, report.cursor, batch));
    if (pending.empty()) break;
    std::string frames;
    for (const ShippedRecord& r : pending) frames += FrameOctetCounted(FormatRfc5424(r, format_));
    // A connection per batch, so that each batch is confirmed by the collector's close
    // (see the header) before the cursor moves past it.
    TlsConnection connection(tls_);
    TESSERA_RETURN_IF_ERROR(connection.Connect());
    TESSERA_RETURN_IF_ERROR(connection.Write(frames));
    TESSERA_RETURN_IF_ERROR(connection.Close());
    TESSERA_RETURN_IF_ERROR(SetCursor(pending.back().record.seq));
    report.cursor = pending.back().record.seq;
    report.sent += pending.size();
  }
  TESSERA_ASSIGN_OR_RETURN(report.head, Head(*db_));
  return report;
}

void SyslogShipper::Start(std::chrono::milliseconds period, size_t batch) {
  Stop();
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, period, batch] { Loop(period, batch); });
}

void SyslogShipper::Stop() {
  {
    std::lock_guard lock(loop_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status SyslogShipper::last_status() const {
  std::lock_guard lock(loop_mu_);
  return last_status_;
}

void SyslogShipper::Loop(std::chrono::milliseconds period, size_t batch) {
  const std::chrono::milliseconds first_retry{1000};
  std::chrono::milliseconds retry = first_retry;
  while (true) {
    Result<ShipReport> r = ShipOnce(batch);
    std::chrono::milliseconds wait = period;
    if (r.ok()) {
      retry = first_retry;
      if (r->sent > 0)
        spdlog::info("syslog: {} record(s) shipped to {} (seq up to {})", r->sent, destination_,
                     r->cursor);
    } else {
      spdlog::warn("syslog: {}", r.status().ToString());
      wait = std::min(retry, period);
      retry = std::min(retry * 2, period);
    }
    std::unique_lock lock(loop_mu_);
    last_status_ = r.status();
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

Result<std::vector<ShipperCursor>> SyslogShipper::Cursors(const std::filesystem::path& audit_dir,
                                                          int64_t* head) {
  std::vector<ShipperCursor> out;
  *head = 0;
  std::error_code ec;
  if (!std::filesystem::exists(audit_dir / "audit.db", ec)) return out;
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(audit_dir / "audit.db"));
  TESSERA_RETURN_IF_ERROR(db->Exec(kCursorSchema));
  TESSERA_ASSIGN_OR_RETURN(*head, Head(*db));
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db->Prepare("SELECT destination, seq, at FROM syslog_cursor ORDER BY 1"));
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Int(1), q.Int(2)});
  }
  return out;
}

}  // namespace tessera::guard
