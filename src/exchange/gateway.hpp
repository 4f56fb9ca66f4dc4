// An agency gateway (機關層): what a document management system, the console or the CLI
// uses to send and receive 公文 through the agency's exchange center.
//
// Sending validates the DI (and SW) against the official DTDs and checks the attachments,
// scans every file for malware, checks this host's clock against the center, then signs
// the bundle with the agency's key and encrypts it to every valid certificate of every
// recipient (crypto/cms.hpp), seals the routing header and posts it. The item is recorded
// before it is posted, so a failed send is resent with the same id and recognised by the
// center. The center's signed "accepted" receipt is checked and kept.
//
// Receiving pulls items, and for a document decrypts it, checks that the signature inside
// is the sender's registered key, unpacks and validates it, scans it, and records it with
// a signed "received" (or "rejected", with a reason code) receipt for the sender, all in
// one transaction before the center is told it was delivered; a redelivered item is
// recognised, so the agency sees each document once. Receipts from recipients and centers
// update, per recipient, where each sent document is.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.hpp"
#include "exchange/registry.hpp"

namespace tessera::exchange {

// A file's malware verdict: "" when clean, else the signature's name.
using MalwareScan = std::function<Result<std::string>(const std::filesystem::path& file)>;

// What the gateway tells the archive (and the audit log) about each document.
struct DocumentEvent {
  std::string direction;  // "sent" or "received"
  std::string id;
  std::string sender;
  std::vector<std::string> recipients;
  std::filesystem::path files;  // a directory holding the DI, SW and attachments
  std::string document;         // the DI's file name in it
};

struct GatewayConfig {
  std::string agency;                 // this agency's code (機關代碼)
  std::filesystem::path dir;          // state: database, outbox, inbox
  std::filesystem::path certificate;  // PEM: TLS client, signing and decryption
  std::filesystem::path key;
  std::function<Result<Registry>()> load_registry;
  bool allow_tls12 = false;
  std::string source_address;  // connect from this local address ("" for any)
  MalwareScan scan;            // required: there is no sending or receiving without scanning
  // Called for every document sent or received (e.g. to journal it into the archive).
  std::function<Status(const DocumentEvent&)> on_document;
  // Records security events: (action, target, outcome).
  std::function<void(const std::string&, const std::string&, const std::string&)> audit;
};

struct SendRequest {
  std::filesystem::path document;  // the DI
  std::filesystem::path roster;    // the SW, for 一文多發 (empty for none)
  std::vector<std::filesystem::path> attachments;
};

struct SendResult {
  std::string id;
  std::vector<std::string> recipients;
  bool duplicate = false;  // the center already had it (a resend)
};

struct ReceiveReport {
  int documents = 0;   // accepted into the inbox
  int rejected = 0;    // refused, with a receipt saying why
  int receipts = 0;    // receipts about documents this agency sent
  int duplicates = 0;  // redelivered items recognised
  std::vector<std::string> problems;
};

struct InboxEntry {
  std::string sender;
  std::string id;
  int64_t received_at = 0;
  std::string state;  // received or rejected
  std::string reason;
  std::string subject;
  std::string number;  // 發文字號
  std::filesystem::path files;
  std::string document;
};

struct RecipientState {
  std::string recipient;
  std::string state;  // prepared, accepted, received, rejected, expired
  std::string reason_code;
  std::string reason;
  int64_t at = 0;
};

struct SentEntry {
  std::string id;
  int64_t created_at = 0;
  std::string subject;
  std::string number;
  std::vector<RecipientState> recipients;
};

struct ClockReading {
  double skew_seconds = 0;  // center's clock minus ours
  double round_trip_seconds = 0;
};

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> Open(GatewayConfig config);
  ~Gateway();

  Result<SendResult> Send(const SendRequest& request);
  // Sends again every document the center has not yet acknowledged accepting, and every
  // receipt not yet handed over.
  Status Flush();
  // Pulls and processes items until none arrives within `wait_seconds`, or `max_items`.
  Result<ReceiveReport> Receive(int wait_seconds, int max_items);
  // Once `*stop` becomes true, a request to the center in progress (Receive's long poll)
  // ends within about a second: for a daemon that is stopping. It must outlive the gateway.
  void StopWaitingWhen(const std::atomic<bool>* stop);

  Result<std::vector<InboxEntry>> Inbox();
  Result<std::vector<SentEntry>> Sent(const std::string& id = "");
  Result<ClockReading> CheckClock();
  // The home center's GET /v1/health answer (exchange/health.hpp reads it).
  Result<nlohmann::json> CenterHealth();

 private:
  struct Impl;
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::exchange
