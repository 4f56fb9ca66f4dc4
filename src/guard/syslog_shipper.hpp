// Ships the audit log to a SOC's syslog collector: each record becomes one RFC 5424
// message, sent over TLS (RFC 5425: TLS 1.2 or later, octet-counting framing).
//
// The audit database is the buffer. The shipper keeps a durable cursor per destination
// (the last seq shipped, in the table syslog_cursor of <dir>/audit.db, next to the audit
// log) and sends the records after it, oldest first. Records written while the collector
// is down stay in the audit log and go out, in order and none skipped, when it is back.
//
// Each message carries the record's seq and chain link in structured data,
//   <166>1 2026-12-03T15:49:13Z host tessera - archive.search
//     [tessera@32473 seq="41" link="ab12..." actor="alice (uid 1000)"][meta sequenceId="41"]
//     BOM國稅局: 12 matches
// (PRI = facility * 8 + severity: local4, informational; MSGID the action; MSG target and
// outcome, UTF-8 after a BOM as RFC 5424 asks),
// so that the SOC sees a missing record as a gap in seq/sequenceId and can check links
// against the audit log.
//
// What "delivered" means: syslog over TLS has no application acknowledgement. The shipper
// sends a batch on a connection of its own, then a TLS close_notify, and waits for the
// collector to close the connection in answer (rsyslog closes without a close_notify of
// its own). A clean close after our data shows the collector read it; only then does the
// cursor move past the batch. A batch not so confirmed (a reset or broken pipe: the
// collector closed with our data unread, e.g. refusing our client certificate, which with
// TLS 1.3 happens after our side of the handshake is done; or no answer within the
// timeout) is sent again next time: the SOC may see a seq twice, never one missing for
// that reason. A collector that closes right after the handshake is caught before any data
// is sent (the shipper waits a few round trips, at least 100 ms, for such a close). What
// the shipper cannot know: a collector that read a batch and failed before storing it
// loses those records; the SOC sees a gap in seq, and Rewind() sends them again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.hpp"
#include "guard/audit_log.hpp"

namespace tessera {
class Database;
}

namespace tessera::guard {

// How a record is written as RFC 5424.
struct SyslogFormat {
  std::string hostname;  // empty: this machine's host name
  std::string app_name = "tessera";
  std::string sd_id = "tessera@32473";  // NAME@ENTERPRISE-NUMBER (32473: the example number)
  int facility = 20;                    // local4 (see ParseFacility)
};

// An audit record as shipped: with its chain link (hex).
struct ShippedRecord {
  AuditRecord record;
  std::string link;
};

// Facility by name ("local0".."local7", "auth", "authpriv", "audit", "user", "daemon") or
// number 0..23.
Result<int> ParseFacility(const std::string& name);
// RFC 5424 severity of a record (0 emergency .. 7 debug): alert (1) for malware, warning (4)
// for denials, refusals and suspensions, error (3) for failures, notice (5) for
// deletions and destructions, informational (6) otherwise.
int SeverityOf(const AuditRecord& r);
// PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\' and ']' get a backslash.
std::string EscapeSdParam(std::string_view value);
// One record as an RFC 5424 SYSLOG-MSG (no framing). Free text is made valid UTF-8 and MSG
// starts with the BOM; each of actor, target and outcome is cut at 2,000 bytes so that a
// message stays within what collectors accept.
std::string FormatRfc5424(const ShippedRecord& r, const SyslogFormat& format);
// RFC 5425 octet counting: "LEN SP MSG".
std::string FrameOctetCounted(std::string_view message);

struct SyslogTlsOptions {
  std::string host;  // the collector: a DNS name or an IP address
  uint16_t port = 6514;
  std::string ca_file;      // PEM: the CA(s) the collector's certificate must chain to
  std::string server_name;  // the name or IP its certificate must carry; empty: host
  std::string cert_file;    // PEM client certificate for mutual TLS (optional)
  std::string key_file;     // its private key
  std::chrono::milliseconds timeout{10000};  // for each of connect, handshake, write, close
};

// "HOST:PORT" or "[V6]:PORT" (port 6514 when left out).
Status ParseCollector(const std::string& text, SyslogTlsOptions& out);

struct ShipReport {
  uint64_t sent = 0;   // records delivered (see above) by this call
  int64_t cursor = 0;  // last seq delivered, after this call
  int64_t head = 0;    // the audit log's newest seq
};

struct ShipperCursor {
  std::string destination;
  int64_t seq = 0;  // last seq delivered there
  int64_t at = 0;   // when (Unix seconds)
};

class SyslogShipper {
 public:
  // Ships the audit log in `audit_dir` (creating it on first use, see AuditLog::Open).
  // `destination` names the cursor; empty: "host:port".
  static Result<std::unique_ptr<SyslogShipper>> Open(const std::filesystem::path& audit_dir,
                                                     SyslogTlsOptions tls, SyslogFormat format,
                                                     std::string destination = "");
  ~SyslogShipper();  // stops the background loop
  SyslogShipper(const SyslogShipper&) = delete;
  SyslogShipper& operator=(const SyslogShipper&) = delete;

  // Sends everything pending, in batches of `batch` records, a connection each; the
  // cursor moves after each batch delivered. Unavailable when the collector cannot be
  // reached, PermissionDenied when its certificate is refused: nothing after the cursor
  // is lost either way.
  Result<ShipReport> ShipOnce(size_t batch = 500);
  // Ships every `period` in a thread of its own until Stop(); after a failure it retries
  // sooner (1 s, doubling up to `period`).
  void Start(std::chrono::milliseconds period, size_t batch = 500);
  void Stop();
  // The last result of the background loop (OK before the first).
  Status last_status() const;

  // Sends again everything after `seq` (for a SOC that lost messages).
  Status Rewind(int64_t seq);
  const std::string& destination() const { return destination_; }

  // Every destination's cursor, and the audit log's newest seq, from `audit_dir`.
  static Result<std::vector<ShipperCursor>> Cursors(const std::filesystem::path& audit_dir,
                                                    int64_t* head);

 private:
  SyslogShipper(std::unique_ptr<Database> db, SyslogTlsOptions tls, SyslogFormat format,
                std::string destination);
  Result<int64_t> Cursor();
  Status SetCursor(int64_t seq);
  void Loop(std::chrono::milliseconds period, size_t batch);

  std::mutex ship_mu_;  // one ShipOnce at a time; guards db_
  std::unique_ptr<Database> db_;
  const SyslogTlsOptions tls_;
  const SyslogFormat format_;
  const std::string destination_;

  mutable std::mutex loop_mu_;  // guards stopping_, last_status_
  std::condition_variable wake_;
  bool stopping_ = false;
  Status last_status_;
  std::thread thread_;
};

}  // namespace tessera::guard
