#include "crypto/cms.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>

#include "base/files.hpp"
#include "crypto/openssl_util.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {

namespace fs = std::filesystem;

namespace {

using internal::Owned;

using Bio = Owned<BIO, BIO_free_all>;
using Cms = Owned<CMS_ContentInfo, CMS_ContentInfo_free>;
void FreeCertificateStack(STACK_OF(X509) * s) {
  sk_X509_free(s);  // a macro: it needs a function to point to
}
using CertificateStack = Owned<STACK_OF(X509), FreeCertificateStack>;

constexpr size_t kCopyBuffer = 1 << 20;

Bio MemoryBio(ByteView data) {
  static const uint8_t kNothing = 0;  // BIO_new_mem_buf refuses a null pointer
  Bio bio(BIO_new_mem_buf(data.empty() ? &kNothing : data.data(), static_cast<int>(data.size())));
  if (!bio) internal::FatalOpenSslError("BIO_new_mem_buf");
  return bio;
}

Bio EmptyMemoryBio() {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) internal::FatalOpenSslError("BIO_new");
  return bio;
}

Bytes BioBytes(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return Bytes(data, data + n);
}

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
Cms NewSignedData(const Certificate& signer, const PrivateKey& key, unsigned flags) {
  Cms cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags | CMS_PARTIAL));
  if (!cms) internal::FatalOpenSslError("CMS_sign");
  // The signer's certificate is included (no CMS_NOCERTS); signingTime is added as a
  // signed attribute.
  if (CMS_add1_signer(cms.get(), signer.native(), key.native(), internal::Sha256Md(), 0) == nullptr)
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

// Verifies the one signature of SignedData `cms`, writing the content to `out`; returns
// the signer (content left empty).
Result<CmsSigned> VerifySignedData(CMS_ContentInfo* cms, BIO* out) {
  STACK_OF(CMS_SignerInfo)* infos = CMS_get0_SignerInfos(cms);
  if (sk_CMS_SignerInfo_num(infos) != 1)
    return Status::Corruption("the SignedData has " + std::to_string(sk_CMS_SignerInfo_num(infos)) +
                              " signers; tessera expects exactly one");
  // The signer's certificate chain is the caller's to judge (the exchange asks its
  // registry); the signature over the content must verify here.
  if (CMS_verify(cms, nullptr, nullptr, nullptr, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
    return Status::Corruption("the CMS signature does not verify (" + internal::TakeOpenSslError() +
                              "): the document was altered or is incomplete");
  CertificateStack signers(CMS_get0_signers(cms));
  if (!signers || sk_X509_num(signers.get()) != 1)
    return Status::Corruption("the signer's certificate is not in the SignedData");
  unsigned char* der = nullptr;
  const int n = i2d_X509(sk_X509_value(signers.get(), 0), &der);
  if (n <= 0) internal::FatalOpenSslError("i2d_X509");
  auto signer = Certificate::FromDer(ByteView(der, static_cast<size_t>(n)));
  OPENSSL_free(der);
  if (!signer.ok()) return Status::Corruption("the signer's certificate is damaged");
  return CmsSigned{{}, *signer, SigningTime(sk_CMS_SignerInfo_value(infos, 0))};
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

// A read-only mapping of a whole file: OpenSSL's parser copies what it keeps, so the
// mapped pages (clean page cache, not heap) are needed only while parsing.
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  Status Map(int fd, const fs::path& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return Status::FromErrno("cannot read " + path.string(), errno);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) return Status::Corruption(path.string() + " is empty");
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return Status::FromErrno("cannot map " + path.string(), errno);
    data_ = static_cast<uint8_t*>(p);
    ::madvise(data_, size_, MADV_SEQUENTIAL);
    return Status::Ok();
  }
  ByteView view() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

Result<Cms> ParseCmsFile(int fd, const fs::path& path, int nid, const char* what) {
  MappedFile mapped;
  TESSERA_RETURN_IF_ERROR(mapped.Map(fd, path));
  auto cms = ParseCms(mapped.view(), nid, what);
  if (!cms.ok()) return cms.status().WithContext(path.string());
  return cms;
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

Result<Bytes> CmsSign(ByteView content, const Certificate& signer, const PrivateKey& key) {
  TESSERA_RETURN_IF_ERROR(CheckSigner(signer, key));
  Cms cms = NewSignedData(signer, key, CMS_BINARY);
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
  TESSERA_ASSIGN_OR_RETURN(
      Cms envelope,
      ParseCmsFile(input.fd, in, NID_id_smime_ct_authEnvelopedData, "AuthEnvelopedData"));
  TESSERA_RETURN_IF_ERROR(CheckRecipient(envelope.get(), cert, key));

  // Decrypted into a file that vanishes when closed: the tag is checked only at the end.
  FdCloser inner{AnonymousFile(out.parent_path(), &st)};
  TESSERA_RETURN_IF_ERROR(st);
  {
    Bio sink = StagedFile::BufferedFdBio(inner.fd);
    if (CMS_decrypt(envelope.get(), key.native(), cert.native(), nullptr, sink.get(), CMS_BINARY) !=
        1)
      return Status::Corruption(in.string() + ": cannot decrypt (" + internal::TakeOpenSslError() +
                                "): the encrypted document is damaged or was altered");
    if (BIO_flush(sink.get()) != 1)
      return Status::IOError("cannot write a temporary file in " + out.parent_path().string() +
                             ": " + internal::TakeOpenSslError());
  }
  envelope.reset();  // frees the ciphertext before the SignedData is parsed
  TESSERA_ASSIGN_OR_RETURN(Cms signed_data,
                           ParseCmsFile(inner.fd, in, NID_pkcs7_signed, "SignedData"));

  StagedFile staged(out);
  TESSERA_RETURN_IF_ERROR(staged.Open(0600));
  auto verified = VerifySignedData(signed_data.get(), staged.bio());
  if (!verified.ok()) return verified.status().WithContext(in.string());
  TESSERA_RETURN_IF_ERROR(staged.Commit());
  return verified;
}

}  // namespace tessera::crypto
