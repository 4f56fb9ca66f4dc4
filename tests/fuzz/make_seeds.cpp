// Writes one well-formed example of each stored format that vault_parse_fuzz reads, so
// that libFuzzer starts from valid input instead of discovering JSON and binary headers
// byte by byte. Usage: make_seeds DIR
#include <cstdio>
#include <filesystem>
#include <string>

#include "base/files.hpp"
#include "vault/config.hpp"
#include "vault/keyring.hpp"
#include "vault/model.hpp"
#include "vault/repository.hpp"

using namespace tessera;
using namespace tessera::vault;

namespace {

BlobId Id(uint8_t fill) {
  BlobId id;
  id.fill(fill);
  return id;
}

Tree ExampleTree() {
  Tree t;
  Node dir;
  dir.name = "公文";
  dir.type = NodeType::kDir;
  dir.mode = 040750;
  dir.subtree = Id(1);
  Node file;
  file.name = "a.txt";
  file.mode = 0100640;
  file.user = "mail";
  file.size = 3000;
  file.mtime_ns = 1700000000123456789;
  file.content = {Id(2), Id(3)};
  file.chunk_sizes = {1000, 2000};
  Node link;
  link.name = "z";
  link.type = NodeType::kSymlink;
  link.link_target = "../a.txt";
  t.nodes = {dir, file, link};
  return t;
}

Snapshot ExampleSnapshot() {
  Snapshot s;
  s.time_ns = 1700000000000000000;
  s.hostname = "mail-1";
  s.username = "root";
  s.paths = {"/var/mail"};
  s.tags = {"daily"};
  s.parent = std::string(64, 'c');
  s.tree = Id(4);
  s.summary.files = 2;
  s.degraded_stores = {2};
  return s;
}

std::vector<IndexEntry> ExampleEntries() {
  std::vector<IndexEntry> out;
  uint32_t offset = 0;
  for (uint8_t i = 0; i < 3; ++i) {
    IndexEntry e;
    e.id = Id(static_cast<uint8_t>(10 + i));
    e.loc.pack_id = std::string(64, 'b');
    e.loc.type = i == 2 ? BlobType::kTree : BlobType::kData;
    e.loc.compressed = i == 1;
    e.loc.offset = offset;
    e.loc.length = 100u + i;
    e.loc.raw_length = 200u + i;
    offset += e.loc.length;
    out.push_back(e);
  }
  return out;
}

VaultConfig ExampleConfig() {
  VaultConfig c;
  c.vault_id = std::string(32, 'd');
  c.k = 2;
  c.n = 3;
  c.min_write = 3;
  c.stores = {"file:///srv/a", "file:///srv/b", "s3://bucket/vault?profile=hinet"};
  c.created_ns = 1700000000000000000;
  return c;
}

StoreDescriptor ExampleDescriptor() {
  StoreDescriptor d;
  d.vault_id = std::string(32, 'd');
  d.k = 2;
  d.n = 3;
  d.index = 1;
  d.share = Bytes(33, 7);
  d.key_check = Bytes(32, 9);
  return d;
}

// Two blob bodies and their trailer (docs/vault-format.md, 4.1).
Bytes ExamplePack() {
  const uint32_t lengths[] = {10, 20};
  Bytes pack(lengths[0] + lengths[1], 0x5a);
  for (uint32_t i = 0; i < 2; ++i) {
    const BlobId id = Id(static_cast<uint8_t>(20 + i));
    pack.push_back(static_cast<uint8_t>(i));  // a data blob, then a tree blob
    pack.push_back(static_cast<uint8_t>(i));  // the second one compressed
    pack.insert(pack.end(), id.begin(), id.end());
    PutU32(pack, lengths[i]);
    PutU32(pack, lengths[i] + 5);
  }
  PutU32(pack, 2);
  for (char c : std::string("TPK1")) pack.push_back(static_cast<uint8_t>(c));
  return pack;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  const std::pair<const char*, Bytes> seeds[] = {
      {"tree", SerializeTree(ExampleTree())},
      {"snapshot", SerializeSnapshot(ExampleSnapshot())},
      {"index", SerializeIndex(ExampleEntries(), {std::string(64, 'e')})},
      {"config", SerializeConfig(ExampleConfig())},
      {"descriptor", SerializeDescriptor(ExampleDescriptor())},
      {"pack", ExamplePack()},
  };
  for (const auto& [name, data] : seeds) {
    Status st = WriteFileAtomic((dir / name).string(), data);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return 1;
    }
  }
  return 0;
}
