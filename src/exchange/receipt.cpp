#include "exchange/receipt.hpp"

#include <nlohmann/json.hpp>

#include "base/json_fields.hpp"
#include "crypto/cms.hpp"

namespace tessera::exchange {

std::string ReceiptKindName(ReceiptKind kind) {
  switch (kind) {
    case ReceiptKind::kAccepted:
      return "accepted";
    case ReceiptKind::kReceived:
      return "received";
    case ReceiptKind::kRejected:
      return "rejected";
    case ReceiptKind::kExpired:
      return "expired";
  }
  return "unknown";
}

Result<Bytes> SignReceipt(const Receipt& r, const crypto::Certificate& signer,
                          const crypto::PrivateKey& key) {
  nlohmann::json j = {{"format", "tessera-receipt"},
                      {"version", r.version},
                      {"kind", ReceiptKindName(r.kind)},
                      {"document_id", r.document_id},
                      {"document_sender", r.document_sender},
                      {"recipient", r.recipient},
                      {"issuer", r.issuer},
                      {"at", r.at},
                      {"payload_sha256", r.payload_sha256},
                      {"reason_code", r.reason_code},
                      {"reason", r.reason}};
  return crypto::CmsSign(AsBytes(j.dump()), signer, key);
}

Result<SignedReceipt> OpenReceipt(ByteView der) {
  TESSERA_ASSIGN_OR_RETURN(crypto::CmsSigned opened, crypto::CmsVerify(der));
  SignedReceipt out{Receipt{}, opened.signer};
  Receipt& r = out.receipt;
  try {
    const nlohmann::json j = nlohmann::json::parse(AsString(opened.content));
    if (j.at("format").get<std::string>() != "tessera-receipt")
      return Status::Corruption("the signed data is not a receipt");
    r.version = JsonInt<int>(j.at("version"), "version");
    if (r.version != 1)
      return Status::Corruption("receipt version " + std::to_string(r.version) +
                                " is not supported (this tessera reads version 1)");
    const std::string kind = j.at("kind").get<std::string>();
    bool known = false;
    for (ReceiptKind k : {ReceiptKind::kAccepted, ReceiptKind::kReceived, ReceiptKind::kRejected,
                          ReceiptKind::kExpired})
      if (ReceiptKindName(k) == kind) {
        r.kind = k;
        known = true;
      }
    if (!known) return Status::Corruption("receipt kind '" + kind + "' is unknown");
    r.document_id = j.at("document_id").get<std::string>();
    r.document_sender = j.at("document_sender").get<std::string>();
    r.recipient = j.at("recipient").get<std::string>();
    r.issuer = j.at("issuer").get<std::string>();
    r.at = JsonInt<int64_t>(j.at("at"), "at");
    r.payload_sha256 = j.at("payload_sha256").get<std::string>();
    r.reason_code = j.at("reason_code").get<std::string>();
    r.reason = j.at("reason").get<std::string>();
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("receipt: ") + e.what());
  }
  return out;
}

}  // namespace tessera::exchange
