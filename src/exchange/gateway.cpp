#include "exchange/gateway.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/log.hpp"
#include "base/sqlite.hpp"
#include "crypto/cms.hpp"
#include "crypto/hash.hpp"
#include "exchange/bundle.hpp"
#include "exchange/center_client.hpp"
#include "exchange/document.hpp"
#include "exchange/envelope.hpp"
#include "exchange/receipt.hpp"
#include "exchange/trust.hpp"

namespace tessera::exchange {
namespace fs = std::filesystem;
namespace {

// An item is pulled into a file named after the pulling process: a `tessera serve` gateway
// daemon and a `tessera exchange receive` may pull at the same time (the center leases
// each item to one of them).
std::string PullFileName(pid_t pid) {
  return "pull-" + std::to_string(pid) + ".part";
}

// Removes the pull files of processes that are no longer running (one killed mid-pull):
// the center redelivers their items. Other files, and a running process's, are left.
void RemoveAbandonedPulls(const fs::path& incoming) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(incoming, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= 10 || name.rfind("pull-", 0) != 0 || !name.ends_with(".part")) continue;
    const std::string digits = name.substr(5, name.size() - 10);
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (::kill(pid, 0) == 0 || errno == EPERM) continue;
    std::error_code removed;
    fs::remove(e.path(), removed);
  }
}

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS sent(
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  subject TEXT NOT NULL,
  number TEXT NOT NULL,
  header BLOB NOT NULL,
  payload TEXT NOT NULL,
  accepted_receipt BLOB);
CREATE TABLE IF NOT EXISTS sent_status(
  id TEXT NOT NULL,
  recipient TEXT NOT NULL,
  state TEXT NOT NULL,
  reason_code TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  receipt BLOB,
  PRIMARY KEY(id, recipient));
CREATE TABLE IF NOT EXISTS inbox(
  sender TEXT NOT NULL,
  id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  subject TEXT NOT NULL,
  number TEXT NOT NULL,
  files TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY(sender, id));
CREATE TABLE IF NOT EXISTS outgoing_receipts(
  id TEXT PRIMARY KEY,
  header BLOB NOT NULL,
  payload TEXT NOT NULL);
)";

Result<std::string> HashFile(const fs::path& path) {
  TESSERA_ASSIGN_OR_RETURN(crypto::FileDigest d, crypto::Sha256File(path));
  return HexEncode(d.sha256);
}

uint64_t FileSize(const fs::path& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

// The rank of a recipient's state: a later receipt never moves it backwards.
int Rank(const std::string& state) {
  if (state == "prepared") return 0;
  if (state == "accepted") return 1;
  return 2;  // received, rejected, expired: final
}

}  // namespace

struct Gateway::Impl {
  GatewayConfig config;
  std::unique_ptr<Database> db;
  crypto::Certificate certificate;
  crypto::PrivateKey key;
  std::unique_ptr<CenterClient> client;
  const std::atomic<bool>* stop = nullptr;  // see StopWaitingWhen
  std::string client_center;                // the center `client` talks to
  uint64_t client_serial = 0;
  std::optional<ClockReading> clock;  // the last reading, and when it was taken
  double clock_read_at = 0;

  Impl(GatewayConfig c, crypto::Certificate cert, crypto::PrivateKey k)
      : config(std::move(c)), certificate(std::move(cert)), key(std::move(k)) {}

  void Audit(const std::string& action, const std::string& target, const std::string& outcome) {
    if (config.audit) config.audit(action, target, outcome);
  }

  Result<Registry> LoadRegistry() { return config.load_registry(); }

  // The trust index of `reg`, built once for each registry the gateway loads (it finds
  // the registered certificates that routing headers name their signers by).
  std::shared_ptr<const TrustIndex> trust;
  std::pair<uint64_t, int64_t> trust_registry{0, 0};  // serial and issue time of trust's
  const TrustIndex& Trust(const Registry& reg) {
    if (!trust || trust_registry != std::pair(reg.serial, reg.issued_at)) {
      trust = std::make_shared<const TrustIndex>(reg);
      trust_registry = {reg.serial, reg.issued_at};
    }
    return *trust;
  }
  // Finds who signed a routing header: this gateway itself, or a registered party.
  crypto::SignerLookup HeaderSigners(const Registry& reg) {
    Trust(reg);
    // Holds the index it uses: a later registry replaces `trust`, not this one.
    return [index = trust, own = crypto::OnlySigner(certificate)](ByteView issuer_and_serial) {
      std::optional<crypto::Certificate> found = own(issuer_and_serial);
      return found ? found : index->FindSigner(issuer_and_serial);
    };
  }

  // A client for this agency's home center under `reg`.
  Result<CenterClient*> Client(const Registry& reg) {
    const Agency* me = reg.FindAgency(config.agency);
    if (me == nullptr)
      return Status::FailedPrecondition("agency " + config.agency + " is not in the registry");
    const Center* center = reg.FindCenter(me->home_center);
    if (center == nullptr)
      return Status::FailedPrecondition("this agency's center " + me->home_center +
                                        " is not in the registry");
    if (client && client_center == center->id && client_serial == reg.serial) return client.get();
    ClientTls tls;
    tls.certificate = config.certificate;
    tls.key = config.key;
    for (const std::string& pem : reg.trust_anchors) tls.anchors_pem += pem;
    for (const std::string& pem : center->certificates)
      if (auto c = crypto::Certificate::FromPem(pem); c.ok()) tls.server_certificates.push_back(*c);
    tls.allow_tls12 = config.allow_tls12;
    tls.source_address = config.source_address;
    TESSERA_ASSIGN_OR_RETURN(client, CenterClient::Create(center->url, std::move(tls)));
    client->StopWhen(stop);
    client_center = center->id;
    client_serial = reg.serial;
    return client.get();
  }

  Status ScanAll(const std::vector<fs::path>& files, const std::string& context) {
    if (!config.scan) return Status::FailedPrecondition("no malware scanner is configured");
    for (const fs::path& f : files) {
      TESSERA_ASSIGN_OR_RETURN(std::string found, config.scan(f));
      if (!found.empty()) {
        Audit("exchange.malware", context + ": " + f.filename().string(), "blocked: " + found);
        return Status::PermissionDenied(f.filename().string() + " carries malware (" + found +
                                        "): the document was stopped and the event reported");
      }
    }
    return Status::Ok();
  }

  Result<ClockReading> ReadClock(CenterClient& c) {
    const double t0 = MonotonicSeconds();
    const int64_t local0 = NowUnixNanos();
    TESSERA_ASSIGN_OR_RETURN(nlohmann::json j, c.GetJson("/v1/time"));
    const double rtt = MonotonicSeconds() - t0;
    int64_t remote = 0;
    try {
      remote = j.at("now_nanos").get<int64_t>();
    } catch (const std::exception&) {
      return Status::Corruption("the center's /v1/time answer has no now_nanos");
    }
    const double local_mid = static_cast<double>(local0) / 1e9 + rtt / 2;
    return ClockReading{static_cast<double>(remote) / 1e9 - local_mid, rtt};
  }

  Status PostPending(const Registry& reg, const std::string& id, Bytes header,
                     const fs::path& payload, bool is_receipt, SendResult* result);
  Status HandleItem(const Registry& reg, const PulledItem& item, ReceiveReport& report);
  Status HandleReceipt(const Registry& reg, const SealedHeader& sealed, const fs::path& payload,
                       ReceiveReport& report);
  Status HandleDocument(const Registry& reg, const SealedHeader& sealed, const fs::path& payload,
                        ReceiveReport& report);
  Status RecordRecipientState(const std::string& id, const std::string& recipient,
                              const std::string& state, const std::string& reason_code,
                              const std::string& reason, int64_t at, const Bytes* receipt);
};

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

Result<std::unique_ptr<Gateway>> Gateway::Open(GatewayConfig config) {
  if (config.agency.empty()) return Status::InvalidArgument("the gateway needs its agency code");
  TESSERA_ASSIGN_OR_RETURN(crypto::Certificate cert, crypto::Certificate::Load(config.certificate));
  TESSERA_ASSIGN_OR_RETURN(crypto::PrivateKey key,
                           crypto::PrivateKey::Load(config.key, "the agency key"));
  if (!key.Matches(cert))
    return Status::InvalidArgument(config.key.string() + " is not the key of " +
                                   config.certificate.string());
  for (const char* sub : {"outbox", "inbox", "incoming", "receipts", "rejected"})
    TESSERA_RETURN_IF_ERROR(MakeDirs(config.dir / sub, 0700));
  RemoveAbandonedPulls(config.dir / "incoming");
  TESSERA_ASSIGN_OR_RETURN(auto db, Database::Open(config.dir / "gateway.db"));
  TESSERA_RETURN_IF_ERROR(db->Exec(kSchema));
  auto impl = std::make_unique<Impl>(std::move(config), std::move(cert), std::move(key));
  impl->db = std::move(db);
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Result<ClockReading> Gateway::CheckClock() {
  TESSERA_ASSIGN_OR_RETURN(Registry reg, impl_->LoadRegistry());
  TESSERA_ASSIGN_OR_RETURN(CenterClient * c, impl_->Client(reg));
  return impl_->ReadClock(*c);
}

Result<nlohmann::json> Gateway::CenterHealth() {
  TESSERA_ASSIGN_OR_RETURN(Registry reg, impl_->LoadRegistry());
  TESSERA_ASSIGN_OR_RETURN(CenterClient * c, impl_->Client(reg));
  return c->GetJson("/v1/health");
}

Status Gateway::Impl::RecordRecipientState(const std::string& id, const std::string& recipient,
                                           const std::string& state, const std::string& reason_code,
                                           const std::string& reason, int64_t at,
                                           const Bytes* receipt) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q, db->Prepare("SELECT state FROM sent_status WHERE id = ? AND recipient = ?"));
  q.Bind(1, id).Bind(2, recipient);
  TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Status::NotFound("no document " + id + " was sent to " + recipient);
  if (Rank(q.Text(0)) > Rank(state) || (Rank(q.Text(0)) == 2 && state != q.Text(0)))
    return Status::Ok();  // a final state stays
  TESSERA_ASSIGN_OR_RETURN(
      Statement u,
      db->Prepare("UPDATE sent_status SET state = ?, reason_code = ?, reason = ?, at = ?, "
                  "receipt = coalesce(?, receipt) WHERE id = ? AND recipient = ?"));
  u.Bind(1, state).Bind(2, reason_code).Bind(3, reason).Bind(4, at);
  if (receipt)
    u.BindBlob(5, *receipt);
  else
    u.BindNull(5);
  u.Bind(6, id).Bind(7, recipient);
  return u.Run();
}

Status Gateway::Impl::PostPending(const Registry& reg, const std::string& id, Bytes header,
                                  const fs::path& payload, bool is_receipt, SendResult* result) {
  TESSERA_ASSIGN_OR_RETURN(CenterClient * c, Client(reg));
  TESSERA_ASSIGN_OR_RETURN(SealedHeader sealed, OpenHeader(header, HeaderSigners(reg)));
  auto receipt_der = c->PostItem(header, payload);
  if (!receipt_der.ok()) return receipt_der.status();
  TESSERA_ASSIGN_OR_RETURN(SignedReceipt receipt, OpenReceipt(*receipt_der));
  const Agency* me = reg.FindAgency(config.agency);
  TESSERA_ASSIGN_OR_RETURN(Party signer,
                           IdentifyCertificate(reg, receipt.signer, NowUnixSeconds()));
  if (signer.kind != Party::Kind::kCenter || me == nullptr || signer.id != me->home_center ||
      receipt.receipt.kind != ReceiptKind::kAccepted || receipt.receipt.document_id != id ||
      receipt.receipt.payload_sha256 != sealed.header.payload_sha256 ||
      receipt.receipt.issuer != SignerName(signer))
    return Status::Corruption("the center's receipt for " + id + " does not match what was sent");
  if (is_receipt) {
    TESSERA_ASSIGN_OR_RETURN(Statement d,
                             db->Prepare("DELETE FROM outgoing_receipts WHERE id = ?"));
    d.Bind(1, id);
    TESSERA_RETURN_IF_ERROR(d.Run());
    std::error_code ec;
    fs::remove(payload, ec);
    return Status::Ok();
  }
  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db));
  TESSERA_ASSIGN_OR_RETURN(Statement u,
                           db->Prepare("UPDATE sent SET accepted_receipt = ? WHERE id = ?"));
  u.BindBlob(1, *receipt_der).Bind(2, id);
  TESSERA_RETURN_IF_ERROR(u.Run());
  for (const std::string& to : sealed.header.to)
    TESSERA_RETURN_IF_ERROR(
        RecordRecipientState(id, to, "accepted", "", "", receipt.receipt.at, nullptr));
  TESSERA_RETURN_IF_ERROR(tx.Commit());
  std::error_code ec;
  fs::remove(payload, ec);
  Audit("exchange.send",
        "document " + id + " to " + std::to_string(sealed.header.to.size()) + " recipients",
        "accepted by center " + signer.id);
  if (result) result->duplicate = false;
  return Status::Ok();
}

Result<SendResult> Gateway::Send(const SendRequest& request) {
  Impl& g = *impl_;
  TESSERA_ASSIGN_OR_RETURN(Registry reg, g.LoadRegistry());
  const int64_t now = NowUnixSeconds();

  // The document: valid against the DTD, its attachments all there.
  TESSERA_ASSIGN_OR_RETURN(Bytes di, ReadFile(request.document));
  TESSERA_ASSIGN_OR_RETURN(OfficialDocument doc,
                           ParseDocument(di, request.document.filename().string()));
  std::optional<Roster> roster;
  if (!request.roster.empty()) {
    TESSERA_ASSIGN_OR_RETURN(Bytes sw, ReadFile(request.roster));
    TESSERA_ASSIGN_OR_RETURN(Roster r, ParseRoster(sw, request.roster.filename().string()));
    roster = std::move(r);
  }
  std::vector<std::string> names;
  for (const fs::path& a : request.attachments) names.push_back(a.filename().string());
  if (!request.roster.empty()) names.push_back(request.roster.filename().string());
  TESSERA_RETURN_IF_ERROR(CheckAttachments(doc, names));
  TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> recipients,
                           RecipientCodes(doc, roster ? &*roster : nullptr));
  if (doc.sender.agency_code != g.config.agency)
    return Status::InvalidArgument("the document's 發文機關 is " + doc.sender.agency_code +
                                   ", but this gateway sends for " + g.config.agency);
  std::vector<crypto::Certificate> recipient_certs;
  for (const std::string& to : recipients) {
    const Agency* a = reg.FindAgency(to);
    if (a == nullptr)
      return Status::NotFound("recipient " + to + " is not in the exchange registry");
    if (a->suspension)
      return Status::FailedPrecondition("recipient " + to + " is suspended (" +
                                        a->suspension->reason +
                                        "): it can receive nothing until it is resumed");
    TESSERA_ASSIGN_OR_RETURN(auto certs, EncryptionCertificates(reg, to, now));
    recipient_certs.insert(recipient_certs.end(), certs.begin(), certs.end());
  }
  std::vector<fs::path> files{request.document};
  if (!request.roster.empty()) files.push_back(request.roster);
  files.insert(files.end(), request.attachments.begin(), request.attachments.end());
  TESSERA_RETURN_IF_ERROR(g.ScanAll(files, "sending " + request.document.filename().string()));

  // No signature with a clock the policy cannot trust (read again every minute).
  TESSERA_ASSIGN_OR_RETURN(CenterClient * center, g.Client(reg));
  if (!g.clock || MonotonicSeconds() - g.clock_read_at > 60) {
    TESSERA_ASSIGN_OR_RETURN(g.clock, g.ReadClock(*center));
    g.clock_read_at = MonotonicSeconds();
  }
  const ClockReading clock = *g.clock;
  if (std::fabs(clock.skew_seconds) > static_cast<double>(reg.policy.max_clock_skew_seconds)) {
    g.Audit("exchange.clock", "send refused",
            "clock off by " + std::to_string(clock.skew_seconds) + " s");
    return Status::FailedPrecondition("this host's clock differs from the center's by " +
                                      std::to_string(std::lround(clock.skew_seconds)) +
                                      " s (the policy allows " +
                                      std::to_string(reg.policy.max_clock_skew_seconds) +
                                      " s): synchronise it (NTP) before signing documents");
  }

  SendResult result;
  result.id = NewItemId();
  result.recipients = recipients;
  const fs::path bundle = g.config.dir / "outbox" / (result.id + ".bundle");
  const fs::path payload = g.config.dir / "outbox" / (result.id + ".payload");
  BundleInput input{request.document, request.roster, request.attachments};
  TESSERA_RETURN_IF_ERROR(WriteBundle(input, bundle));
  Status sealed_payload =
      crypto::CmsSignAndEncryptFile(bundle, payload, g.certificate, g.key, recipient_certs);
  std::error_code ec;
  if (!sealed_payload.ok()) {
    fs::remove(bundle, ec);
    return sealed_payload;
  }
  RoutingHeader h;
  h.kind = ItemKind::kDocument;
  h.id = result.id;
  h.from = g.config.agency;
  h.to = recipients;
  h.created_at = now;
  TESSERA_ASSIGN_OR_RETURN(h.payload_sha256, HashFile(payload));
  h.payload_size = FileSize(payload);
  TESSERA_ASSIGN_OR_RETURN(Bytes header, SealHeader(h, g.certificate, g.key));
  {
    TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*g.db));
    TESSERA_ASSIGN_OR_RETURN(Statement ins,
                             g.db->Prepare("INSERT INTO sent(id, created_at, subject, number, "
                                           "header, payload) VALUES(?, ?, ?, ?, ?, ?)"));
    ins.Bind(1, h.id)
        .Bind(2, now)
        .Bind(3, doc.subject)
        .Bind(4, doc.number)
        .BindBlob(5, header)
        .Bind(6, payload.string());
    TESSERA_RETURN_IF_ERROR(ins.Run());
    TESSERA_ASSIGN_OR_RETURN(
        Statement st,
        g.db->Prepare(
            "INSERT INTO sent_status(id, recipient, state, at) VALUES(?, ?, 'prepared', ?)"));
    for (const std::string& to : recipients) {
      st.Bind(1, h.id).Bind(2, to).Bind(3, now);
      TESSERA_RETURN_IF_ERROR(st.Run());
    }
    TESSERA_RETURN_IF_ERROR(tx.Commit());
  }
  // The archive keeps what was sent, in the clear, as the agency's record.
  if (g.config.on_document) {
    const fs::path copy = g.config.dir / "outbox" / (result.id + ".files");
    auto manifest = ExtractBundle(bundle, copy);
    if (manifest.ok()) {
      Status journaled =
          g.config.on_document({"sent", h.id, h.from, recipients, copy, manifest->document});
      if (!journaled.ok())
        spdlog::error("exchange: the archive did not take {}: {}", h.id, journaled.ToString());
    }
    fs::remove_all(copy, ec);
  }
  fs::remove(bundle, ec);
  Status posted = g.PostPending(reg, h.id, header, payload, false, &result);
  if (!posted.ok()) {
    // A flush in another process or thread (`tessera serve`'s gateway, `exchange flush`)
    // may have posted it since it was recorded above, and removed the payload: then the
    // center accepted it and this send succeeded.
    auto q = g.db->Prepare("SELECT accepted_receipt IS NOT NULL FROM sent WHERE id = ?");
    if (q.ok()) {
      q->Bind(1, h.id);
      auto row = q->Step();
      if (row.ok() && *row && q->Int(0) == 1) return result;
    }
    return posted.WithContext("document " + h.id +
                              " is kept and will be sent again by `tessera exchange flush`");
  }
  return result;
}

void Gateway::StopWaitingWhen(const std::atomic<bool>* stop) {
  impl_->stop = stop;
  if (impl_->client) impl_->client->StopWhen(stop);
}

Status Gateway::Flush() {
  Impl& g = *impl_;
  TESSERA_ASSIGN_OR_RETURN(Registry reg, g.LoadRegistry());
  std::vector<std::tuple<std::string, Bytes, std::string, bool>> pending;
  {
    TESSERA_ASSIGN_OR_RETURN(
        Statement q,
        g.db->Prepare("SELECT id, header, payload FROM sent WHERE accepted_receipt IS NULL"));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      pending.emplace_back(q.Text(0), q.Blob(1), q.Text(2), false);
    }
    TESSERA_ASSIGN_OR_RETURN(Statement r,
                             g.db->Prepare("SELECT id, header, payload FROM outgoing_receipts"));
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, r.Step());
      if (!row) break;
      pending.emplace_back(r.Text(0), r.Blob(1), r.Text(2), true);
    }
  }
  for (auto& [id, header, payload, is_receipt] : pending)
    TESSERA_RETURN_IF_ERROR(g.PostPending(reg, id, header, payload, is_receipt, nullptr));
  return Status::Ok();
}

Status Gateway::Impl::HandleReceipt(const Registry& reg, const SealedHeader& sealed,
                                    const fs::path& payload, ReceiveReport& report) {
  TESSERA_ASSIGN_OR_RETURN(Bytes der, ReadFile(payload));
  auto opened = OpenReceipt(der);
  if (!opened.ok()) {
    report.problems.push_back("a receipt from " + sealed.header.from +
                              " is unreadable: " + opened.status().message());
    return Status::Ok();
  }
  const Receipt& r = opened->receipt;
  auto signer = IdentifyCertificate(reg, opened->signer, NowUnixSeconds());
  if (!signer.ok() || SignerName(*signer) != r.issuer || r.document_sender != config.agency ||
      (r.kind != ReceiptKind::kExpired && r.issuer != r.recipient)) {
    report.problems.push_back("a receipt for " + r.document_id + " is not signed by whom it names");
    Audit("exchange.receipt", r.document_id, "refused: signature does not match its issuer");
    return Status::Ok();
  }
  Status st = RecordRecipientState(r.document_id, r.recipient, ReceiptKindName(r.kind),
                                   r.reason_code, r.reason, r.at, &der);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  ++report.receipts;
  Audit("exchange.receipt", r.document_id + " " + r.recipient,
        ReceiptKindName(r.kind) + (r.reason_code.empty() ? "" : " (" + r.reason_code + ")"));
  return Status::Ok();
}

Status Gateway::Impl::HandleDocument(const Registry& reg, const SealedHeader& sealed,
                                     const fs::path& payload, ReceiveReport& report) {
  const RoutingHeader& h = sealed.header;
  {
    TESSERA_ASSIGN_OR_RETURN(Statement q,
                             db->Prepare("SELECT 1 FROM inbox WHERE sender = ? AND id = ?"));
    q.Bind(1, h.from).Bind(2, h.id);
    TESSERA_ASSIGN_OR_RETURN(bool seen, q.Step());
    if (seen) {
      ++report.duplicates;
      return Status::Ok();
    }
  }
  const int64_t now = NowUnixSeconds();
  const fs::path files = config.dir / "inbox" / h.from / h.id;
  const fs::path bundle = config.dir / "incoming" / (h.id + ".bundle");
  std::error_code ec;
  fs::remove_all(files, ec);

  // Each check either passes or names the reason code of the rejection.
  std::string reason_code, reason;
  OfficialDocument doc;
  std::string document_name;
  auto reject = [&](const char* code, const std::string& why) {
    reason_code = code;
    reason = why;
  };
  auto opened = crypto::CmsDecryptAndVerifyFile(payload, bundle, certificate, key);
  if (!opened.ok()) {
    reject(opened.status().code() == StatusCode::kCorruption ? reason::kSignatureInvalid
                                                             : reason::kDecryptFailed,
           opened.status().message());
  } else {
    auto inner = IdentifyCertificate(reg, opened->signer, now);
    if (!inner.ok() || SignerName(*inner) != h.from)
      reject(reason::kSignatureInvalid,
             "the document is not signed with a registered key of " + h.from);
  }
  if (reason_code.empty()) {
    auto manifest = ExtractBundle(bundle, files);
    if (!manifest.ok()) {
      reject(reason::kInvalidDocument, manifest.status().message());
    } else {
      document_name = manifest->document;
      auto di = ReadFile(files / manifest->document);
      auto parsed =
          di.ok() ? ParseDocument(*di, manifest->document) : Result<OfficialDocument>(di.status());
      if (!parsed.ok()) {
        reject(reason::kInvalidDocument, parsed.status().message());
      } else {
        doc = std::move(parsed).value();
        std::optional<Roster> roster;
        if (!manifest->roster.empty()) {
          auto sw = ReadFile(files / manifest->roster);
          auto r = sw.ok() ? ParseRoster(*sw, manifest->roster) : Result<Roster>(sw.status());
          if (r.ok())
            roster = std::move(r).value();
          else
            reject(reason::kInvalidDocument, r.status().message());
        }
        std::vector<std::string> names = manifest->attachments;
        if (!manifest->roster.empty()) names.push_back(manifest->roster);
        Status attached = CheckAttachments(doc, names);
        if (reason_code.empty() && !attached.ok())
          reject(reason::kInvalidDocument, attached.message());
        if (reason_code.empty()) {
          auto codes = RecipientCodes(doc, roster ? &*roster : nullptr);
          if (!codes.ok() || std::find(codes->begin(), codes->end(), config.agency) == codes->end())
            reject(reason::kNotAddressed, "the document is not addressed to " + config.agency);
          else if (doc.sender.agency_code != h.from)
            reject(reason::kInvalidDocument, "the document's 發文機關 " + doc.sender.agency_code +
                                                 " is not its sender " + h.from);
        }
        if (reason_code.empty()) {
          std::vector<fs::path> all;
          for (const auto& e : fs::directory_iterator(files, ec)) all.push_back(e.path());
          Status clean = ScanAll(all, "receiving " + h.id + " from " + h.from);
          if (clean.code() == StatusCode::kPermissionDenied) {
            reject(reason::kMalware, clean.message());
            fs::remove_all(files, ec);  // never kept where a clerk could open it
          } else if (!clean.ok()) {
            return clean;  // no scanner: try again later rather than let it through
          }
        }
      }
    }
  }
  fs::remove(bundle, ec);
  if (!reason_code.empty() && fs::exists(files, ec)) {
    const fs::path kept = config.dir / "rejected" / (h.from + "-" + h.id);
    fs::remove_all(kept, ec);
    fs::rename(files, kept, ec);
  }

  // The receipt for the sender, signed now and sent after the commit.
  Receipt receipt;
  receipt.kind = reason_code.empty() ? ReceiptKind::kReceived : ReceiptKind::kRejected;
  receipt.document_id = h.id;
  receipt.document_sender = h.from;
  receipt.recipient = config.agency;
  receipt.issuer = config.agency;
  receipt.at = now;
  receipt.payload_sha256 = h.payload_sha256;
  receipt.reason_code = reason_code;
  receipt.reason = reason;
  TESSERA_ASSIGN_OR_RETURN(Bytes receipt_der, SignReceipt(receipt, certificate, key));
  RoutingHeader rh;
  rh.kind = ItemKind::kReceipt;
  rh.id = NewItemId();
  rh.from = config.agency;
  rh.to = {h.from};
  rh.created_at = now;
  rh.payload_sha256 = HexEncode(crypto::Sha256(receipt_der));
  rh.payload_size = receipt_der.size();
  TESSERA_ASSIGN_OR_RETURN(Bytes receipt_header, SealHeader(rh, certificate, key));
  const fs::path receipt_path = config.dir / "receipts" / (rh.id + ".receipt");
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(receipt_path, receipt_der, 0600));

  TESSERA_ASSIGN_OR_RETURN(Transaction tx, Transaction::Begin(*db));
  TESSERA_ASSIGN_OR_RETURN(Statement ins,
                           db->Prepare("INSERT INTO inbox(sender, id, received_at, state, reason, "
                                       "subject, number, files, document) "
                                       "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  ins.Bind(1, h.from)
      .Bind(2, h.id)
      .Bind(3, now)
      .Bind(4, reason_code.empty() ? "received" : "rejected")
      .Bind(5, reason_code.empty() ? "" : reason_code + ": " + reason)
      .Bind(6, doc.subject)
      .Bind(7, doc.number)
      .Bind(8, reason_code.empty() ? files.string() : "")
      .Bind(9, document_name);
  TESSERA_RETURN_IF_ERROR(ins.Run());
  TESSERA_ASSIGN_OR_RETURN(
      Statement out,
      db->Prepare("INSERT INTO outgoing_receipts(id, header, payload) VALUES(?, ?, ?)"));
  out.Bind(1, rh.id).BindBlob(2, receipt_header).Bind(3, receipt_path.string());
  TESSERA_RETURN_IF_ERROR(out.Run());
  TESSERA_RETURN_IF_ERROR(tx.Commit());

  if (reason_code.empty()) {
    ++report.documents;
    Audit("exchange.receive", "document " + h.id + " from " + h.from, "received: " + doc.number);
    if (config.on_document) {
      Status journaled = config.on_document({"received", h.id, h.from, h.to, files, document_name});
      if (!journaled.ok())
        spdlog::error("exchange: the archive did not take {}: {}", h.id, journaled.ToString());
    }
  } else {
    ++report.rejected;
    report.problems.push_back("rejected " + h.id + " from " + h.from + ": " + reason_code + ": " +
                              reason);
    Audit("exchange.reject", "document " + h.id + " from " + h.from, reason_code + ": " + reason);
  }
  return Status::Ok();
}

Status Gateway::Impl::HandleItem(const Registry& reg, const PulledItem& item,
                                 ReceiveReport& report) {
  auto sealed = OpenHeader(item.header, HeaderSigners(reg));
  if (!sealed.ok()) {
    report.problems.push_back("an item with an unreadable header was dropped: " +
                              sealed.status().message());
    return Status::Ok();
  }
  auto signer = Trust(reg).Identify(sealed->signer, NowUnixSeconds());
  auto hash = HashFile(item.payload);
  if (!signer.ok() || SignerName(*signer) != sealed->header.from || !hash.ok() ||
      *hash != sealed->header.payload_sha256 ||
      std::find(sealed->header.to.begin(), sealed->header.to.end(), config.agency) ==
          sealed->header.to.end()) {
    report.problems.push_back("item " + sealed->header.id + " from " + sealed->header.from +
                              " failed its header checks and was dropped");
    Audit("exchange.refuse", "item " + sealed->header.id + " from " + sealed->header.from,
          "header signature, hash or addressee wrong");
    return Status::Ok();
  }
  if (sealed->header.kind == ItemKind::kReceipt)
    return HandleReceipt(reg, *sealed, item.payload, report);
  return HandleDocument(reg, *sealed, item.payload, report);
}

Result<ReceiveReport> Gateway::Receive(int wait_seconds, int max_items) {
  Impl& g = *impl_;
  ReceiveReport report;
  TESSERA_ASSIGN_OR_RETURN(Registry reg, g.LoadRegistry());
  TESSERA_ASSIGN_OR_RETURN(CenterClient * c, g.Client(reg));
  // Only once an item and its receipt are committed here may the center forget it: its
  // acknowledgement rides on the next pull, or goes alone after the last item.
  std::optional<int64_t> handled;
  for (int n = 0; n < max_items; ++n) {
    const fs::path part = g.config.dir / "incoming" / PullFileName(::getpid());
    TESSERA_ASSIGN_OR_RETURN(std::optional<PulledItem> item,
                             c->Pull(n == 0 ? wait_seconds : 1, part, handled));
    handled.reset();
    if (!item) break;
    TESSERA_RETURN_IF_ERROR(g.HandleItem(reg, *item, report));
    handled = item->delivery;
    std::error_code ec;
    fs::remove(part, ec);
  }
  if (handled) TESSERA_RETURN_IF_ERROR(c->Acknowledge(*handled));
  Status flushed = Flush();
  if (!flushed.ok())
    report.problems.push_back("receipts not yet handed to the center: " + flushed.message());
  return report;
}

Result<std::vector<InboxEntry>> Gateway::Inbox() {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      impl_->db->Prepare(
          "SELECT sender, id, received_at, state, reason, subject, number, files, document "
          "FROM inbox ORDER BY received_at, id"));
  std::vector<InboxEntry> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Text(1), q.Int(2), q.Text(3), q.Text(4), q.Text(5), q.Text(6),
                   q.Text(7), q.Text(8)});
  }
  return out;
}

Result<std::vector<SentEntry>> Gateway::Sent(const std::string& id) {
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      impl_->db->Prepare("SELECT id, created_at, subject, number FROM sent WHERE ? = '' OR id = ? "
                         "ORDER BY created_at, id"));
  q.Bind(1, id).Bind(2, id);
  std::vector<SentEntry> out;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0), q.Int(1), q.Text(2), q.Text(3), {}});
  }
  TESSERA_ASSIGN_OR_RETURN(
      Statement r,
      impl_->db->Prepare(
          "SELECT recipient, state, reason_code, reason, at FROM sent_status WHERE id = ? "
          "ORDER BY recipient"));
  for (SentEntry& e : out) {
    r.Bind(1, e.id);
    while (true) {
      TESSERA_ASSIGN_OR_RETURN(bool row, r.Step());
      if (!row) break;
      e.recipients.push_back({r.Text(0), r.Text(1), r.Text(2), r.Text(3), r.Int(4)});
    }
    r.Reset();
  }
  if (!id.empty() && out.empty())
    return Status::NotFound("no document " + id + " was sent from here");
  return out;
}

}  // namespace tessera::exchange
