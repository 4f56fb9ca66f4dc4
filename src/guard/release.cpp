#include "guard/release.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "guard/signed_text.hpp"

namespace tessera::guard {
namespace fs = std::filesystem;
namespace {

nlohmann::json ManifestObject(const ReleaseManifest& m) {
  nlohmann::json files = nlohmann::json::array();
  for (const ReleaseFile& f : m.files)
    files.push_back({{"path", f.path},
                     {"sha256", f.sha256},
                     {"size", f.size},
                     {"mode", f.mode},
                     {"symlink", f.symlink}});
  return {
      {"format", "tessera-release"}, {"version", m.version}, {"date", m.date}, {"files", files}};
}

// One file as the manifest describes it, read from the disk now.
Result<ReleaseFile> Describe(const fs::path& dir, const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return Status::FromErrno("cannot read " + path.string(), errno);
  ReleaseFile f;
  f.path = path.lexically_relative(dir).generic_string();
  f.mode = st.st_mode & 07777;
  if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    const std::string target = fs::read_symlink(path, ec).string();
    if (ec) return Status::IOError("cannot read the link " + path.string() + ": " + ec.message());
    f.symlink = true;
    f.size = target.size();
    f.sha256 = HexEncode(crypto::Sha256(AsBytes(target)));
    return f;
  }
  if (!S_ISREG(st.st_mode))
    return Status::InvalidArgument(
        path.string() + " is neither a file nor a symbolic link: a release holds only those");
  TESSERA_ASSIGN_OR_RETURN(crypto::FileDigest d, crypto::Sha256File(path));
  f.sha256 = HexEncode(d.sha256);
  f.size = d.size;
  return f;
}

// Every file and link below `dir`, sorted by path (directories are walked, not listed).
Result<std::vector<ReleaseFile>> DescribeAll(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(dir.string() + " is not a directory");
  std::vector<ReleaseFile> out;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return Status::IOError("cannot list " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Status::IOError("cannot list " + dir.string() + ": " + ec.message());
    if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
    TESSERA_ASSIGN_OR_RETURN(ReleaseFile f, Describe(dir, it->path()));
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(),
            [](const ReleaseFile& a, const ReleaseFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

std::string ReleaseManifest::CanonicalJson() const {
  return ManifestObject(*this).dump();
}

std::string ReleaseManifest::Sha256() const {
  return HexEncode(crypto::Sha256(AsBytes(CanonicalJson())));
}

std::string SignedRelease::ToJson() const {
  return nlohmann::json{
      {"manifest", ManifestObject(manifest)}, {"key", key}, {"signature", signature}}
      .dump(2);
}

Result<SignedRelease> SignedRelease::FromJson(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    const nlohmann::json& m = j.at("manifest");
    if (m.at("format").get<std::string>() != "tessera-release")
      return Status::Corruption("not a tessera release (format is not tessera-release)");
    SignedRelease r;
    r.key = j.at("key").get<std::string>();
    r.signature = j.at("signature").get<std::string>();
    r.manifest.version = m.at("version").get<std::string>();
    r.manifest.date = m.at("date").get<int64_t>();
    for (const nlohmann::json& f : m.at("files"))
      r.manifest.files.push_back({f.at("path").get<std::string>(),
                                  f.at("sha256").get<std::string>(), f.at("size").get<uint64_t>(),
                                  f.at("mode").get<uint32_t>(), f.at("symlink").get<bool>()});
    for (const ReleaseFile& f : r.manifest.files)
      if (f.path.empty() || f.path[0] == '/' || f.path.find("..") != std::string::npos)
        return Status::Corruption("a release lists the path '" + f.path +
                                  "', which is not inside the release");
    return r;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("not a tessera release: ") + e.what());
  }
}

Result<SignedRelease> SignedRelease::Load(const fs::path& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  auto release = FromJson(text);
  if (!release.ok())
    return Status::InvalidArgument(path.string() + ": " + release.status().message());
  return release;
}

Result<ReleaseManifest> ScanRelease(const fs::path& dir, std::string version, int64_t date) {
  if (version.empty()) return Status::InvalidArgument("a release needs a version");
  TESSERA_ASSIGN_OR_RETURN(std::vector<ReleaseFile> files, DescribeAll(dir));
  if (files.empty()) return Status::InvalidArgument(dir.string() + " holds no files");
  return ReleaseManifest{std::move(version), date, std::move(files)};
}

SignedRelease SignRelease(ReleaseManifest manifest, const crypto::SigningKey& key) {
  SignedRelease r;
  TextSignature s = SignText(manifest.CanonicalJson(), key);
  r.key = std::move(s.key);
  r.signature = std::move(s.signature);
  r.manifest = std::move(manifest);
  return r;
}

Status VerifyReleaseSignature(const SignedRelease& release, const crypto::PublicKey& trusted) {
  return VerifyTextSignature(release.manifest.CanonicalJson(), {release.key, release.signature},
                             trusted, "the release");
}

Result<ReleaseCheck> VerifyRelease(const SignedRelease& release, const crypto::PublicKey& trusted,
                                   const fs::path& dir) {
  ReleaseCheck check;
  if (Status signed_by = VerifyReleaseSignature(release, trusted); !signed_by.ok())
    check.problems.push_back(signed_by.message());
  TESSERA_ASSIGN_OR_RETURN(std::vector<ReleaseFile> present, DescribeAll(dir));
  std::map<std::string, const ReleaseFile*> on_disk;
  for (const ReleaseFile& f : present) on_disk[f.path] = &f;
  for (const ReleaseFile& want : release.manifest.files) {
    check.files++;
    auto it = on_disk.find(want.path);
    if (it == on_disk.end()) {
      check.problems.push_back(want.path + " is missing");
      continue;
    }
    const ReleaseFile& got = *it->second;
    if (got.sha256 != want.sha256 || got.size != want.size || got.symlink != want.symlink)
      check.problems.push_back(want.path + " differs from the release (SHA-256 " +
                               got.sha256.substr(0, 16) + ", the release says " +
                               want.sha256.substr(0, 16) + ")");
    else if (got.mode != want.mode)
      check.problems.push_back(want.path + " has mode " + FormatMode(got.mode) +
                               ", the release says " + FormatMode(want.mode));
    on_disk.erase(it);
  }
  for (const auto& [path, f] : on_disk)
    check.problems.push_back(path + " is not part of the release (added)");
  return check;
}

fs::path RunningProgram() {
  std::error_code ec;
  return fs::read_symlink("/proc/self/exe", ec);
}

InstalledReleaseCheck CheckInstalledRelease(const InstalledRelease& installed,
                                            const fs::path& program,
                                            const std::optional<std::vector<std::string>>& listed) {
  InstalledReleaseCheck check;
  Result<SignedRelease> release = SignedRelease::Load(installed.release);
  if (!release.ok()) {
    check.problems.push_back(release.status().message());
    return check;
  }
  check.version = release->manifest.version;
  check.manifest_sha256 = release->manifest.Sha256();
  Result<crypto::PublicKey> key = crypto::PublicKey::Load(installed.key);
  if (!key.ok()) {
    check.problems.push_back("the publisher's key: " + key.status().message());
    return check;
  }
  Result<ReleaseCheck> files = VerifyRelease(*release, *key, installed.directory);
  if (!files.ok()) {
    check.problems.push_back("release directory " + installed.directory.string() + ": " +
                             files.status().message());
  } else {
    check.files = files->files;
    for (std::string& p : files->problems)
      check.problems.push_back(installed.directory.string() + ": " + std::move(p));
  }
  // The program running must be the release's, not a copy from elsewhere.
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(installed.directory, ec);
  const fs::path relative = program.lexically_relative(dir);
  const std::string name = relative.generic_string();
  const bool inside = !ec && !relative.empty() && name.rfind("..", 0) != 0;
  const auto& m = release->manifest.files;
  if (!inside)
    check.problems.push_back("the running program " + program.string() +
                             " is not in the release directory " + installed.directory.string());
  else if (std::none_of(m.begin(), m.end(), [&](const ReleaseFile& f) { return f.path == name; }))
    check.problems.push_back("the running program " + program.string() +
                             " is not a file of release " + check.version);
  if (listed && std::find(listed->begin(), listed->end(), check.manifest_sha256) == listed->end())
    check.problems.push_back("release " + check.version + " (manifest SHA-256 " +
                             check.manifest_sha256.substr(0, 16) +
                             "...) is not listed in the exchange registry");
  return check;
}

}  // namespace tessera::guard
