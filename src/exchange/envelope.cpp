#include "exchange/envelope.hpp"

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/json_fields.hpp"
#include "crypto/cms.hpp"
#include "crypto/random.hpp"

namespace tessera::exchange {
namespace {

bool IsLowerHex(const std::string& s, size_t size) {
  if (s.size() != size) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string ItemKindName(ItemKind kind) {
  return kind == ItemKind::kDocument ? "document" : "receipt";
}

bool IsValidItemId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '.' || id[0] == '-') return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string NewItemId() {
  std::string when = FormatRfc3339(NowUnixNanos());  // 2026-11-23T09:18:35Z
  std::string compact;
  for (char c : when)
    if (c >= '0' && c <= '9') compact += c;
  return compact.substr(0, 8) + "T" + compact.substr(8) + "-" + HexEncode(crypto::RandomBytes(8));
}

Result<Bytes> SealHeader(const RoutingHeader& header, const crypto::Certificate& signer,
                         const crypto::PrivateKey& key) {
  if (!IsValidItemId(header.id))
    return Status::InvalidArgument("item id '" + header.id + "' is not valid");
  nlohmann::json j = {{"format", "tessera-item-header"},
                      {"version", header.version},
                      {"kind", ItemKindName(header.kind)},
                      {"id", header.id},
                      {"from", header.from},
                      {"to", header.to},
                      {"created_at", header.created_at},
                      {"payload_sha256", header.payload_sha256},
                      {"payload_size", header.payload_size}};
  return crypto::CmsSign(AsBytes(j.dump()), signer, key, crypto::SignerCertificate::kOmit);
}

Result<SealedHeader> OpenHeader(ByteView der, const crypto::SignerLookup& signers) {
  TESSERA_ASSIGN_OR_RETURN(crypto::CmsSigned opened, crypto::CmsVerify(der, signers));
  SealedHeader out{RoutingHeader{}, opened.signer, Bytes(der.begin(), der.end())};
  RoutingHeader& h = out.header;
  try {
    const nlohmann::json j = nlohmann::json::parse(AsString(opened.content));
    if (j.at("format").get<std::string>() != "tessera-item-header")
      return Status::Corruption("the signed data is not an item header");
    h.version = JsonInt<int>(j.at("version"), "version");
    if (h.version != 1)
      return Status::Corruption("item header version " + std::to_string(h.version) +
                                " is not supported (this tessera reads version 1)");
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "document")
      h.kind = ItemKind::kDocument;
    else if (kind == "receipt")
      h.kind = ItemKind::kReceipt;
    else
      return Status::Corruption("item kind '" + kind + "' is unknown");
    h.id = j.at("id").get<std::string>();
    h.from = j.at("from").get<std::string>();
    h.to = j.at("to").get<std::vector<std::string>>();
    h.created_at = JsonInt<int64_t>(j.at("created_at"), "created_at");
    h.payload_sha256 = j.at("payload_sha256").get<std::string>();
    h.payload_size = JsonInt<uint64_t>(j.at("payload_size"), "payload_size");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("item header: ") + e.what());
  }
  if (!IsValidItemId(h.id)) return Status::Corruption("item header: the id is not valid");
  if (h.from.empty() || h.to.empty())
    return Status::Corruption("item header: no sender or no recipient");
  for (const std::string& to : h.to)
    if (to.empty()) return Status::Corruption("item header: an empty recipient");
  if (!IsLowerHex(h.payload_sha256, 64))
    return Status::Corruption("item header: payload_sha256 is not a SHA-256 in hex");
  return out;
}

}  // namespace tessera::exchange
