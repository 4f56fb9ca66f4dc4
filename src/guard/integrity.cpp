#include "guard/integrity.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/hash.hpp"

namespace tessera::guard {
namespace fs = std::filesystem;
namespace {

constexpr char kFormat[] = "tessera-integrity-baseline";

nlohmann::json BaselineObject(const Baseline& b) {
  nlohmann::json entries = nlohmann::json::array();
  for (const IntegrityEntry& e : b.entries)
    entries.push_back({{"path", e.path},
                       {"type", std::string(1, e.type)},
                       {"sha256", e.sha256},
                       {"size", e.size},
                       {"mode", e.mode},
                       {"uid", e.uid},
                       {"gid", e.gid}});
  return {{"format", kFormat},
          {"created_at", b.created_at},
          {"roots", b.roots},
          {"excluded", b.excluded},
          {"entries", entries}};
}

bool IsExcluded(const fs::path& p, const std::vector<fs::path>& excluded) {
  for (const fs::path& x : excluded) {
    auto [end, rest] = std::mismatch(x.begin(), x.end(), p.begin(), p.end());
    if (end == x.end()) return true;  // p is x or below it
  }
  return false;
}

Result<IntegrityEntry> Describe(const fs::path& path, Progress* progress) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return Status::FromErrno("cannot read " + path.string(), errno);
  IntegrityEntry e;
  e.path = path.string();
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  if (S_ISDIR(st.st_mode)) {
    e.type = 'd';
  } else if (S_ISLNK(st.st_mode)) {
    e.type = 'l';
    std::error_code ec;
    const std::string target = fs::read_symlink(path, ec).string();
    if (ec) return Status::IOError("cannot read the link " + path.string() + ": " + ec.message());
    e.size = target.size();
    e.sha256 = HexEncode(crypto::Sha256(AsBytes(target)));
  } else if (S_ISREG(st.st_mode)) {
    e.type = 'f';
    TESSERA_ASSIGN_OR_RETURN(crypto::FileDigest d, crypto::Sha256File(path));
    e.sha256 = HexEncode(d.sha256);
    e.size = d.size;
    if (progress) {
      progress->Add(1, d.size);
      progress->Tick();
    }
  } else {
    // Sockets, pipes and devices have no content to compare; their presence and
    // attributes still count.
    e.type = 'o';
  }
  return e;
}

}  // namespace

fs::path IntegrityBaselinePath(const fs::path& home) {
  return home / "guard" / "integrity-baseline.json";
}
fs::path IntegrityKeyPath(const fs::path& home) {
  return home / "guard" / "integrity.key";
}
fs::path IntegrityPublicKeyPath(const fs::path& home) {
  return home / "guard" / "integrity.pub.pem";
}

std::string Baseline::CanonicalJson() const {
  return BaselineObject(*this).dump();
}

std::string SignedBaseline::ToJson() const {
  return nlohmann::json{{"baseline", BaselineObject(baseline)},
                        {"key", signature.key},
                        {"signature", signature.signature}}
      .dump(1);
}

Result<SignedBaseline> SignedBaseline::FromJson(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    const nlohmann::json& b = j.at("baseline");
    if (b.at("format").get<std::string>() != kFormat)
      return Status::Corruption(std::string("not an integrity baseline (format is not ") + kFormat +
                                ")");
    SignedBaseline s;
    s.signature.key = j.at("key").get<std::string>();
    s.signature.signature = j.at("signature").get<std::string>();
    s.baseline.created_at = b.at("created_at").get<int64_t>();
    s.baseline.roots = b.at("roots").get<std::vector<std::string>>();
    s.baseline.excluded = b.at("excluded").get<std::vector<std::string>>();
    for (const nlohmann::json& e : b.at("entries")) {
      const std::string type = e.at("type").get<std::string>();
      if (type.size() != 1 || std::string_view("fdlo").find(type[0]) == std::string_view::npos)
        return Status::Corruption("an entry has the unknown type '" + type + "'");
      s.baseline.entries.push_back({e.at("path").get<std::string>(), type[0],
                                    e.at("sha256").get<std::string>(), e.at("size").get<uint64_t>(),
                                    e.at("mode").get<uint32_t>(), e.at("uid").get<uint32_t>(),
                                    e.at("gid").get<uint32_t>()});
    }
    return s;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("not an integrity baseline: ") + e.what());
  }
}

Result<SignedBaseline> SignedBaseline::Load(const fs::path& path) {
  Result<std::string> read = ReadTextFile(path);
  if (!read.ok() && read.status().code() == StatusCode::kNotFound)
    return Status::NotFound("no integrity baseline at " + path.string() +
                            ": record one with `tessera guard baseline PATH...` first");
  TESSERA_ASSIGN_OR_RETURN(std::string text, std::move(read));
  auto b = FromJson(text);
  if (!b.ok()) return Status::InvalidArgument(path.string() + ": " + b.status().message());
  return b;
}

Result<Baseline> ScanIntegrity(const std::vector<fs::path>& roots,
                               const std::vector<fs::path>& excluded, int64_t now,
                               Progress* progress) {
  if (roots.empty()) return Status::InvalidArgument("name at least one path to watch");
  Baseline b;
  b.created_at = now;
  std::vector<fs::path> skip;
  for (const fs::path& x : excluded) {
    skip.push_back(fs::absolute(x).lexically_normal());
    b.excluded.push_back(skip.back().string());
  }
  std::map<std::string, IntegrityEntry> entries;  // sorted, and a root given twice counts once
  for (const fs::path& given : roots) {
    const fs::path root = fs::absolute(given).lexically_normal();
    b.roots.push_back(root.string());
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(root, ec)))
      return Status::NotFound(root.string() + " does not exist");
    if (IsExcluded(root, skip)) continue;
    TESSERA_ASSIGN_OR_RETURN(IntegrityEntry top, Describe(root, progress));
    entries[top.path] = std::move(top);
    if (!fs::is_directory(fs::symlink_status(root, ec))) continue;
    fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
    if (ec) return Status::IOError("cannot list " + root.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) return Status::IOError("cannot list below " + root.string() + ": " + ec.message());
      const fs::path p = it->path().lexically_normal();
      if (IsExcluded(p, skip)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) it.disable_recursion_pending();
        continue;
      }
      TESSERA_ASSIGN_OR_RETURN(IntegrityEntry e, Describe(p, progress));
      entries[e.path] = std::move(e);
    }
  }
  for (auto& [path, e] : entries) b.entries.push_back(std::move(e));
  return b;
}

SignedBaseline SignBaseline(Baseline baseline, const crypto::SigningKey& key) {
  SignedBaseline s;
  s.signature = SignText(baseline.CanonicalJson(), key);
  s.baseline = std::move(baseline);
  return s;
}

Status VerifyBaselineSignature(const SignedBaseline& b, const crypto::PublicKey& trusted) {
  return VerifyTextSignature(b.baseline.CanonicalJson(), b.signature, trusted,
                             "the integrity baseline");
}

std::string IntegrityChange::ToString() const {
  switch (kind) {
    case Kind::kAdded:
      return "added " + path;
    case Kind::kRemoved:
      return "removed " + path;
    case Kind::kChanged:
      break;
  }
  return "changed " + path + ": " + detail;
}

std::vector<IntegrityChange> CompareIntegrity(const Baseline& recorded, const Baseline& now) {
  std::map<std::string_view, const IntegrityEntry*> before;
  for (const IntegrityEntry& e : recorded.entries) before[e.path] = &e;
  std::vector<IntegrityChange> changes;
  for (const IntegrityEntry& e : now.entries) {
    auto it = before.find(e.path);
    if (it == before.end()) {
      changes.push_back({IntegrityChange::Kind::kAdded, e.path, ""});
      continue;
    }
    const IntegrityEntry& was = *it->second;
    before.erase(it);
    std::vector<std::string> what;
    if (was.type != e.type)
      what.push_back(std::string("type ") + was.type + " -> " + e.type);
    else if (was.sha256 != e.sha256 || was.size != e.size)
      what.push_back((e.type == 'l' ? "link target" : "content") + std::string(" (SHA-256 ") +
                     was.sha256.substr(0, 12) + " -> " + e.sha256.substr(0, 12) + ", size " +
                     std::to_string(was.size) + " -> " + std::to_string(e.size) + ")");
    if (was.mode != e.mode)
      what.push_back("mode " + FormatMode(was.mode) + " -> " + FormatMode(e.mode));
    if (was.uid != e.uid || was.gid != e.gid)
      what.push_back("owner " + std::to_string(was.uid) + ":" + std::to_string(was.gid) + " -> " +
                     std::to_string(e.uid) + ":" + std::to_string(e.gid));
    if (what.empty()) continue;
    std::string detail;
    for (const std::string& w : what) detail += (detail.empty() ? "" : ", ") + w;
    changes.push_back({IntegrityChange::Kind::kChanged, e.path, detail});
  }
  for (const auto& [path, e] : before)
    changes.push_back({IntegrityChange::Kind::kRemoved, std::string(path), ""});
  std::sort(changes.begin(), changes.end(),
            [](const IntegrityChange& a, const IntegrityChange& b) { return a.path < b.path; });
  return changes;
}

std::string IntegrityReport::Outcome() const {
  if (problems.empty()) return "clean: " + std::to_string(entries) + " entries as recorded";
  std::string outcome = std::to_string(problems.size()) + " finding(s):";
  for (const std::string& p : problems) outcome += " " + p + ";";
  outcome.pop_back();
  return outcome;
}

Result<IntegrityReport> CheckIntegrity(const fs::path& baseline_file, const fs::path& key_file,
                                       Progress* progress) {
  TESSERA_ASSIGN_OR_RETURN(SignedBaseline loaded, SignedBaseline::Load(baseline_file));
  TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::Load(key_file));
  IntegrityReport report;
  if (Status st = VerifyBaselineSignature(loaded, key); !st.ok())
    report.problems.push_back(st.message());
  const Baseline& recorded = loaded.baseline;
  report.entries = recorded.entries.size();
  std::vector<fs::path> roots(recorded.roots.begin(), recorded.roots.end());
  std::vector<fs::path> excluded(recorded.excluded.begin(), recorded.excluded.end());
  Progress quiet("", false);
  Progress* counter = progress ? progress : &quiet;
  const uint64_t files_before = counter->items(), bytes_before = counter->bytes();
  const double start = MonotonicSeconds();
  auto now = ScanIntegrity(roots, excluded, NowUnixSeconds(), counter);
  report.seconds = MonotonicSeconds() - start;
  report.files = counter->items() - files_before;
  report.bytes = counter->bytes() - bytes_before;
  if (now.ok())
    report.changes = CompareIntegrity(recorded, *now);
  else
    report.problems.push_back("cannot scan: " + now.status().message());
  for (const IntegrityChange& c : report.changes) report.problems.push_back(c.ToString());
  return report;
}

}  // namespace tessera::guard
