// libFuzzer target for the parsers of the vault's stored formats: trees, snapshots, index
// objects, pack trailers, the configuration and the store descriptors. The same input goes
// to every parser. Besides not crashing (and no UB), whatever a parser accepts must survive
// a round trip: serialised again it parses again, and a second serialisation is identical.
//
// Build (from the repository root, after building the static libraries in build/h-core).
// The sources that hold the parsers are compiled with clang so that libFuzzer sees their
// coverage; the rest comes from the GCC-built libraries:
//
//   B=build/h-core/src
//   clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
//     -fno-sanitize-recover=undefined -Isrc \
//     tests/fuzz/vault_parse_fuzz.cpp src/vault/model.cpp src/vault/config.cpp \
//     src/vault/keyring.cpp src/vault/repository.cpp \
//     $B/vault/libtessera_vault.a $B/store/libtessera_store.a \
//     $B/erasure/libtessera_erasure.a $B/crypto/libtessera_crypto.a \
//     $B/base/libtessera_base.a -lzstd -lisal -lssl -lcrypto -lcurl -lspdlog -lfmt -lpthread \
//     -o vault_parse_fuzz
//   ./vault_parse_fuzz -max_total_time=60 -max_len=4096 corpus/
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "vault/config.hpp"
#include "vault/keyring.hpp"
#include "vault/model.hpp"
#include "vault/repository.hpp"

namespace {

using namespace tessera;
using namespace tessera::vault;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// A status that says nothing is a bug too: operators act on the message.
template <typename T>
bool Accepted(const Result<T>& r) {
  if (!r.ok()) Check(!r.status().message().empty());
  return r.ok();
}

void FuzzTree(ByteView data) {
  auto tree = ParseTree(data);
  if (!Accepted(tree)) return;
  Bytes once = SerializeTree(*tree);
  auto again = ParseTree(once);
  Check(again.ok());
  Check(again->nodes.size() == tree->nodes.size());
  Check(SerializeTree(*again) == once);
}

void FuzzSnapshot(ByteView data) {
  const std::string id(64, 'a');
  auto snap = ParseSnapshot(data, id);
  if (!Accepted(snap)) return;
  Check(snap->id == id);
  Bytes once = SerializeSnapshot(*snap);
  auto again = ParseSnapshot(once, id);
  Check(again.ok());
  Check(SerializeSnapshot(*again) == once);
}

bool SameEntries(const std::vector<IndexEntry>& a, const std::vector<IndexEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const BlobLocation &x = a[i].loc, &y = b[i].loc;
    if (a[i].id != b[i].id || x.pack_id != y.pack_id || x.type != y.type ||
        x.compressed != y.compressed || x.offset != y.offset || x.length != y.length ||
        x.raw_length != y.raw_length)
      return false;
  }
  return true;
}

void FuzzIndex(ByteView data) {
  std::vector<std::string> supersedes;
  auto entries = ParseIndex(data, &supersedes);
  if (!Accepted(entries)) return;
  for (const std::string& s : supersedes) Check(s.size() == 64);
  Bytes once = SerializeIndex(*entries, supersedes);
  std::vector<std::string> supersedes2;
  auto again = ParseIndex(once, &supersedes2);
  Check(again.ok());
  Check(supersedes2 == supersedes);
  Check(SameEntries(*again, *entries));
  Check(SerializeIndex(*again, supersedes2) == once);
  // Without the out-parameter, too.
  Check(ParseIndex(data, nullptr).ok());
}

void FuzzPackTrailer(ByteView data) {
  const std::string pack_id(64, 'b');
  auto entries = ParsePackTrailer(data, pack_id);
  if (!Accepted(entries)) return;
  // Every blob lies inside the pack, before the trailer, one after the other.
  uint64_t end = 0;
  for (const IndexEntry& e : *entries) {
    Check(e.loc.pack_id == pack_id);
    Check(e.loc.offset == end);
    end += e.loc.length;
  }
  Check(end <= data.size());
}

void FuzzConfig(ByteView data) {
  auto config = ParseConfig(data);
  if (!Accepted(config)) return;
  Check(ValidateConfig(*config).ok());
  Bytes once = SerializeConfig(*config);
  auto again = ParseConfig(once);
  Check(again.ok());
  Check(SerializeConfig(*again) == once);
}

void FuzzDescriptor(ByteView data) {
  auto d = ParseDescriptor(data);
  if (!Accepted(d)) return;
  Check(d->k >= 1 && d->k <= d->n && d->index >= 0 && d->index < d->n);
  Bytes once = SerializeDescriptor(*d);
  auto again = ParseDescriptor(once);
  Check(again.ok());
  Check(SerializeDescriptor(*again) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView input(data, size);
  FuzzTree(input);
  FuzzSnapshot(input);
  FuzzIndex(input);
  FuzzPackTrailer(input);
  FuzzConfig(input);
  FuzzDescriptor(input);
  return 0;
}
