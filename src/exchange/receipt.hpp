// Receipts (收發文確認), signed JSON in CMS SignedData (docs/exchange-protocol.md,
// "Receipts"). A center signs "accepted" when it has committed an item (the sender's
// 發送紀錄 evidence) and "expired" when an item could not be delivered in time; the
// recipient's gateway signs "received" after decrypting, verifying and validating a
// document, or "rejected" with a reason code.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/x509.hpp"

namespace tessera::exchange {

enum class ReceiptKind { kAccepted, kReceived, kRejected, kExpired };
std::string ReceiptKindName(ReceiptKind kind);

// Reason codes of a rejection or a refusal, shared by gateways and centers.
namespace reason {
inline constexpr const char* kDecryptFailed = "decrypt-failed";
inline constexpr const char* kSignatureInvalid = "signature-invalid";
inline constexpr const char* kInvalidDocument = "invalid-document";
inline constexpr const char* kMalware = "malware";
inline constexpr const char* kNotAddressed = "not-addressed";
inline constexpr const char* kSuspended = "suspended";
inline constexpr const char* kExpired = "expired";
}  // namespace reason

struct Receipt {
  int version = 1;
  ReceiptKind kind = ReceiptKind::kAccepted;
  std::string document_id;      // the item this receipt answers
  std::string document_sender;  // its sender's agency code
  std::string recipient;        // the recipient it is about ("" for accepted: all)
  std::string issuer;           // agency code, or "center:<id>"
  int64_t at = 0;               // Unix seconds
  std::string payload_sha256;   // of the item answered, so a receipt names exact bytes
  std::string reason_code;      // rejected / expired: one of reason::
  std::string reason;           // for people
};

Result<Bytes> SignReceipt(const Receipt& receipt, const crypto::Certificate& signer,
                          const crypto::PrivateKey& key);

struct SignedReceipt {
  Receipt receipt;
  crypto::Certificate signer;  // the caller checks it is registered to receipt.issuer
};
Result<SignedReceipt> OpenReceipt(ByteView der);

}  // namespace tessera::exchange
