#include "vault/model.hpp"
#include "base/json_fields.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "base/utf8.hpp"

namespace tessera::vault {

using nlohmann::json;

// Suffix of the member that holds text's exact bytes when they are not UTF-8.
constexpr std::string_view kBytesSuffix = "_bytes";

std::string ToHex(const BlobId& id) {
  return HexEncode(id);
}

Result<BlobId> BlobIdFromHex(std::string_view hex) {
  TESSERA_ASSIGN_OR_RETURN(Bytes b, HexDecode(hex));
  if (b.size() != 32) return Status::InvalidArgument("a blob id has 64 hex digits");
  return BlobIdFromBytes(b);
}

BlobId BlobIdFromBytes(ByteView b) {
  BlobId id{};
  std::copy_n(b.begin(), id.size(), id.begin());
  return id;
}

std::string NodeTypeName(NodeType t) {
  switch (t) {
    case NodeType::kFile:
      return "file";
    case NodeType::kDir:
      return "dir";
    case NodeType::kSymlink:
      return "symlink";
    case NodeType::kOther:
      return "other";
  }
  return "other";
}

static NodeType NodeTypeFromName(const std::string& s) {
  if (s == "file") return NodeType::kFile;
  if (s == "dir") return NodeType::kDir;
  if (s == "symlink") return NodeType::kSymlink;
  return NodeType::kOther;
}

namespace {

// Appends `s` (valid UTF-8) as a JSON string, escaped exactly as nlohmann::json::dump()
// escapes it, so trees written here and by earlier versions are byte for byte the same.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xF];
          out += kHex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

template <typename T>
void AppendInt(std::string& out, T value) {
  char buf[24];
  auto end = std::to_chars(buf, buf + sizeof buf, value).ptr;
  out.append(buf, end);
}

// The members of one JSON object, written in the order given: the callers give them in
// nlohmann's (sorted) order.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) { out_ += '{'; }
  ~ObjectWriter() { out_ += '}'; }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  std::string& Key(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += '"';
    out_ += key;
    out_ += "\":";
    return out_;
  }
  template <typename T>
  void Int(std::string_view key, T value) {
    AppendInt(Key(key), value);
  }
  void Hex(std::string_view key, ByteView bytes) { Key(key) += '"' + HexEncode(bytes) + '"'; }
  // Text that may not be UTF-8 (a Big5 file name, say): then the member holds a readable
  // stand-in and `key`_bytes the exact bytes in hex.
  void Text(std::string_view key, const std::string& value) {
    if (IsValidUtf8(value)) {
      AppendJsonString(Key(key), value);
      return;
    }
    AppendJsonString(Key(key), ToValidUtf8(value));
    Hex(std::string(key).append(kBytesSuffix), AsBytes(value));
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// The text at `key`, or the exact bytes at `key`_bytes when they are there.
std::string TextMember(const json& j, const std::string& key, bool required) {
  const std::string raw_key = key + std::string(kBytesSuffix);
  auto raw = j.find(raw_key);
  if (raw != j.end()) {
    auto bytes = HexDecode(raw->get<std::string>());
    if (!bytes.ok()) throw std::invalid_argument(raw_key + " is not hex");
    return std::string(AsString(*bytes));
  }
  return required ? j.at(key).get<std::string>() : j.value(key, "");
}

}  // namespace

Bytes SerializeTree(const Tree& tree) {
  // Written by hand rather than through nlohmann::json: building a json value per node
  // took a fifth of the directory walk's time in a backup of many small files.
  std::string out;
  out.reserve(64 + 320 * tree.nodes.size());
  {
    ObjectWriter t(out);
    t.Key("nodes") += '[';
    for (size_t i = 0; i < tree.nodes.size(); ++i) {
      const Node& n = tree.nodes[i];
      if (i > 0) out += ',';
      ObjectWriter j(out);
      if (n.type == NodeType::kFile) {
        j.Key("chunk_sizes") += '[';
        for (size_t c = 0; c < n.chunk_sizes.size(); ++c) {
          if (c > 0) out += ',';
          AppendInt(out, n.chunk_sizes[c]);
        }
        out += ']';
        j.Key("content") += '[';
        for (size_t c = 0; c < n.content.size(); ++c) {
          if (c > 0) out += ',';
          out += '"' + ToHex(n.content[c]) + '"';
        }
        out += ']';
      }
      j.Int("ctime_ns", n.ctime_ns);
      j.Int("device", n.device);
      j.Int("gid", n.gid);
      if (!n.group.empty()) j.Text("group", n.group);
      j.Int("inode", n.inode);
      if (n.type == NodeType::kSymlink) j.Text("link_target", n.link_target);
      j.Int("mode", n.mode);
      j.Int("mtime_ns", n.mtime_ns);
      j.Text("name", n.name);
      if (n.type == NodeType::kFile) j.Int("size", n.size);
      if (n.subtree) j.Hex("subtree", *n.subtree);
      AppendJsonString(j.Key("type"), NodeTypeName(n.type));
      j.Int("uid", n.uid);
      if (!n.user.empty()) j.Text("user", n.user);
    }
    out += ']';
    t.Int("version", 1);
  }
  return Bytes(out.begin(), out.end());
}

Result<Tree> ParseTree(ByteView data) {
  try {
    json t = json::parse(AsString(data));
    if (OptionalInt<int>(t, "version", 0) != 1)
      return Status::Corruption("unsupported tree version");
    Tree tree;
    for (const json& j : t.at("nodes")) {
      Node n;
      n.name = TextMember(j, "name", true);
      if (n.name.empty() || n.name == "." || n.name == ".." ||
          n.name.find('/') != std::string::npos)
        return Status::Corruption("tree holds an unsafe file name");
      n.type = NodeTypeFromName(j.at("type").get<std::string>());
      n.mode = OptionalInt<uint32_t>(j, "mode", 0);
      n.uid = OptionalInt<uint32_t>(j, "uid", 0);
      n.gid = OptionalInt<uint32_t>(j, "gid", 0);
      n.user = TextMember(j, "user", false);
      n.group = TextMember(j, "group", false);
      n.mtime_ns = OptionalInt<int64_t>(j, "mtime_ns", 0);
      n.ctime_ns = OptionalInt<int64_t>(j, "ctime_ns", 0);
      n.inode = OptionalInt<uint64_t>(j, "inode", 0);
      n.device = OptionalInt<uint64_t>(j, "device", 0);
      if (n.type == NodeType::kFile) {
        n.size = OptionalInt<uint64_t>(j, "size", 0);
        for (const json& c : j.at("content")) {
          TESSERA_ASSIGN_OR_RETURN(BlobId id, BlobIdFromHex(c.get<std::string>()));
          n.content.push_back(id);
        }
        n.chunk_sizes = IntArray<uint32_t>(j.at("chunk_sizes"), "chunk_sizes");
        if (n.chunk_sizes.size() != n.content.size())
          return Status::Corruption("tree node has mismatched chunk lists");
      }
      if (j.contains("subtree")) {
        TESSERA_ASSIGN_OR_RETURN(BlobId id, BlobIdFromHex(j["subtree"].get<std::string>()));
        n.subtree = id;
      }
      if (n.type == NodeType::kDir && !n.subtree)
        return Status::Corruption("directory node without subtree");
      n.link_target = TextMember(j, "link_target", false);
      tree.nodes.push_back(std::move(n));
    }
    return tree;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("tree is not valid: ") + e.what());
  }
}

Bytes SerializeSnapshot(const Snapshot& s) {
  const SnapshotSummary& m = s.summary;
  json j = {{"version", 1},
            {"time_ns", s.time_ns},
            {"hostname", s.hostname},
            {"username", s.username},
            {"paths", s.paths},
            {"tags", s.tags},
            {"parent", s.parent},
            {"tree", ToHex(s.tree)},
            {"degraded_stores", s.degraded_stores},
            {"summary",
             {{"files", m.files},
              {"dirs", m.dirs},
              {"symlinks", m.symlinks},
              {"bytes", m.bytes},
              {"files_unchanged", m.files_unchanged},
              {"bytes_read", m.bytes_read},
              {"new_blobs", m.new_blobs},
              {"new_bytes", m.new_bytes},
              {"stored_bytes", m.stored_bytes},
              {"seconds", m.seconds}}}};
  // Paths are the user's bytes and kept exactly; host, user and tag names are labels,
  // shown with U+FFFD for what is not UTF-8.
  if (!std::all_of(s.paths.begin(), s.paths.end(), IsValidUtf8)) {
    json shown = json::array(), exact = json::array();
    for (const std::string& p : s.paths) {
      shown.push_back(ToValidUtf8(p));
      exact.push_back(HexEncode(AsBytes(p)));
    }
    j["paths"] = std::move(shown);
    j[std::string("paths").append(kBytesSuffix)] = std::move(exact);
  }
  std::string out = JsonText(j);
  return Bytes(out.begin(), out.end());
}

Result<Snapshot> ParseSnapshot(ByteView data, const std::string& id) {
  try {
    json j = json::parse(AsString(data));
    if (OptionalInt<int>(j, "version", 0) != 1)
      return Status::Corruption("unsupported snapshot version");
    Snapshot s;
    s.id = id;
    s.time_ns = RequiredInt<int64_t>(j, "time_ns");
    s.hostname = j.value("hostname", "");
    s.username = j.value("username", "");
    s.paths = j.value("paths", std::vector<std::string>{});
    auto exact = j.find(std::string("paths").append(kBytesSuffix));
    if (exact != j.end()) {
      s.paths.clear();
      for (const json& p : *exact) {
        auto b = HexDecode(p.get<std::string>());
        if (!b.ok()) return Status::Corruption("snapshot " + id + " has a path that is not hex");
        s.paths.emplace_back(AsString(*b));
      }
    }
    s.tags = j.value("tags", std::vector<std::string>{});
    s.parent = j.value("parent", "");
    TESSERA_ASSIGN_OR_RETURN(s.tree, BlobIdFromHex(j.at("tree").get<std::string>()));
    if (j.contains("degraded_stores"))
      s.degraded_stores = IntArray<int>(j["degraded_stores"], "degraded_stores");
    const json& m = j.at("summary");
    s.summary.files = OptionalInt<uint64_t>(m, "files", 0);
    s.summary.dirs = OptionalInt<uint64_t>(m, "dirs", 0);
    s.summary.symlinks = OptionalInt<uint64_t>(m, "symlinks", 0);
    s.summary.bytes = OptionalInt<uint64_t>(m, "bytes", 0);
    s.summary.files_unchanged = OptionalInt<uint64_t>(m, "files_unchanged", 0);
    s.summary.bytes_read = OptionalInt<uint64_t>(m, "bytes_read", 0);
    s.summary.new_blobs = OptionalInt<uint64_t>(m, "new_blobs", 0);
    s.summary.new_bytes = OptionalInt<uint64_t>(m, "new_bytes", 0);
    s.summary.stored_bytes = OptionalInt<uint64_t>(m, "stored_bytes", 0);
    s.summary.seconds = m.value("seconds", 0.0);
    return s;
  } catch (const std::exception& e) {
    return Status::Corruption("snapshot " + id + " is not valid: " + e.what());
  }
}

}  // namespace tessera::vault
