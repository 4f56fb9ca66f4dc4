// What travels between gateways and centers (docs/exchange-protocol.md, "Items"): an
// item is a routing header signed by whoever made the item, and a payload. For a
// document the payload is end-to-end protected (CMS AuthEnvelopedData holding SignedData,
// see crypto/cms.hpp) and a center never opens it; it routes on the header alone and
// checks the payload against the header's hash and size as it streams in. For a receipt
// the payload is the signed receipt itself (exchange/receipt.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/cms.hpp"
#include "crypto/x509.hpp"

namespace tessera::exchange {

enum class ItemKind { kDocument, kReceipt };
std::string ItemKindName(ItemKind kind);

struct RoutingHeader {
  int version = 1;
  ItemKind kind = ItemKind::kDocument;
  // Chosen by the sender, unique among its items; a resend keeps it (see IsValidItemId).
  std::string id;
  std::string from;             // agency code, or "center:<id>" for items a center makes
  std::vector<std::string> to;  // agency codes
  int64_t created_at = 0;       // Unix seconds, the sender's clock
  std::string payload_sha256;   // lower-case hex
  uint64_t payload_size = 0;
};

// 1 to 128 characters of [A-Za-z0-9._-], not starting with '.' or '-'.
bool IsValidItemId(const std::string& id);
// A fresh id: "<UTC date and time>-<16 random hex digits>".
std::string NewItemId();

// The header as CMS SignedData (DER) over its JSON, signed by `signer`. The signer's
// certificate is not embedded, only named (issuer and serial number): it is registered,
// and every center and gateway holds the registry (parsing an embedded certificate cost
// a center more than checking the signature).
Result<Bytes> SealHeader(const RoutingHeader& header, const crypto::Certificate& signer,
                         const crypto::PrivateKey& key);

struct SealedHeader {
  RoutingHeader header;
  crypto::Certificate signer;  // whose signature verified; the caller checks who that is
  Bytes der;                   // the signed form, kept to pass on unchanged
};
// The signer's certificate is the embedded one (headers sealed by earlier versions carry
// it), else the one `signers` finds (TrustIndex::Signers). Corruption when the signature
// does not verify or the JSON is not a version-1 header with valid fields;
// PermissionDenied when the signer's certificate is neither embedded nor found.
Result<SealedHeader> OpenHeader(ByteView der, const crypto::SignerLookup& signers);

}  // namespace tessera::exchange
