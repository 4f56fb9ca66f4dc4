#include "exchange/bundle.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/files.hpp"
#include "base/json_fields.hpp"
#include "crypto/hash.hpp"
#include "exchange/document.hpp"

namespace tessera::exchange {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kMagic = "TSXB1\n";
constexpr size_t kLengthDigits = 8;
constexpr size_t kMaxManifest = 1 << 20;
constexpr size_t kBlock = 256 * 1024;

struct FileEntry {
  std::string name;
  uint64_t size = 0;
  std::string sha256;
};

Result<FileEntry> HashFile(const fs::path& path) {
  TESSERA_ASSIGN_OR_RETURN(crypto::FileDigest d, crypto::Sha256File(path));
  return FileEntry{path.filename().string(), d.size, HexEncode(d.sha256)};
}

}  // namespace

Status WriteBundle(const BundleInput& input, const fs::path& out) {
  std::vector<fs::path> paths{input.document};
  if (!input.roster.empty()) paths.push_back(input.roster);
  paths.insert(paths.end(), input.attachments.begin(), input.attachments.end());
  std::vector<FileEntry> entries;
  std::set<std::string> names;
  for (const fs::path& p : paths) {
    TESSERA_ASSIGN_OR_RETURN(FileEntry e, HashFile(p));
    if (!IsPlainFileName(e.name))
      return Status::InvalidArgument("'" + e.name + "' cannot be sent as a file name");
    if (!names.insert(e.name).second)
      return Status::InvalidArgument("two files are named '" + e.name +
                                     "': rename one, since the recipient sees names only");
    entries.push_back(std::move(e));
  }
  nlohmann::json files = nlohmann::json::array();
  for (const FileEntry& e : entries)
    files.push_back({{"name", e.name}, {"size", e.size}, {"sha256", e.sha256}});
  nlohmann::json manifest = {{"version", 1},
                             {"document", entries[0].name},
                             {"roster", input.roster.empty() ? "" : entries[1].name},
                             {"files", files}};
  const std::string text = manifest.dump();
  char length[kLengthDigits + 2];
  std::snprintf(length, sizeof length, "%08zu\n", text.size());

  const fs::path tmp = out.string() + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o << kMagic << length << text;
    std::vector<char> buf(kBlock);
    for (const fs::path& p : paths) {
      std::ifstream in(p, std::ios::binary);
      while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        o.write(buf.data(), in.gcount());
      }
    }
    o.flush();
    if (!o) return Status::IOError("cannot write " + tmp.string());
  }
  TESSERA_RETURN_IF_ERROR(SyncFile(tmp));
  std::error_code ec;
  fs::rename(tmp, out, ec);
  if (ec) return Status::IOError("cannot rename " + tmp.string() + ": " + ec.message());
  return SyncDirectory(out.parent_path().empty() ? fs::path(".") : out.parent_path());
}

Result<BundleManifest> ExtractBundle(const fs::path& bundle, const fs::path& dir) {
  std::ifstream in(bundle, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + bundle.string());
  const std::string what = "the document bundle";
  std::string head(kMagic.size() + kLengthDigits + 1, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (!in || head.compare(0, kMagic.size(), kMagic) != 0 || head.back() != '\n')
    return Status::Corruption(what + " does not start as a version-1 bundle");
  size_t length = 0;
  for (size_t i = kMagic.size(); i < kMagic.size() + kLengthDigits; ++i) {
    if (head[i] < '0' || head[i] > '9') return Status::Corruption(what + ": bad manifest length");
    length = length * 10 + static_cast<size_t>(head[i] - '0');
  }
  if (length > kMaxManifest) return Status::Corruption(what + ": the manifest is too large");
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  if (!in) return Status::Corruption(what + " ends inside its manifest");

  BundleManifest manifest;
  std::vector<FileEntry> entries;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    manifest.version = JsonInt<int>(j.at("version"), "version");
    if (manifest.version != 1)
      return Status::Corruption(what + " has version " + std::to_string(manifest.version) +
                                "; this tessera reads version 1");
    manifest.document = j.at("document").get<std::string>();
    manifest.roster = j.at("roster").get<std::string>();
    for (const auto& f : j.at("files"))
      entries.push_back({f.at("name").get<std::string>(), JsonInt<uint64_t>(f.at("size"), "size"),
                         f.at("sha256").get<std::string>()});
  } catch (const std::exception& e) {
    return Status::Corruption(what + ": manifest: " + e.what());
  }
  std::set<std::string> names;
  for (const FileEntry& e : entries) {
    if (!IsPlainFileName(e.name) || !names.insert(e.name).second)
      return Status::Corruption(what + " names a file '" + e.name + "' that cannot be unpacked");
  }
  if (entries.empty() || entries[0].name != manifest.document ||
      (!manifest.roster.empty() && (entries.size() < 2 || entries[1].name != manifest.roster)))
    return Status::Corruption(what + ": the manifest's document and files disagree");
  for (size_t i = manifest.roster.empty() ? 1 : 2; i < entries.size(); ++i)
    manifest.attachments.push_back(entries[i].name);

  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::vector<char> buf(kBlock);
  for (const FileEntry& e : entries) {
    const fs::path path = dir / e.name;
    std::ofstream o(path, std::ios::binary | std::ios::trunc);
    crypto::Sha256Hasher hasher;
    uint64_t left = e.size;
    while (left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      in.read(buf.data(), static_cast<std::streamsize>(n));
      if (static_cast<size_t>(in.gcount()) != n)
        return Status::Corruption(what + " ends inside " + e.name);
      hasher.Update(ByteView(reinterpret_cast<const uint8_t*>(buf.data()), n));
      o.write(buf.data(), static_cast<std::streamsize>(n));
      left -= n;
    }
    o.flush();
    if (!o) return Status::IOError("cannot write " + path.string());
    o.close();
    if (HexEncode(hasher.Final()) != e.sha256)
      return Status::Corruption(what + ": " + e.name + " does not match its SHA-256");
    TESSERA_RETURN_IF_ERROR(SyncFile(path));
  }
  if (in.peek() != std::char_traits<char>::eof())
    return Status::Corruption(what + " has bytes after its last file");
  TESSERA_RETURN_IF_ERROR(SyncDirectory(dir));
  return manifest;
}

}  // namespace tessera::exchange
