#include "vault/model.hpp"
#include "base/json_fields.hpp"

#include <nlohmann/json.hpp>

namespace tessera::vault {

using nlohmann::json;

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

Bytes SerializeTree(const Tree& tree) {
  json nodes = json::array();
  for (const Node& n : tree.nodes) {
    json j = {{"name", n.name},         {"type", NodeTypeName(n.type)},
              {"mode", n.mode},         {"uid", n.uid},
              {"gid", n.gid},           {"mtime_ns", n.mtime_ns},
              {"ctime_ns", n.ctime_ns}, {"inode", n.inode},
              {"device", n.device}};
    if (!n.user.empty()) j["user"] = n.user;
    if (!n.group.empty()) j["group"] = n.group;
    if (n.type == NodeType::kFile) {
      j["size"] = n.size;
      json content = json::array();
      for (const BlobId& id : n.content) content.push_back(ToHex(id));
      j["content"] = std::move(content);
      j["chunk_sizes"] = n.chunk_sizes;
    }
    if (n.subtree) j["subtree"] = ToHex(*n.subtree);
    if (n.type == NodeType::kSymlink) j["link_target"] = n.link_target;
    nodes.push_back(std::move(j));
  }
  json t = {{"version", 1}, {"nodes", std::move(nodes)}};
  std::string s = t.dump();
  return Bytes(s.begin(), s.end());
}

Result<Tree> ParseTree(ByteView data) {
  try {
    json t = json::parse(AsString(data));
    if (OptionalInt<int>(t, "version", 0) != 1)
      return Status::Corruption("unsupported tree version");
    Tree tree;
    for (const json& j : t.at("nodes")) {
      Node n;
      n.name = j.at("name").get<std::string>();
      if (n.name.empty() || n.name == "." || n.name == ".." ||
          n.name.find('/') != std::string::npos)
        return Status::Corruption("tree holds an unsafe file name");
      n.type = NodeTypeFromName(j.at("type").get<std::string>());
      n.mode = OptionalInt<uint32_t>(j, "mode", 0);
      n.uid = OptionalInt<uint32_t>(j, "uid", 0);
      n.gid = OptionalInt<uint32_t>(j, "gid", 0);
      n.user = j.value("user", "");
      n.group = j.value("group", "");
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
      n.link_target = j.value("link_target", "");
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
  std::string out = j.dump();
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
