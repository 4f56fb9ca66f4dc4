#include "crypto/cms.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <span>
#include <vector>

#include "base/files.hpp"
#include "crypto/openssl_util.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {

namespace fs = std::filesystem;

namespace {

using internal::Bio;
using internal::BioBytes;
using internal::EmptyMemoryBio;
using internal::MemoryBio;
using internal::Owned;

using Cms = Owned<CMS_ContentInfo, CMS_ContentInfo_free>;
void FreeCertificateStack(STACK_OF(X509) * s) {
  sk_X509_free(s);  // a macro: it needs a function to point to
}
using CertificateStack = Owned<STACK_OF(X509), FreeCertificateStack>;

constexpr size_t kCopyBuffer = 1 << 20;

Bytes ToDer(CMS_ContentInfo* cms) {
  unsigned char* der = nullptr;
  const int n = i2d_CMS_ContentInfo(cms, &der);
  if (n <= 0) internal::FatalOpenSslError("i2d_CMS_ContentInfo");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

// The structure in `der` (DER, or BER as streaming writers make it), all of it, of type
// `nid`; Corruption saying what it is not otherwise.
Result<Cms> ParseCms(ByteView der, int nid, const char* what) {
  const unsigned char* p = der.data();
  Cms cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!cms)
    return Status::Corruption(std::string("not a CMS structure (expected ") + what +
                              "): " + internal::TakeOpenSslError());
  if (p != der.data() + der.size())
    return Status::Corruption(std::string("unexpected bytes after the CMS ") + what);
  if (OBJ_obj2nid(CMS_get0_type(cms.get())) != nid)
    return Status::Corruption(std::string("the CMS structure is ") +
                              OBJ_nid2ln(OBJ_obj2nid(CMS_get0_type(cms.get()))) + ", not " + what);
  return cms;
}

Status CheckSigner(const Certificate& signer, const PrivateKey& key) {
  TESSERA_RETURN_IF_ERROR(CheckKeyPolicy(signer));
  if (!key.Matches(signer))
    return Status::InvalidArgument("the signing key does not belong to the certificate \"" +
                                   signer.Subject() + "\"");
  return Status::Ok();
}

// SignedData for `signer` with SHA-256, not yet finished (CMS_final or a stream does it).
Cms NewSignedData(const Certificate& signer, const PrivateKey& key, unsigned flags,
                  SignerCertificate certificate = SignerCertificate::kEmbed) {
  Cms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags | CMS_PARTIAL));
  if (!cms) internal::FatalOpenSslError("CMS_sign");
  // The signer is named by issuer and serial number; signingTime is added as a signed
  // attribute.
  const unsigned signer_flags = certificate == SignerCertificate::kOmit ? CMS_NOCERTS : 0;
  if (CMS_add1_signer(cms.get(), signer.native(), key.native(), internal::Sha256Md(),
                      signer_flags) == nullptr)
    internal::FatalOpenSslError("CMS_add1_signer");
  return cms;
}

Status CheckRecipients(const std::vector<Certificate>& recipients) {
  if (recipients.empty()) return Status::InvalidArgument("CMS encryption needs a recipient");
  for (const Certificate& r : recipients) TESSERA_RETURN_IF_ERROR(CheckKeyPolicy(r));
  return Status::Ok();
}

// AuthEnvelopedData (AES-256-GCM) for `recipients`, not yet finished. RSA recipients get
// the key by RSAES-OAEP with SHA-256, EC recipients by ECDH with the X9.63 KDF over
// SHA-256 and AES-256 key wrap (OpenSSL's defaults would be PKCS#1 v1.5 and SHA-1).
Cms NewAuthEnvelope(const std::vector<Certificate>& recipients, unsigned flags) {
  // An AEAD cipher makes CMS_encrypt_ex create AuthEnvelopedData (RFC 5083).
  Cms cms(CMS_encrypt_ex(nullptr, nullptr, internal::Aes256GcmCipher(), flags | CMS_PARTIAL,
                         nullptr, nullptr));
  if (!cms) internal::FatalOpenSslError("CMS_encrypt_ex");
  for (const Certificate& r : recipients) {
    // CMS_KEY_PARAM defers the key encryption to the end, so the parameters set on the
    // recipient's context below are the ones used.
    CMS_RecipientInfo* ri = CMS_add1_recipient_cert(cms.get(), r.native(), CMS_KEY_PARAM);
    if (ri == nullptr) internal::FatalOpenSslError("CMS_add1_recipient_cert");
    EVP_PKEY_CTX* ctx = CMS_RecipientInfo_get0_pkey_ctx(ri);
    if (ctx == nullptr) internal::FatalOpenSslError("CMS_RecipientInfo_get0_pkey_ctx");
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS) {
      if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
          EVP_PKEY_CTX_set_rsa_oaep_md(ctx, internal::Sha256Md()) <= 0 ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, internal::Sha256Md()) <= 0)
        internal::FatalOpenSslError("setting RSA-OAEP for a CMS recipient");
    } else if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE) {
      if (EVP_PKEY_CTX_set_ecdh_kdf_md(ctx, internal::Sha256Md()) <= 0)
        internal::FatalOpenSslError("setting the ECDH KDF for a CMS recipient");
    }
  }
  return cms;
}

// Whether one of the RecipientInfos of `cms` is addressed to `cert`.
bool AddressedTo(CMS_ContentInfo* cms, const Certificate& cert) {
  STACK_OF(CMS_RecipientInfo)* infos = CMS_get0_RecipientInfos(cms);
  for (int i = 0; i < sk_CMS_RecipientInfo_num(infos); ++i) {
    CMS_RecipientInfo* ri = sk_CMS_RecipientInfo_value(infos, i);
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_TRANS &&
        CMS_RecipientInfo_ktri_cert_cmp(ri, cert.native()) == 0)
      return true;
    if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE) {
      STACK_OF(CMS_RecipientEncryptedKey)* keys = CMS_RecipientInfo_kari_get0_reks(ri);
      for (int k = 0; k < sk_CMS_RecipientEncryptedKey_num(keys); ++k)
        if (CMS_RecipientEncryptedKey_cert_cmp(sk_CMS_RecipientEncryptedKey_value(keys, k),
                                               cert.native()) == 0)
          return true;
    }
  }
  internal::TakeOpenSslError();
  return false;
}

// PermissionDenied unless `cert` with `key` can open `cms`.
Status CheckRecipient(CMS_ContentInfo* cms, const Certificate& cert, const PrivateKey& key) {
  if (!key.Matches(cert))
    return Status::PermissionDenied("the private key does not belong to the certificate \"" +
                                    cert.Subject() + "\", so it cannot decrypt");
  if (!AddressedTo(cms, cert))
    return Status::PermissionDenied("the encrypted document is not addressed to \"" +
                                    cert.Subject() + "\" (fingerprint " + cert.Fingerprint() +
                                    "); only its recipients can decrypt it");
  return Status::Ok();
}

int64_t SigningTime(CMS_SignerInfo* si) {
  const int index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
  if (index < 0) return 0;
  const ASN1_TYPE* value = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, index), 0);
  if (value == nullptr || (value->type != V_ASN1_UTCTIME && value->type != V_ASN1_GENERALIZEDTIME))
    return 0;
  struct tm tm {};
  if (ASN1_TIME_to_tm(value->value.utctime, &tm) != 1) return 0;
  return static_cast<int64_t>(::timegm(&tm));
}

// When SignedData `cms` carries no certificate, sets its (one) signer's from `lookup`.
Status SetSignerFromLookup(CMS_ContentInfo* cms, const SignerLookup& lookup) {
  STACK_OF(X509)* embedded = CMS_get1_certs(cms);
  const bool has_certificates = embedded != nullptr && sk_X509_num(embedded) > 0;
  sk_X509_pop_free(embedded, X509_free);
  if (has_certificates) return Status::Ok();
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
  ASN1_OCTET_STRING* key_id = nullptr;
  X509_NAME* issuer = nullptr;
  ASN1_INTEGER* serial = nullptr;
  if (CMS_SignerInfo_get0_signer_id(si, &key_id, &issuer, &serial) != 1 || issuer == nullptr ||
      serial == nullptr)
    return Status::Corruption(
        "the SignedData carries no certificate and does not name its signer by issuer and "
        "serial number");
  std::optional<Certificate> found = lookup(IssuerAndSerialKey(issuer, serial));
  if (!found)
    return Status::PermissionDenied(
        "the SignedData names a signer whose certificate this host does not know, and "
        "carries none");
  CMS_SignerInfo_set1_signer_cert(si, found->native());
  return Status::Ok();
}

// Verifies the one signature of SignedData `cms`, writing the content to `out`; returns
// the signer (content left empty). The content is read from `detached` when given (the
// structure then has none), else from the structure.
Result<CmsSigned> VerifySignedData(CMS_ContentInfo* cms, BIO* out, BIO* detached = nullptr,
                                   const SignerLookup* lookup = nullptr) {
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  if (sk_CMS_SignerInfo_num(infos) != 1)
    return Status::Corruption("the SignedData has " + std::to_string(sk_CMS_SignerInfo_num(infos)) +
                              " signers; tessera expects exactly one");
  if (lookup != nullptr) TESSERA_RETURN_IF_ERROR(SetSignerFromLookup(cms, *lookup));
  // The signer's certificate chain is the caller's to judge (the exchange asks its
  // registry); the signature over the content must verify here.
  if (CMS_verify(cms, nullptr, nullptr, detached, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
    return Status::Corruption("the CMS signature does not verify (" + internal::TakeOpenSslError() +
                              "): the document was altered or is incomplete");
  CertificateStack signers(CMS_get0_signers(cms));
  if (!signers || sk_X509_num(signers.get()) != 1)
    return Status::Corruption("the signer's certificate is not in the SignedData");
  return CmsSigned{{},
                   Certificate::Share(sk_X509_value(signers.get(), 0)),
                   SigningTime(sk_CMS_SignerInfo_value(infos, 0))};
}

// A file written under a temporary name next to its final one and renamed into place
// by Commit() after an fsync: readers never see a partial file, and a failure (or a
// verification that fails after the content was written) leaves nothing behind.
class StagedFile {
 public:
  explicit StagedFile(fs::path path) : path_(std::move(path)) {}
  ~StagedFile() {
    bio_.reset();
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
  }
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  Status Open(unsigned mode) {
    temp_ = path_;
    temp_ += ".tmp." + RandomId().substr(0, 16);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd_ < 0) {
      const int err = errno;
      temp_.clear();
      return Status::FromErrno("cannot create a file next to " + path_.string(), err);
    }
    bio_ = BufferedFdBio(fd_);
    return Status::Ok();
  }
  BIO* bio() { return bio_.get(); }

  Status Commit() {
    if (BIO_flush(bio_.get()) != 1)
      return Status::IOError("cannot write " + temp_.string() + ": " +
                             internal::TakeOpenSslError());
    bio_.reset();
    if (::fsync(fd_) != 0) return Status::FromErrno("cannot sync " + temp_.string(), errno);
    ::close(fd_);
    fd_ = -1;
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      return Status::FromErrno("cannot rename to " + path_.string(), errno);
    committed_ = true;
    return SyncDirectory(path_.parent_path());
  }

  // A BIO writing to `fd` through a large buffer (a bare fd BIO makes one system call
  // per write, and the CMS encoders write a few bytes at a time). `fd` stays open.
  static Bio BufferedFdBio(int fd) {
    Bio chain(BIO_new(BIO_f_buffer()));
    BIO* file = BIO_new_fd(fd, BIO_NOCLOSE);
    if (!chain || file == nullptr || BIO_set_write_buffer_size(chain.get(), kCopyBuffer) != 1)
      internal::FatalOpenSslError("BIO_new_fd");
    BIO_push(chain.get(), file);
    return chain;
  }

 private:
  fs::path path_;
  fs::path temp_;
  int fd_ = -1;
  Bio bio_;
  bool committed_ = false;
};

// --- Reading CMS files in bounded memory ---------------------------------------------
//
// OpenSSL decodes a CMS structure only whole. A document's structure is small but for its
// one large field, the content (the ciphertext of AuthEnvelopedData, the signed content
// of SignedData), so that field is read apart: the BER of the file is walked once to copy
// everything else into a small "detached" structure that OpenSSL decodes, and the content
// is then streamed to OpenSSL (CMS_decrypt and CMS_verify take detached content as a BIO).

// A file read at any position through a buffer.
class FileReader {
 public:
  FileReader(int fd, fs::path path) : fd_(fd), path_(std::move(path)), buffer_(kReadBuffer) {}

  Status Open() {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return Status::FromErrno("cannot read " + path_.string(), errno);
    size_ = static_cast<uint64_t>(st.st_size);
    return Status::Ok();
  }
  uint64_t position() const { return position_; }
  uint64_t size() const { return size_; }
  const fs::path& path() const { return path_; }
  void Seek(uint64_t position) { position_ = position; }
  Status Skip(uint64_t n) {
    if (position_ > size_ || n > size_ - position_) return Truncated();
    position_ += n;
    return Status::Ok();
  }
  // Exactly `n` bytes, or Corruption when the file ends first.
  Status Read(uint8_t* out, size_t n) {
    while (n > 0) {
      TESSERA_ASSIGN_OR_RETURN(size_t got, ReadSome(out, n));
      if (got == 0) return Truncated();
      out += got;
      n -= got;
    }
    return Status::Ok();
  }
  // Up to `n` bytes; 0 at the end of the file.
  Result<size_t> ReadSome(uint8_t* out, size_t n) {
    if (position_ < start_ || position_ >= start_ + filled_) {
      start_ = position_;
      filled_ = 0;
      while (filled_ == 0) {
        const ssize_t got =
            ::pread(fd_, buffer_.data(), buffer_.size(), static_cast<off_t>(start_));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return Status::FromErrno("cannot read " + path_.string(), errno);
        if (got == 0) return size_t{0};
        filled_ = static_cast<size_t>(got);
      }
    }
    const size_t offset = static_cast<size_t>(position_ - start_);
    n = std::min(n, filled_ - offset);
    std::memcpy(out, buffer_.data() + offset, n);
    position_ += n;
    return n;
  }
  Status Truncated() const {
    return Status::Corruption(path_.string() + ": the CMS structure is cut short");
  }

 private:
  static constexpr size_t kReadBuffer = 256 * 1024;
  int fd_;
  fs::path path_;
  std::vector<uint8_t> buffer_;
  uint64_t size_ = 0;
  uint64_t position_ = 0;
  uint64_t start_ = 0;  // the file position of buffer_[0]
  size_t filled_ = 0;
};

// One BER identifier and length, as read and as encoded.
struct BerHeader {
  uint64_t start = 0;  // the file position of its first byte
  int tag_class = 0;   // 0 universal, 1 application, 2 context-specific, 3 private
  bool constructed = false;
  uint64_t tag = 0;
  bool indefinite = false;
  uint64_t length = 0;  // of the value, when definite
  uint8_t encoded[16] = {};
  size_t identifier_size = 0, size = 0;  // of the identifier, of identifier and length

  bool IsEndOfContents() const {
    return tag_class == 0 && !constructed && tag == 0 && !indefinite && length == 0;
  }
  bool Is(int cls, uint64_t number) const { return tag_class == cls && tag == number; }
};

constexpr int kUniversal = 0, kContextSpecific = 2;
constexpr uint64_t kOctetStringTag = 4, kSequenceTag = 16;
constexpr int kMaxBerDepth = 32;
// Everything of a CMS structure but its content: certificates, recipient infos, signer
// infos. Far more than tessera's documents carry; a bound on what a damaged or hostile
// file can make us hold.
constexpr size_t kMaxDetachedStructure = 8u << 20;

Result<BerHeader> ReadBerHeader(FileReader& r) {
  BerHeader h;
  h.start = r.position();
  auto next = [&](uint8_t& b) -> Status {
    if (h.size == sizeof h.encoded)
      return Status::Corruption(r.path().string() + ": a BER header is too long");
    TESSERA_RETURN_IF_ERROR(r.Read(&b, 1));
    h.encoded[h.size++] = b;
    return Status::Ok();
  };
  uint8_t b = 0;
  TESSERA_RETURN_IF_ERROR(next(b));
  h.tag_class = b >> 6;
  h.constructed = (b & 0x20) != 0;
  h.tag = b & 0x1f;
  if (h.tag == 0x1f) {  // high tag number form: base-128 digits
    h.tag = 0;
    do {
      TESSERA_RETURN_IF_ERROR(next(b));
      if (h.tag >> 50) return Status::Corruption(r.path().string() + ": a BER tag is too large");
      h.tag = (h.tag << 7) | (b & 0x7f);
    } while (b & 0x80);
  }
  h.identifier_size = h.size;
  TESSERA_RETURN_IF_ERROR(next(b));
  if (b == 0x80) {
    if (!h.constructed)
      return Status::Corruption(r.path().string() + ": a primitive BER value has no length");
    h.indefinite = true;
  } else if (b & 0x80) {
    const int digits = b & 0x7f;
    if (digits > 8) return Status::Corruption(r.path().string() + ": a BER length is too large");
    for (int i = 0; i < digits; ++i) {
      TESSERA_RETURN_IF_ERROR(next(b));
      h.length = (h.length << 8) | b;
    }
  } else {
    h.length = b;
  }
  if (!h.indefinite && h.length > r.size() - r.position()) return r.Truncated();
  return h;
}

// Calls `child` for each element inside the constructed `h`, which the reader has just
// read, until its end (its length, or its end-of-contents octets, which are consumed).
// `child` reads or skips the whole element it is given.
template <typename F>
Status ForEachChild(FileReader& r, const BerHeader& h, F&& child) {
  const uint64_t end = h.start + h.size + h.length;
  while (true) {
    if (!h.indefinite && r.position() == end) return Status::Ok();
    TESSERA_ASSIGN_OR_RETURN(BerHeader c, ReadBerHeader(r));
    if (h.indefinite && c.IsEndOfContents()) return Status::Ok();
    TESSERA_RETURN_IF_ERROR(child(c));
    if (!h.indefinite && r.position() > end)
      return Status::Corruption(r.path().string() + ": a BER element overruns its parent");
  }
}

// Passes over the value of `h` (whose header was just read).
Status SkipBerValue(FileReader& r, const BerHeader& h, int depth) {
  if (depth > kMaxBerDepth) return Status::Corruption(r.path().string() + ": BER nested too deep");
  if (!h.indefinite) return r.Skip(h.length);
  return ForEachChild(r, h, [&](const BerHeader& c) { return SkipBerValue(r, c, depth + 1); });
}

// The structure of a CMS file without its content, and where the content is.
struct Detached {
  Bytes structure;
  uint64_t content = 0;  // the file position of the content element
  bool found = false;

  Status Room(uint64_t n, const FileReader& r) const {
    if (n > kMaxDetachedStructure - structure.size())
      return Status::Corruption(r.path().string() +
                                ": the CMS structure around the content is implausibly large");
    return Status::Ok();
  }
  Status Append(const uint8_t* data, size_t n, const FileReader& r) {
    TESSERA_RETURN_IF_ERROR(Room(n, r));
    structure.insert(structure.end(), data, data + n);
    return Status::Ok();
  }
};

// Copies the element `h` (header just read) to `out` as it is.
Status CopyBerElement(FileReader& r, const BerHeader& h, Detached& out, int depth) {
  if (depth > kMaxBerDepth) return Status::Corruption(r.path().string() + ": BER nested too deep");
  TESSERA_RETURN_IF_ERROR(out.Append(h.encoded, h.size, r));
  if (h.indefinite) {
    TESSERA_RETURN_IF_ERROR(ForEachChild(
        r, h, [&](const BerHeader& c) { return CopyBerElement(r, c, out, depth + 1); }));
    static constexpr uint8_t kEnd[2] = {0, 0};
    return out.Append(kEnd, 2, r);
  }
  TESSERA_RETURN_IF_ERROR(out.Room(h.length, r));
  const size_t at = out.structure.size();
  out.structure.resize(at + h.length);
  return r.Read(out.structure.data() + at, h.length);
}

// Where the content sits in both kinds of ContentInfo read here:
//   ContentInfo { contentType, [0] EXPLICIT SEQUENCE {          -- SignedData / AuthEnvelopedData
//       ..., SEQUENCE { contentType, ..., [0] content }, ... } }
//                -- EncapsulatedContentInfo / EncryptedContentInfo: the first SEQUENCE in it
struct BerStep {
  int tag_class;
  uint64_t tag;
};
constexpr BerStep kPathToContent[] = {{kContextSpecific, 0},
                                      {kUniversal, kSequenceTag},
                                      {kUniversal, kSequenceTag},
                                      {kContextSpecific, 0}};

// Copies the constructed element `h` (header just read) to `out` with an indefinite length,
// its elements as they are but for the first that matches `path[0]`, which is rewritten
// the same way along the rest of the path; the element at the end of the path is left out
// and its position noted.
Status DetachAlong(FileReader& r, const BerHeader& h, std::span<const BerStep> path, Detached& out,
                   int depth) {
  if (!h.constructed)
    return Status::Corruption(r.path().string() + ": not the CMS structure expected");
  TESSERA_RETURN_IF_ERROR(out.Append(h.encoded, h.identifier_size, r));
  static constexpr uint8_t kIndefinite = 0x80;
  TESSERA_RETURN_IF_ERROR(out.Append(&kIndefinite, 1, r));
  bool taken = false;
  TESSERA_RETURN_IF_ERROR(ForEachChild(r, h, [&](const BerHeader& c) -> Status {
    if (taken || !c.Is(path[0].tag_class, path[0].tag)) return CopyBerElement(r, c, out, depth + 1);
    taken = true;
    if (path.size() > 1) return DetachAlong(r, c, path.subspan(1), out, depth + 1);
    out.content = c.start;
    out.found = true;
    return SkipBerValue(r, c, depth + 1);
  }));
  if (!taken) return Status::Corruption(r.path().string() + ": the CMS structure has no content");
  static constexpr uint8_t kEnd[2] = {0, 0};
  return out.Append(kEnd, 2, r);
}

// The CMS structure of type `nid` in the file, decoded without its content; `content` is
// set to the file position of the content element.
Result<Cms> ParseCmsFileDetached(FileReader& r, int nid, const char* what, uint64_t* content) {
  r.Seek(0);
  Detached detached;
  auto root = ReadBerHeader(r);
  Status walked = root.ok() ? (root->Is(kUniversal, kSequenceTag)
                                   ? DetachAlong(r, *root, kPathToContent, detached, 0)
                                   : Status::Corruption(r.path().string() + ": not CMS"))
                            : root.status();
  if (walked.ok() && r.position() != r.size())
    walked = Status::Corruption(r.path().string() + ": unexpected bytes after the structure");
  if (walked.code() == StatusCode::kCorruption)
    return Status::Corruption(std::string("not a CMS structure (expected ") + what +
                              "): " + walked.message());
  TESSERA_RETURN_IF_ERROR(walked);
  auto cms = ParseCms(detached.structure, nid, what);
  if (!cms.ok()) return cms.status().WithContext(r.path().string());
  *content = detached.content;
  return cms;
}

// The bytes of a BER OCTET STRING content element, primitive or constructed of pieces (as
// streaming writers make it), read in order without holding them: AuthEnvelopedData's
// [0] IMPLICIT OCTET STRING, or SignedData's [0] EXPLICIT around one OCTET STRING.
class ContentReader {
 public:
  ContentReader(FileReader& r, uint64_t element) : r_(r) { r_.Seek(element); }

  // Up to `n` bytes; 0 at the end of the content.
  Result<size_t> Read(uint8_t* out, size_t n) {
    while (left_ == 0) {
      if (done_) return size_t{0};
      TESSERA_RETURN_IF_ERROR(Next());
    }
    TESSERA_ASSIGN_OR_RETURN(size_t got, r_.ReadSome(out, std::min<uint64_t>(n, left_)));
    if (got == 0) return r_.Truncated();
    left_ -= got;
    return got;
  }
  const Status& status() const { return status_; }
  void set_status(Status st) { status_ = std::move(st); }
  bool done() const { return done_ && left_ == 0; }

 private:
  struct Frame {
    bool indefinite;
    uint64_t end;
  };
  Status Corrupt(const std::string& why) const {
    return Status::Corruption(r_.path().string() + ": the CMS content " + why);
  }
  // Moves to the next primitive piece, or to the end.
  Status Next() {
    if (!started_) {
      started_ = true;
      TESSERA_ASSIGN_OR_RETURN(BerHeader h, ReadBerHeader(r_));
      if (!h.Is(kContextSpecific, 0)) return Corrupt("is not where the structure says");
      return Enter(h);
    }
    if (frames_.empty()) {
      done_ = true;
      return Status::Ok();
    }
    const Frame f = frames_.back();
    if (!f.indefinite && r_.position() == f.end) {
      frames_.pop_back();
      return Status::Ok();
    }
    TESSERA_ASSIGN_OR_RETURN(BerHeader h, ReadBerHeader(r_));
    if (f.indefinite && h.IsEndOfContents()) {
      frames_.pop_back();
      return Status::Ok();
    }
    if (!h.Is(kUniversal, kOctetStringTag)) return Corrupt("holds something other than octets");
    if (!f.indefinite && (h.indefinite || h.start + h.size + h.length > f.end))
      return Corrupt("overruns its element");
    return Enter(h);
  }
  Status Enter(const BerHeader& h) {
    if (!h.constructed) {
      left_ = h.length;
      if (frames_.empty()) done_ = true;  // the whole content was one primitive piece
      return Status::Ok();
    }
    if (frames_.size() >= kMaxBerDepth) return Corrupt("is nested too deep");
    frames_.push_back({h.indefinite, h.start + h.size + h.length});
    return Status::Ok();
  }

  FileReader& r_;
  std::vector<Frame> frames_;
  uint64_t left_ = 0;
  bool started_ = false;
  bool done_ = false;
  Status status_;
};

// A source BIO reading a ContentReader: the detached content handed to CMS_decrypt and
// CMS_verify. An error is kept in the reader, and the BIO reports a failed read.
int ContentBioRead(BIO* bio, char* out, int n) {
  BIO_clear_retry_flags(bio);
  auto* reader = static_cast<ContentReader*>(BIO_get_data(bio));
  if (n <= 0) return 0;
  auto got = reader->Read(reinterpret_cast<uint8_t*>(out), static_cast<size_t>(n));
  if (!got.ok()) {
    reader->set_status(got.status());
    return -1;
  }
  return static_cast<int>(*got);
}

long ContentBioCtrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
  auto* reader = static_cast<ContentReader*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_EOF:
      return reader->done() ? 1 : 0;
    case BIO_CTRL_FLUSH:
      return 1;
    default:
      return 0;
  }
}

int ContentBioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

Bio ContentBio(ContentReader& reader) {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "CMS content");
    if (m == nullptr || BIO_meth_set_read(m, ContentBioRead) != 1 ||
        BIO_meth_set_ctrl(m, ContentBioCtrl) != 1 || BIO_meth_set_create(m, ContentBioCreate) != 1)
      internal::FatalOpenSslError("BIO_meth_new");
    return m;
  }();
  Bio bio(BIO_new(method));
  if (!bio) internal::FatalOpenSslError("BIO_new");
  BIO_set_data(bio.get(), &reader);
  return bio;
}

// The streaming filter BIOs that BIO_new_CMS puts in front of `below`: finishing them
// (Finish, or the destructor on an error path) pops and frees them down to `below`.
class CmsStream {
 public:
  CmsStream(BIO* below, CMS_ContentInfo* cms) : below_(below), head_(BIO_new_CMS(below, cms)) {
    if (head_ == nullptr) internal::FatalOpenSslError("BIO_new_CMS");
  }
  ~CmsStream() { Release(); }
  CmsStream(const CmsStream&) = delete;
  CmsStream& operator=(const CmsStream&) = delete;
  BIO* bio() { return head_; }
  // Writes the end of the structure (signature or authentication tag) to `below`.
  bool Finish() {
    const bool ok = BIO_flush(head_) == 1;
    Release();
    return ok;
  }

 private:
  void Release() {
    while (head_ != nullptr && head_ != below_) {
      BIO* next = BIO_pop(head_);
      BIO_free(head_);
      head_ = next;
    }
    head_ = nullptr;
  }
  BIO* below_;
  BIO* head_;
};

int OpenForReading(const fs::path& path, Status* status) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    *status = errno == ENOENT ? Status::NotFound(path.string() + " does not exist")
                              : Status::FromErrno("cannot open " + path.string(), errno);
  return fd;
}

// A file that disappears when closed, in `dir` (which holds plaintext anyway), for the
// decrypted SignedData between decryption and verification.
int AnonymousFile(const fs::path& dir, Status* status) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string name = (dir / ".tessera-cms-XXXXXX").string();
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    *status = Status::FromErrno("cannot create a temporary file in " + dir.string(), errno);
    return -1;
  }
  ::unlink(name.c_str());
  return fd;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<Bytes> CmsSign(ByteView content, const Certificate& signer, const PrivateKey& key,
                      SignerCertificate certificate) {
  TESSERA_RETURN_IF_ERROR(CheckSigner(signer, key));
  Cms cms = NewSignedData(signer, key, CMS_BINARY, certificate);
  Bio in = MemoryBio(content);
  if (CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) != 1)
    return Status::Internal("cannot sign: " + internal::TakeOpenSslError());
  return ToDer(cms.get());
}

Result<CmsSigned> CmsVerify(ByteView der) {
  TESSERA_ASSIGN_OR_RETURN(Cms cms, ParseCms(der, NID_pkcs7_signed, "SignedData"));
  Bio out = EmptyMemoryBio();
  TESSERA_ASSIGN_OR_RETURN(CmsSigned verified, VerifySignedData(cms.get(), out.get()));
  verified.content = BioBytes(out.get());
  return verified;
}

Result<CmsSigned> CmsVerify(ByteView der, const SignerLookup& lookup) {
  TESSERA_ASSIGN_OR_RETURN(Cms cms, ParseCms(der, NID_pkcs7_signed, "SignedData"));
  Bio out = EmptyMemoryBio();
  TESSERA_ASSIGN_OR_RETURN(CmsSigned verified,
                           VerifySignedData(cms.get(), out.get(), nullptr, &lookup));
  verified.content = BioBytes(out.get());
  return verified;
}

SignerLookup OnlySigner(Certificate certificate) {
  return [certificate = std::move(certificate)](ByteView issuer_and_serial) {
    const Bytes own = certificate.IssuerAndSerial();
    return std::equal(own.begin(), own.end(), issuer_and_serial.begin(), issuer_and_serial.end())
               ? std::optional<Certificate>(certificate)
               : std::nullopt;
  };
}

Result<Bytes> CmsEncrypt(ByteView content, const std::vector<Certificate>& recipients) {
  TESSERA_RETURN_IF_ERROR(CheckRecipients(recipients));
  Cms cms = NewAuthEnvelope(recipients, CMS_BINARY);
  Bio in = MemoryBio(content);
  if (CMS_final(cms.get(), in.get(), nullptr, CMS_BINARY) != 1)
    return Status::Internal("cannot encrypt: " + internal::TakeOpenSslError());
  return ToDer(cms.get());
}

Result<Bytes> CmsDecrypt(ByteView der, const Certificate& cert, const PrivateKey& key) {
  TESSERA_ASSIGN_OR_RETURN(Cms cms,
                           ParseCms(der, NID_id_smime_ct_authEnvelopedData, "AuthEnvelopedData"));
  TESSERA_RETURN_IF_ERROR(CheckRecipient(cms.get(), cert, key));
  Bio out = EmptyMemoryBio();
  // The plaintext is written before the tag is checked at the end; on failure it is
  // discarded with `out`.
  if (CMS_decrypt(cms.get(), key.native(), cert.native(), nullptr, out.get(), CMS_BINARY) != 1)
    return Status::Corruption("cannot decrypt (" + internal::TakeOpenSslError() +
                              "): the encrypted document is damaged or was altered");
  Bytes plain = BioBytes(out.get());
  // The memory BIO's buffer held the plaintext: wipe it before it is freed.
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  SecureWipe(data, static_cast<size_t>(n));
  return plain;
}

Status CmsSignAndEncryptFile(const fs::path& in, const fs::path& out, const Certificate& signer,
                             const PrivateKey& key, const std::vector<Certificate>& recipients) {
  TESSERA_RETURN_IF_ERROR(CheckSigner(signer, key));
  TESSERA_RETURN_IF_ERROR(CheckRecipients(recipients));
  Status opened;
  FdCloser input{OpenForReading(in, &opened)};
  TESSERA_RETURN_IF_ERROR(opened);

  StagedFile staged(out);
  TESSERA_RETURN_IF_ERROR(staged.Open(0600));
  Cms envelope = NewAuthEnvelope(recipients, CMS_BINARY | CMS_STREAM);
  Cms signed_data = NewSignedData(signer, key, CMS_BINARY | CMS_STREAM);
  // content → SignedData encoder → AuthEnvelopedData encoder → staged file.
  CmsStream encrypt(staged.bio(), envelope.get());
  CmsStream sign(encrypt.bio(), signed_data.get());
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[kCopyBuffer]);
  for (;;) {
    const ssize_t n = ::read(input.fd, buffer.get(), kCopyBuffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot read " + in.string(), errno);
    if (n == 0) break;
    if (BIO_write(sign.bio(), buffer.get(), static_cast<int>(n)) != n)
      return Status::IOError("cannot write " + out.string() + ": " + internal::TakeOpenSslError());
  }
  if (!sign.Finish() || !encrypt.Finish())
    return Status::IOError("cannot finish " + out.string() + ": " + internal::TakeOpenSslError());
  return staged.Commit();
}

Result<CmsSigned> CmsDecryptAndVerifyFile(const fs::path& in, const fs::path& out,
                                          const Certificate& cert, const PrivateKey& key) {
  Status st;
  FdCloser input{OpenForReading(in, &st)};
  TESSERA_RETURN_IF_ERROR(st);
  FileReader encrypted(input.fd, in);
  TESSERA_RETURN_IF_ERROR(encrypted.Open());
  uint64_t ciphertext = 0;
  TESSERA_ASSIGN_OR_RETURN(Cms envelope,
                           ParseCmsFileDetached(encrypted, NID_id_smime_ct_authEnvelopedData,
                                                "AuthEnvelopedData", &ciphertext));
  TESSERA_RETURN_IF_ERROR(CheckRecipient(envelope.get(), cert, key));

  // Decrypted into a file that vanishes when closed: the tag is checked only at the end.
  FdCloser inner{AnonymousFile(out.parent_path(), &st)};
  TESSERA_RETURN_IF_ERROR(st);
  {
    ContentReader content(encrypted, ciphertext);
    Bio source = ContentBio(content);
    Bio sink = StagedFile::BufferedFdBio(inner.fd);
    if (CMS_decrypt(envelope.get(), key.native(), cert.native(), source.get(), sink.get(),
                    CMS_BINARY) != 1) {
      const std::string why = internal::TakeOpenSslError();
      if (!content.status().ok()) return content.status();
      return Status::Corruption(in.string() + ": cannot decrypt (" + why +
                                "): the encrypted document is damaged or was altered");
    }
    if (BIO_flush(sink.get()) != 1)
      return Status::IOError("cannot write a temporary file in " + out.parent_path().string() +
                             ": " + internal::TakeOpenSslError());
  }
  envelope.reset();

  FileReader decrypted(inner.fd, in);
  TESSERA_RETURN_IF_ERROR(decrypted.Open());
  uint64_t signed_content = 0;
  TESSERA_ASSIGN_OR_RETURN(Cms signed_data, ParseCmsFileDetached(decrypted, NID_pkcs7_signed,
                                                                 "SignedData", &signed_content));
  StagedFile staged(out);
  TESSERA_RETURN_IF_ERROR(staged.Open(0600));
  ContentReader content(decrypted, signed_content);
  Bio source = ContentBio(content);
  auto verified = VerifySignedData(signed_data.get(), staged.bio(), source.get());
  if (!content.status().ok()) return content.status();
  if (!verified.ok()) return verified.status().WithContext(in.string());
  TESSERA_RETURN_IF_ERROR(staged.Commit());
  return verified;
}

}  // namespace tessera::crypto
