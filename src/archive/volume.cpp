#include "archive/volume.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/importer.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/json_fields.hpp"
#include "base/pending_file.hpp"
#include "base/version.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"

namespace tessera::archive {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace {

constexpr char kManifestName[] = "VOLUME.json";
constexpr char kSignatureName[] = "VOLUME.sig";
constexpr char kReadmeName[] = "README.txt";
constexpr char kSumsName[] = "SHA256SUMS";
constexpr char kFilePrefix[] = "tessera-volume-";
constexpr char kFileSuffix[] = ".tar";
// Limits on what a reader holds in memory: a manifest lists ~300 bytes per message.
constexpr uint64_t kMaxManifestSize = uint64_t{1} << 30;
constexpr uint64_t kMaxSignatureSize = 4096;
constexpr uint64_t kTarBlock = 512;
// Bounds on the parts of a volume other than its messages, for splitting: the manifest
// without its message list, the signature, README.txt, the public key, the two fixed lines
// of SHA256SUMS, and the two zero blocks that end a tar.
constexpr uint64_t kManifestHeadBound = 2048;
constexpr uint64_t kPublicKeyBound = 512;
constexpr size_t kMaxProblemsPerVolume = 100;

const char kReadme[] = R"(TESSERA MAIL ARCHIVE VOLUME (郵件歸檔離線卷)

This tar file is one volume of mail exported from a tessera mail archive. It describes
itself: checking it and reading the mail need nothing but this file (no tessera
database, no archive key).

WHAT IT HOLDS
  VOLUME.json             the manifest (JSON, format "tessera-volume", version 1): which
                          export and which volume of it this is, and for every message its
                          SHA-256, size, date, subject, Message-ID and deliveries (envelope
                          sender, envelope recipients with Bcc, folder, when received)
  VOLUME.sig              the Ed25519 signature of the exact bytes of VOLUME.json
  volume-signing.pub.pem  the public key that made the signature
  SHA256SUMS              the SHA-256 of every other file, in the format of sha256sum
  README.txt              this text
  messages/<sha256>.eml   each message exactly as received (RFC 5322), named by the
                          SHA-256 of its bytes; any mail client opens them

THE MAIL IS NOT ENCRYPTED. Whoever holds this file can read it: keep the media locked
away as the paper files of the same mail would be.

CHECKING IT WITHOUT TESSERA (OpenSSL 3 and GNU coreutils)
  mkdir vol && tar -xf THIS-FILE.tar -C vol && cd vol

  1. The manifest is the one that was signed:
       openssl pkeyutl -verify -pubin -inkey volume-signing.pub.pem -rawin \
           -in VOLUME.json -sigfile VOLUME.sig
     must print "Signature Verified Successfully". That proves the manifest is unchanged
     since this key signed it. Whose key it is, the fingerprint tells:
       openssl pkey -pubin -in volume-signing.pub.pem -outform DER | sha256sum
     must show the fingerprint recorded when the volume was made (printed by the export,
     in the archive's audit log, and kept apart on paper). Better still, use a copy of
     the public key kept apart in place of volume-signing.pub.pem above.

  2. SHA256SUMS is the one the manifest names:
       sha256sum SHA256SUMS
       grep -o '"SHA256SUMS":"[0-9a-f]*"' VOLUME.json
     must show the same 64 digits.

  3. Every file is as it was:
       sha256sum -c SHA256SUMS
     must say OK on every line.

WITH TESSERA
  tessera archive volume verify DIR [--key volume-signing.pub.pem]
  tessera archive volume import DIR       (into any archive; the original is not needed)
where DIR holds the volume files of one export.
)";

uint64_t RoundUpToBlock(uint64_t n) {
  return (n + kTarBlock - 1) / kTarBlock * kTarBlock;
}

// A member's share of a tar file: its header and its data padded to whole blocks.
uint64_t TarMemberSize(uint64_t data) {
  return kTarBlock + RoundUpToBlock(data);
}

std::string MessagePath(ByteView sha256) {
  return "messages/" + HexEncode(sha256) + ".eml";
}

int64_t EffectiveDate(const VolumeMessage& m) {
  return m.date ? *m.date : m.first_seen;
}

std::string LocalDate(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

// The readable form of a time in the manifest; null where RFC 3339 cannot say it (and
// nanoseconds would overflow), which only a manifest made by hand holds.
ordered_json Utc(std::optional<int64_t> unix_seconds) {
  constexpr int64_t kYear9999 = 253402300799;
  if (!unix_seconds || *unix_seconds < 0 || *unix_seconds > kYear9999) return nullptr;
  return FormatRfc3339(*unix_seconds * 1000000000);
}

std::string Text(const ordered_json& j) {
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

ordered_json MessageJson(const VolumeMessage& m) {
  ordered_json deliveries = ordered_json::array();
  for (const Delivery& d : m.deliveries)
    deliveries.push_back({{"received_at", d.received_at},
                          {"source", d.source},
                          {"origin", d.origin},
                          {"folder", d.folder},
                          {"envelope_from", d.envelope_from},
                          {"recipients", d.recipients}});
  return {{"path", m.path},
          {"sha256", HexEncode(m.sha256)},
          {"size", m.size},
          {"date", m.date ? ordered_json(*m.date) : ordered_json(nullptr)},
          {"first_seen", m.first_seen},
          {"message_id", m.message_id},
          {"subject", m.subject},
          {"from", m.from},
          {"deliveries", deliveries}};
}

// SHA256SUMS: every member but the manifest, its signature and SHA256SUMS itself, in the
// format `sha256sum -c` reads.
std::string SumsText(const std::map<std::string, Bytes>& files,
                     const std::vector<VolumeMessage>& messages) {
  std::string out;
  for (const char* name : {kReadmeName, kVolumePublicKeyFile}) {
    auto it = files.find(name);
    if (it != files.end()) out += HexEncode(it->second) + "  " + name + "\n";
  }
  for (const VolumeMessage& m : messages) out += HexEncode(m.sha256) + "  " + m.path + "\n";
  return out;
}

// Strict JSON readers for the manifest; they throw std::invalid_argument naming the field,
// which ParseVolumeManifest turns into a Corruption status.
const nlohmann::json& Field(const nlohmann::json& object, const char* key) {
  if (!object.is_object())
    throw std::invalid_argument(std::string("not an object where ") + key + " should be");
  auto it = object.find(key);
  if (it == object.end()) throw std::invalid_argument(std::string("\"") + key + "\" is missing");
  return *it;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  const nlohmann::json& v = Field(object, key);
  if (!v.is_string()) throw std::invalid_argument(std::string("\"") + key + "\" is not a string");
  return v.get<std::string>();
}

Bytes Sha256Field(const nlohmann::json& v, const std::string& what) {
  if (!v.is_string()) throw std::invalid_argument(what + " is not a string");
  const std::string hex = v.get<std::string>();
  auto bytes = HexDecode(hex);
  if (hex.size() != 64 || !bytes.ok() || HexEncode(*bytes) != hex)
    throw std::invalid_argument(what + " is not a SHA-256 (64 lower-case hex digits)");
  return std::move(*bytes);
}

std::vector<std::string> StringArray(const nlohmann::json& v, const char* what) {
  if (!v.is_array()) throw std::invalid_argument(std::string("\"") + what + "\" is not an array");
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (!s.is_string())
      throw std::invalid_argument(std::string("\"") + what + "\" holds something not a string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

VolumeMessage ParseMessageEntry(const nlohmann::json& j, size_t index) {
  const std::string where = "message " + std::to_string(index + 1);
  if (!j.is_object()) throw std::invalid_argument(where + " is not an object");
  VolumeMessage m;
  try {
    m.sha256 = Sha256Field(Field(j, "sha256"), "\"sha256\"");
    m.path = StringField(j, "path");
    if (m.path != MessagePath(m.sha256))
      throw std::invalid_argument("\"path\" is not messages/<sha256>.eml");
    m.size = RequiredInt<uint64_t>(j, "size");
    const nlohmann::json& date = Field(j, "date");
    if (!date.is_null()) m.date = JsonInt<int64_t>(date, "date");
    m.first_seen = RequiredInt<int64_t>(j, "first_seen");
    m.message_id = StringField(j, "message_id");
    m.subject = StringField(j, "subject");
    m.from = StringField(j, "from");
    const nlohmann::json& deliveries = Field(j, "deliveries");
    if (!deliveries.is_array()) throw std::invalid_argument("\"deliveries\" is not an array");
    for (const auto& d : deliveries) {
      Delivery out;
      out.received_at = RequiredInt<int64_t>(d, "received_at");
      out.source = StringField(d, "source");
      out.origin = StringField(d, "origin");
      out.folder = StringField(d, "folder");
      out.envelope_from = StringField(d, "envelope_from");
      out.recipients = StringArray(Field(d, "recipients"), "recipients");
      m.deliveries.push_back(std::move(out));
    }
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + ": " + e.what());
  }
  return m;
}

// Reads a tar file member by member. libarchive reports a damaged or cut-short file as an
// error, which becomes Corruption naming where it happened.
class TarReader {
 public:
  struct Member {
    std::string name;
    bool regular = false;
    uint64_t size = 0;
  };

  explicit TarReader(fs::path path) : path_(std::move(path)) {}
  ~TarReader() {
    if (a_) archive_read_free(a_);
  }
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  Status Open() {
    a_ = archive_read_new();
    if (!a_) return Status::Internal("libarchive: out of memory");
    // Only plain tar: a volume is never compressed, and nothing else is taken for one.
    archive_read_support_format_tar(a_);
    // Besides a file that cannot be opened, this is where one that is not a tar is found.
    if (archive_read_open_filename(a_, path_.c_str(), 64 * 1024) != ARCHIVE_OK)
      return Status::Corruption(Error());
    return Status::Ok();
  }

  // The next member's header; false after the last.
  Result<bool> Next(Member& m) {
    struct archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a_, &entry);
    if (r == ARCHIVE_EOF) return false;
    // A volume tessera wrote reads without a warning; anything else (a header that fails
    // its checksum, which libarchive would skip on a retry) is damage.
    if (r != ARCHIVE_OK) return Status::Corruption(Error());
    const char* name = archive_entry_pathname(entry);
    m.name = name && *name ? name : "(a member without a name)";
    m.regular = archive_entry_filetype(entry) == AE_IFREG;
    const la_int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
    m.size = size > 0 ? static_cast<uint64_t>(size) : 0;
    return true;
  }

  // The current member's data, in pieces, to `sink`.
  Status Read(const std::function<void(ByteView)>& sink) {
    uint8_t buf[64 * 1024];
    while (true) {
      const la_ssize_t n = archive_read_data(a_, buf, sizeof buf);
      if (n == 0) return Status::Ok();
      if (n < 0) return Status::Corruption(Error());
      sink(ByteView(buf, static_cast<size_t>(n)));
    }
  }

  Result<Bytes> ReadAll(uint64_t limit, const std::string& what) {
    Bytes out;
    bool too_big = false;
    TESSERA_RETURN_IF_ERROR(Read([&](ByteView piece) {
      if (out.size() + piece.size() > limit) too_big = true;
      if (!too_big) out.insert(out.end(), piece.begin(), piece.end());
    }));
    if (too_big) return Status::Corruption(what + " is larger than " + HumanBytes(limit));
    return out;
  }

 private:
  std::string Error() const {
    const char* e = archive_error_string(a_);
    return e ? e : "unknown libarchive error";
  }

  fs::path path_;
  struct archive* a_ = nullptr;
};

// Writes a tar file (POSIX ustar; pax headers only where ustar cannot say something) to
// an open descriptor, without padding the end to libarchive's 10 KiB blocks, so that a
// volume's size is what the splitting counted.
class TarWriter {
 public:
  TarWriter() = default;
  ~TarWriter() {
    if (a_) archive_write_free(a_);
  }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  Status Open(int fd, const fs::path& path) {
    path_ = path;
    a_ = archive_write_new();
    if (!a_) return Status::Internal("libarchive: out of memory");
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_, 1) != ARCHIVE_OK ||
        archive_write_open_fd(a_, fd) != ARCHIVE_OK)
      return Failed();
    return Status::Ok();
  }

  Status Add(const std::string& name, ByteView data, unsigned mode, int64_t mtime) {
    TESSERA_RETURN_IF_ERROR(Begin(name, data.size(), mode, mtime));
    return Write(data);
  }

  // A member of `size` bytes, whose data the Write()s that follow give (in total exactly
  // `size` bytes), for members too large to hold in memory.
  Status Begin(const std::string& name, uint64_t size, unsigned mode, int64_t mtime) {
    struct archive_entry* entry = archive_entry_new();
    if (!entry) return Status::Internal("libarchive: out of memory");
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(size));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, mode);
    // Within what ustar holds (0 to 8^11-1), so that no pax header is needed.
    archive_entry_set_mtime(entry, std::clamp<int64_t>(mtime, 0, (int64_t{1} << 33) - 1), 0);
    int r = archive_write_header(a_, entry);
    archive_entry_free(entry);
    if (r != ARCHIVE_OK) return Failed();
    return Status::Ok();
  }

  Status Write(ByteView data) {
    size_t done = 0;
    while (done < data.size()) {
      const la_ssize_t n = archive_write_data(a_, data.data() + done, data.size() - done);
      if (n <= 0) return Failed();
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return Failed();
    return Status::Ok();
  }

 private:
  Status Failed() const {
    const char* e = archive_error_string(a_);
    return Status::IOError("cannot write " + path_.string() + ": " +
                           (e ? e : "unknown libarchive error"));
  }

  fs::path path_;
  struct archive* a_ = nullptr;
};

bool IsVolumeFileName(const std::string& name) {
  const std::string prefix = kFilePrefix, suffix = kFileSuffix;
  return name.size() > prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::vector<fs::path>> VolumeFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return Status::NotFound(dir.string() + " does not exist");
    return Status::IOError("cannot read the directory " + dir.string() + ": " + ec.message());
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec)
      return Status::IOError("cannot read the directory " + dir.string() + ": " + ec.message());
    if (IsVolumeFileName(it->path().filename().string()) && it->is_regular_file(ec))
      out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void AddProblem(VolumeCheck& check, std::string problem) {
  if (check.problems.size() < kMaxProblemsPerVolume)
    check.problems.push_back(std::move(problem));
  else if (check.problems.size() == kMaxProblemsPerVolume)
    check.problems.push_back("(more problems not listed)");
}

// What a reading of one volume found in it.
struct MemberSeen {
  uint64_t size = 0;
  Bytes sha256;
};

VolumeCheck CheckVolume(const fs::path& path, const crypto::PublicKey* trusted,
                        Progress* progress) {
  VolumeCheck check;
  check.path = path;
  TarReader reader(path);
  if (Status st = reader.Open(); !st.ok()) {
    AddProblem(check, "cannot be read as a tar file (" + st.message() +
                          "): not a tessera volume, or damaged");
    return check;
  }
  std::map<std::string, MemberSeen> seen;
  std::optional<Bytes> manifest_bytes, signature;
  std::string last = "(none)";
  while (true) {
    TarReader::Member m;
    auto more = reader.Next(m);
    if (!more.ok()) {
      AddProblem(check, "the tar file is damaged or cut short after member " + last + " (" +
                            more.status().message() + ")");
      break;
    }
    if (!*more) break;
    if (seen.count(m.name) || (m.name == kManifestName && manifest_bytes) ||
        (m.name == kSignatureName && signature)) {
      AddProblem(check, "member " + m.name + " appears more than once");
      continue;
    }
    if (!m.regular) {
      AddProblem(check, "member " + m.name + " is not a regular file (a volume holds only files)");
      seen[m.name] = {};
      continue;
    }
    Status read;
    if (m.name == kManifestName) {
      auto bytes = reader.ReadAll(kMaxManifestSize, kManifestName);
      if (bytes.ok()) manifest_bytes = std::move(*bytes);
      read = bytes.status();
    } else if (m.name == kSignatureName) {
      auto bytes = reader.ReadAll(kMaxSignatureSize, kSignatureName);
      if (bytes.ok()) signature = std::move(*bytes);
      read = bytes.status();
    } else {
      crypto::Sha256Hasher hasher;
      MemberSeen s;
      read = reader.Read([&](ByteView piece) {
        hasher.Update(piece);
        s.size += piece.size();
        if (progress) progress->Add(0, piece.size());
      });
      s.sha256 = hasher.Final();
      if (read.ok()) seen[m.name] = std::move(s);
    }
    last = m.name;
    if (!read.ok()) {
      AddProblem(check, "the tar file is damaged or cut short in member " + m.name + " (" +
                            read.message() + ")");
      break;
    }
    if (progress) progress->Tick(path.filename().string());
  }

  if (!manifest_bytes) {
    AddProblem(check,
               std::string("it holds no ") + kManifestName + " (not a tessera volume, or damaged)");
    return check;
  }
  auto manifest = ParseVolumeManifest(*manifest_bytes);
  if (!manifest.ok()) {
    AddProblem(check, manifest.status().message());
    return check;
  }
  const VolumeManifest& v = *manifest;
  check.number = v.number;
  check.count = v.count;
  check.set = v.set;
  check.messages = v.messages.size();
  for (const VolumeMessage& m : v.messages) check.bytes += m.size;

  // The signature first: if it fails, what the manifest says is not to be relied on.
  std::optional<crypto::PublicKey> key;
  if (trusted) {
    key = *trusted;
  } else {
    auto embedded = crypto::PublicKey::FromPem(v.public_key_pem);
    if (embedded.ok())
      key = *embedded;
    else
      AddProblem(check, std::string(kManifestName) + " names no usable signing key (" +
                            embedded.status().message() + ")");
  }
  bool signed_ok = false;
  if (key) {
    check.fingerprint = key->Fingerprint();
    if (!signature) {
      AddProblem(check, std::string("it holds no ") + kSignatureName);
    } else if (!key->Verify(*manifest_bytes, *signature)) {
      if (trusted && v.fingerprint != check.fingerprint)
        AddProblem(check, std::string(kSignatureName) + " is not a signature by the key given (" +
                              check.fingerprint + "); the volume names key " + v.fingerprint +
                              " as its signer");
      else
        AddProblem(check, std::string(kSignatureName) + " does not match " + kManifestName +
                              ": the manifest was changed after it was signed, or another key "
                              "signed it");
    } else {
      signed_ok = true;
    }
  }

  for (const auto& [name, sha] : v.files) {
    auto it = seen.find(name);
    if (it == seen.end())
      AddProblem(check, name + " is missing");
    else if (it->second.sha256 != sha)
      AddProblem(check, name + " does not match its SHA-256 in " + kManifestName);
  }
  std::set<std::string> listed;
  for (const auto& [name, sha] : v.files) listed.insert(name);
  for (const VolumeMessage& m : v.messages) {
    listed.insert(m.path);
    auto it = seen.find(m.path);
    if (it == seen.end())
      AddProblem(check, "message " + m.path + " is missing");
    else if (it->second.size != m.size)
      AddProblem(check, "message " + m.path + " has " + std::to_string(it->second.size) +
                            " bytes, not the " + std::to_string(m.size) + " listed");
    else if (it->second.sha256 != m.sha256)
      AddProblem(check, "message " + m.path + " does not match its SHA-256 (changed)");
  }
  for (const auto& [name, s] : seen)
    if (!listed.count(name))
      AddProblem(check, "member " + name + " is not listed in " + kManifestName +
                            " (added after the volume was made)");
  if (signed_ok) check.manifest = std::move(*manifest);
  return check;
}

}  // namespace

Result<uint64_t> ParseVolumeSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) +
                                   "' is not a volume size: write e.g. 4G, 700M or 650MiB");
  };
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end == text.data()) return bad();
  std::string unit(end, text.data() + text.size());
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int shift = 0;
  if (!unit.empty()) {
    const std::string letters = "KMGT";
    const size_t at = letters.find(unit[0]);
    if (at == std::string::npos) {
      if (unit != "B") return bad();
    } else {
      shift = 10 * static_cast<int>(at + 1);
      const std::string rest = unit.substr(1);
      if (!rest.empty() && rest != "B" && rest != "IB") return bad();
    }
  }
  if (shift && n > (std::numeric_limits<uint64_t>::max() >> shift)) return bad();
  const uint64_t bytes = n << shift;
  if (bytes < kMinVolumeSize)
    return Status::InvalidArgument("a volume size of " + std::string(text) +
                                   " is too small: at least " + HumanBytes(kMinVolumeSize));
  return bytes;
}

std::string VolumeManifestText(const VolumeManifest& v) {
  ordered_json files = ordered_json::object();
  for (const auto& [name, sha] : v.files) files[name] = HexEncode(sha);
  uint64_t bytes = 0;
  for (const VolumeMessage& m : v.messages) bytes += m.size;
  const std::pair<const char*, ordered_json> head[] = {
      {"format", kVolumeFormat},
      {"version", v.version},
      {"tool", v.tool},
      {"set", v.set},
      {"created_at", v.created_at},
      {"range",
       {{"after", v.after ? ordered_json(*v.after) : ordered_json(nullptr)},
        {"before", v.before},
        {"after_utc", Utc(v.after)},
        {"before_utc", Utc(v.before)}}},
      {"volume", {{"number", v.number}, {"count", v.count}}},
      {"signing_key",
       {{"algorithm", "Ed25519"},
        {"fingerprint", v.fingerprint},
        {"public_key", v.public_key_pem}}},
      {"files", files},
      {"message_count", v.messages.size()},
      {"message_bytes", bytes},
  };
  // One line per field and per message: readable, and greppable for one message.
  std::string out = "{\n";
  for (const auto& [key, value] : head)
    out += "\"" + std::string(key) + "\":" + Text(value) + ",\n";
  out += "\"messages\":[";
  for (size_t i = 0; i < v.messages.size(); ++i)
    out += (i ? ",\n" : "\n") + Text(MessageJson(v.messages[i]));
  out += "\n]}\n";
  return out;
}

Result<VolumeManifest> ParseVolumeManifest(ByteView text) {
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  const std::string what = std::string(kManifestName) + " ";
  if (j.is_discarded() || !j.is_object())
    return Status::Corruption(what + "is not JSON (damaged, or not a tessera volume)");
  VolumeManifest v;
  try {
    if (!j.contains("format") || j["format"] != kVolumeFormat)
      return Status::Corruption(what + "is not a tessera volume manifest");
    v.version = RequiredInt<int>(j, "version");
    if (v.version != kVolumeFormatVersion)
      return Status::Corruption(what + "has format version " + std::to_string(v.version) +
                                "; this tessera reads version " +
                                std::to_string(kVolumeFormatVersion));
    v.tool = StringField(j, "tool");
    v.set = StringField(j, "set");
    v.created_at = StringField(j, "created_at");
    const nlohmann::json& range = Field(j, "range");
    const nlohmann::json& after = Field(range, "after");
    if (!after.is_null()) v.after = JsonInt<int64_t>(after, "after");
    v.before = RequiredInt<int64_t>(range, "before");
    const nlohmann::json& volume = Field(j, "volume");
    v.number = RequiredInt<int>(volume, "number");
    v.count = RequiredInt<int>(volume, "count");
    if (v.number < 1 || v.count < v.number)
      throw std::invalid_argument("volume " + std::to_string(v.number) + " of " +
                                  std::to_string(v.count) + " is not possible");
    const nlohmann::json& key = Field(j, "signing_key");
    if (StringField(key, "algorithm") != "Ed25519")
      throw std::invalid_argument("the signing key is not Ed25519");
    v.fingerprint = StringField(key, "fingerprint");
    v.public_key_pem = StringField(key, "public_key");
    const nlohmann::json& files = Field(j, "files");
    if (!files.is_object()) throw std::invalid_argument("\"files\" is not an object");
    for (const char* name : {kReadmeName, kVolumePublicKeyFile, kSumsName})
      v.files[name] = Sha256Field(Field(files, name), std::string("\"files\".\"") + name + "\"");
    if (files.size() != v.files.size())
      throw std::invalid_argument("\"files\" names files this format does not have");
    const nlohmann::json& messages = Field(j, "messages");
    if (!messages.is_array()) throw std::invalid_argument("\"messages\" is not an array");
    std::set<Bytes> shas;
    for (size_t i = 0; i < messages.size(); ++i) {
      v.messages.push_back(ParseMessageEntry(messages[i], i));
      if (!shas.insert(v.messages.back().sha256).second)
        throw std::invalid_argument("message " + v.messages.back().path + " is listed twice");
    }
  } catch (const std::invalid_argument& e) {
    return Status::Corruption(what + "is not a valid manifest: " + e.what());
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(what + "is not a valid manifest: " + e.what());
  }
  // What the manifest says twice must agree, so that a check by hand (README.txt) and
  // tessera's come to the same answer.
  if (crypto::Sha256(AsBytes(v.public_key_pem)) != v.files[kVolumePublicKeyFile])
    return Status::Corruption(what + "names a public key other than " + kVolumePublicKeyFile);
  if (crypto::Sha256(AsBytes(SumsText(v.files, v.messages))) != v.files[kSumsName])
    return Status::Corruption(what + "names a " + kSumsName + " that does not list its files");
  return v;
}

Result<VolumePlan> PlanVolumes(MessageStore& store, const VolumeExportOptions& options) {
  if (options.after && *options.after >= options.before)
    return Status::InvalidArgument("the range is empty: --after must come before --before");
  if (options.volume_size < kMinVolumeSize)
    return Status::InvalidArgument("the volume size is below " + HumanBytes(kMinVolumeSize));
  // Messages without a Date header count by when the archive first stored them.
  TESSERA_ASSIGN_OR_RETURN(
      Statement q,
      store.database().Prepare(
          "SELECT id, sha256, size, message_id, subject, from_addr, date, first_seen "
          "FROM messages WHERE coalesce(date, first_seen) >= ? AND coalesce(date, first_seen) < ? "
          "ORDER BY coalesce(date, first_seen), id"));
  q.Bind(1, options.after.value_or(std::numeric_limits<int64_t>::min())).Bind(2, options.before);
  std::vector<VolumeMessage> messages;
  while (true) {
    TESSERA_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    VolumeMessage m;
    m.id = q.Int(0);
    m.sha256 = q.Blob(1);
    m.path = MessagePath(m.sha256);
    m.size = static_cast<uint64_t>(q.Int(2));
    m.message_id = q.Text(3);
    m.subject = q.Text(4);
    m.from = q.Text(5);
    if (!q.IsNull(6)) m.date = q.Int(6);
    m.first_seen = q.Int(7);
    messages.push_back(std::move(m));
  }
  VolumePlan plan;
  // The parts of a volume other than its messages. The manifest and SHA256SUMS also grow
  // by a line per message, counted with each message; the padding of those two members to
  // whole blocks is a block each at most.
  const uint64_t fixed =
      TarMemberSize(kManifestHeadBound) + kTarBlock + TarMemberSize(crypto::kEd25519SignatureSize) +
      TarMemberSize(sizeof kReadme) + TarMemberSize(kPublicKeyBound) +
      TarMemberSize(2 * (64 + 2 + 32 + 1)) + kTarBlock + 2 * kTarBlock;  // the end of the tar
  uint64_t used = fixed;
  for (VolumeMessage& m : messages) {
    TESSERA_ASSIGN_OR_RETURN(std::vector<StoredDelivery> deliveries, store.Deliveries(m.id));
    for (StoredDelivery& d : deliveries) m.deliveries.push_back(std::move(d.delivery));
    // Its member, its line in the manifest, and its line in SHA256SUMS.
    const uint64_t cost =
        TarMemberSize(m.size) + Text(MessageJson(m)).size() + 2 + 64 + 2 + m.path.size() + 1;
    if (plan.volumes.empty() || used + cost > options.volume_size) {
      plan.volumes.emplace_back();
      used = fixed;
    }
    used += cost;
    if (used > options.volume_size)
      plan.notes.push_back("volume " + std::to_string(plan.volumes.size()) +
                           " exceeds the volume size: message " + m.path + " alone is " +
                           HumanBytes(m.size));
    plan.messages++;
    plan.bytes += m.size;
    plan.volumes.back().push_back(std::move(m));
  }
  return plan;
}

Result<VolumeExportReport> WriteVolumes(MessageStore& store, const VolumePlan& plan,
                                        const VolumeExportOptions& options,
                                        const crypto::SigningKey& key, const fs::path& dir,
                                        Progress* progress) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  TESSERA_ASSIGN_OR_RETURN(std::vector<fs::path> existing, VolumeFiles(dir));
  if (!existing.empty())
    return Status::AlreadyExists(dir.string() + " already holds volumes (" +
                                 existing.front().filename().string() +
                                 "): export into an empty directory");
  const crypto::PublicKey public_key = key.public_key();
  VolumeExportReport report;
  report.set = HexEncode(crypto::RandomBytes(16));
  report.fingerprint = public_key.Fingerprint();
  const std::string pem = public_key.Pem();
  const std::string created_at = FormatRfc3339(NowUnixNanos());
  const int64_t created = NowUnixSeconds();
  if (progress) progress->SetTotal(plan.messages, plan.bytes);

  std::vector<fs::path> written;
  auto undo = [&](Status st) {
    std::error_code ec;
    for (const fs::path& p : written) fs::remove(p, ec);
    return st;
  };
  Status st = WriteFileAtomic(dir / kVolumePublicKeyFile, std::string_view(pem), 0644);
  if (!st.ok()) return st;
  written.push_back(dir / kVolumePublicKeyFile);

  for (size_t i = 0; i < plan.volumes.size(); ++i) {
    const std::vector<VolumeMessage>& messages = plan.volumes[i];
    if (messages.empty()) continue;
    VolumeManifest v;
    v.tool = std::string("tessera ") + kTesseraVersion;
    v.set = report.set;
    v.created_at = created_at;
    v.after = options.after;
    v.before = options.before;
    v.number = static_cast<int>(i + 1);
    v.count = static_cast<int>(plan.volumes.size());
    v.public_key_pem = pem;
    v.fingerprint = report.fingerprint;
    v.files[kReadmeName] = crypto::Sha256(AsBytes(kReadme));
    v.files[kVolumePublicKeyFile] = crypto::Sha256(AsBytes(pem));
    v.messages = messages;
    const std::string sums = SumsText(v.files, v.messages);
    v.files[kSumsName] = crypto::Sha256(AsBytes(sums));
    const std::string manifest = VolumeManifestText(v);
    const Bytes signature = key.Sign(AsBytes(manifest));

    char number[16];
    std::snprintf(number, sizeof number, "%03d", v.number);
    const std::string name = std::string(kFilePrefix) + LocalDate(EffectiveDate(messages.front())) +
                             "-" + LocalDate(EffectiveDate(messages.back())) + "-" + number +
                             kFileSuffix;
    const fs::path path = dir / name;
    auto file = PendingFile::Create(path, 0600);
    if (!file.ok()) return undo(file.status());
    {
      TarWriter tar;
      st = tar.Open(file->fd(), path);
      if (st.ok()) st = tar.Add(kManifestName, AsBytes(manifest), 0644, created);
      if (st.ok()) st = tar.Add(kSignatureName, signature, 0644, created);
      if (st.ok()) st = tar.Add(kReadmeName, AsBytes(kReadme), 0644, created);
      if (st.ok()) st = tar.Add(kVolumePublicKeyFile, AsBytes(pem), 0644, created);
      if (st.ok()) st = tar.Add(kSumsName, AsBytes(sums), 0644, created);
      for (const VolumeMessage& m : messages) {
        if (!st.ok()) break;
        // Read a piece at a time and checked against its SHA-256 after the last: a
        // message that fails leaves no volume (the temporary file is removed).
        st = tar.Begin(m.path, m.size, 0600, EffectiveDate(m));
        if (st.ok()) st = store.ReadRaw(m.id, [&](ByteView piece) { return tar.Write(piece); });
        if (progress) {
          progress->Add(1, m.size);
          progress->Tick(name);
        }
      }
      if (st.ok()) st = tar.Close();
    }
    if (st.ok()) st = file->Commit();
    if (!st.ok()) return undo(st);
    written.push_back(path);
    std::error_code ec;
    report.files.push_back(
        {path, v.number, messages.size(), static_cast<uint64_t>(fs::file_size(path, ec))});
    report.messages += messages.size();
    for (const VolumeMessage& m : messages) report.bytes += m.size;
  }
  st = SyncDirectory(dir);
  if (!st.ok()) return undo(st);
  return report;
}

bool VolumeSetReport::ok() const {
  if (!problems.empty()) return false;
  for (const VolumeCheck& v : volumes)
    if (!v.problems.empty()) return false;
  return true;
}

uint64_t VolumeSetReport::messages() const {
  uint64_t n = 0;
  for (const VolumeCheck& v : volumes) n += v.messages;
  return n;
}

Result<VolumeSetReport> VerifyVolumes(const fs::path& dir, const crypto::PublicKey* trusted,
                                      Progress* progress) {
  TESSERA_ASSIGN_OR_RETURN(std::vector<fs::path> files, VolumeFiles(dir));
  if (files.empty())
    return Status::NotFound(dir.string() + " holds no volume files (" + kFilePrefix + "*" +
                            kFileSuffix + ")");
  VolumeSetReport report;
  report.key_trusted = trusted != nullptr;
  if (trusted) report.fingerprint = trusted->Fingerprint();
  if (progress) {
    uint64_t total = 0;
    std::error_code ec;
    for (const fs::path& f : files) total += fs::file_size(f, ec);
    progress->SetTotal(files.size(), total);
  }
  for (const fs::path& f : files) {
    report.volumes.push_back(CheckVolume(f, trusted, progress));
    if (progress) progress->Add(1, 0);
  }

  // The set: one export, one key, every volume of it once.
  std::map<std::string, std::map<int, std::vector<std::string>>> sets;  // set -> number -> files
  std::map<std::string, int> counts;
  std::set<std::string> fingerprints;
  for (const VolumeCheck& v : report.volumes) {
    if (v.number == 0) continue;
    sets[v.set][v.number].push_back(v.path.filename().string());
    if (counts.count(v.set) && counts[v.set] != v.count)
      report.problems.push_back("the volumes of export " + v.set +
                                " disagree on how many there are");
    counts[v.set] = std::max(counts[v.set], v.count);
    if (!v.fingerprint.empty()) fingerprints.insert(v.fingerprint);
  }
  if (sets.size() > 1)
    report.problems.push_back(dir.string() + " holds the volumes of " +
                              std::to_string(sets.size()) +
                              " different exports: keep each export in a directory of its own");
  if (!trusted) {
    if (fingerprints.size() > 1)
      report.problems.push_back("the volumes are signed by " + std::to_string(fingerprints.size()) +
                                " different keys");
    if (fingerprints.size() == 1) report.fingerprint = *fingerprints.begin();
  }
  for (const auto& [set, numbers] : sets) {
    for (int n = 1; n <= counts[set]; ++n) {
      auto it = numbers.find(n);
      if (it == numbers.end())
        report.problems.push_back("volume " + std::to_string(n) + " of " +
                                  std::to_string(counts[set]) + " (export " + set + ") is missing");
      else if (it->second.size() > 1)
        report.problems.push_back("volume " + std::to_string(n) + " of export " + set +
                                  " is there more than once: " + it->second[0] + ", " +
                                  it->second[1]);
    }
  }
  return report;
}

Result<VolumeImportReport> ImportVolumes(MessageStore& store, const fs::path& dir,
                                         const crypto::PublicKey* trusted, Progress* verifying,
                                         Progress* importing) {
  VolumeImportReport report;
  TESSERA_ASSIGN_OR_RETURN(report.verification, VerifyVolumes(dir, trusted, verifying));
  if (verifying) verifying->Finish();
  uint64_t total_messages = 0, total_bytes = 0;
  for (const VolumeCheck& v : report.verification.volumes) {
    if (!v.problems.empty() || !v.manifest) {
      report.volumes_refused++;
      continue;
    }
    total_messages += v.messages;
    total_bytes += v.bytes;
  }
  if (importing) importing->SetTotal(total_messages, total_bytes);

  constexpr uint64_t kGroupMessages = 500, kGroupBytes = uint64_t{32} << 20;
  uint64_t group_messages = 0, group_bytes = 0;
  TESSERA_RETURN_IF_ERROR(store.BeginBatch());
  // On a failure the open group is rolled back with the store; the groups committed before
  // stay, and the import run again recognises them as duplicates.
  for (const VolumeCheck& v : report.verification.volumes) {
    if (!v.problems.empty() || !v.manifest) continue;
    const std::string file = v.path.filename().string();
    std::map<std::string, const VolumeMessage*> listed;
    for (const VolumeMessage& m : v.manifest->messages) listed[m.path] = &m;
    TarReader reader(v.path);
    if (Status st = reader.Open(); !st.ok())
      return Status::Corruption(file + " changed since it was verified: " + st.message());
    uint64_t found = 0;
    while (true) {
      TarReader::Member member;
      auto more = reader.Next(member);
      if (!more.ok())
        return Status::Corruption(file +
                                  " changed since it was verified: " + more.status().message());
      if (!*more) break;
      auto it = listed.find(member.name);
      if (it == listed.end() || !member.regular) continue;
      const VolumeMessage& m = *it->second;
      auto raw = reader.ReadAll(m.size, m.path);
      if (!raw.ok() || crypto::Sha256(*raw) != m.sha256)
        return Status::Corruption(file + " changed since it was verified: " + m.path +
                                  " no longer matches its SHA-256");
      TESSERA_ASSIGN_OR_RETURN(std::string destroyed, WhyNotArchivedAgain(store, *raw));
      if (!destroyed.empty()) {
        report.destroyed++;
        report.messages++;
        found++;
        continue;
      }
      auto parsed = ParseMessage(*raw);
      ParsedMessage p;
      if (parsed.ok()) {
        p = std::move(*parsed);
      } else {
        p.message_id = m.message_id;
        p.subject = m.subject;
        p.date = m.date;
      }
      std::vector<Delivery> deliveries = m.deliveries;
      if (deliveries.empty()) {
        // The store records a message through a delivery; the volume is where it came from.
        Delivery d;
        d.source = "volume";
        d.origin = file;
        d.received_at = m.first_seen;
        deliveries.push_back(std::move(d));
      }
      bool is_new = false;
      for (const Delivery& d : deliveries) {
        TESSERA_ASSIGN_OR_RETURN(AddOutcome outcome, store.Add(*raw, p, d));
        is_new = is_new || outcome.new_message;
        if (outcome.new_delivery) report.deliveries++;
      }
      (is_new ? report.imported : report.duplicates)++;
      report.messages++;
      report.bytes += raw->size();
      found++;
      if (importing) {
        importing->Add(1, raw->size());
        importing->Tick(file);
      }
      group_messages++;
      group_bytes += raw->size();
      if (group_messages >= kGroupMessages || group_bytes >= kGroupBytes) {
        TESSERA_RETURN_IF_ERROR(store.CommitBatch());
        TESSERA_RETURN_IF_ERROR(store.BeginBatch());
        group_messages = group_bytes = 0;
      }
    }
    if (found != listed.size())
      return Status::Corruption(file + " changed since it was verified: messages are missing");
    report.volumes_imported++;
  }
  TESSERA_RETURN_IF_ERROR(store.CommitBatch());
  return report;
}

}  // namespace tessera::archive
